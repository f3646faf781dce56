//! A partition's consumer: the jobs of its window handled one at a time, in order, the
//! oldest first; each one applied (or skipped, or dead-lettered) and then acked, or acked
//! unapplied when a newer job of its key is already in the window behind it.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use lapin::Channel;
use tokio::sync::watch;

use super::window::{self, Next, Window};
use crate::handle::Runtime;

/// Why a partition's consumer ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Asked to stop: the partition was given up or the session is ending.
    Stopped,
    /// Its window was held long enough to near RabbitMQ's consumer timeout and went back
    /// to the queue, in order; the partition is consumed again on a new channel.
    HandedBack,
}

pub(super) async fn consume(
    rt: Arc<Runtime>,
    channel: Channel,
    mut consumer: lapin::Consumer,
    dead: Arc<Channel>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Ended> {
    let mut window = Window::new(rt.coalesce);
    let hold = rt
        .window_hold
        .unwrap_or_else(|| window::hold_limit(rt.retry.budget));
    loop {
        if window.is_empty() {
            let delivery = tokio::select! {
                // Stop only between jobs: the in-flight one finishes and is acked.
                biased;
                _ = stop.wait_for(|s| *s) => None,
                d = consumer.next() => d,
            };
            if !take(&channel, &stop, &mut window, delivery).await? {
                return Ok(Ended::Stopped);
            }
            // Let the deliveries that came in the same burst reach the consumer.
            tokio::task::yield_now().await;
        }
        // Everything already delivered joins the window, without waiting for more.
        while let Some(delivery) = consumer.next().now_or_never() {
            if !take(&channel, &stop, &mut window, delivery).await? {
                return Ok(Ended::Stopped);
            }
        }
        if *stop.borrow() {
            // Closing the channel returns every job of the window to its queue, in order.
            let _ = channel.close(200, "partition released".into()).await;
            return Ok(Ended::Stopped);
        }
        if window.oldest_held().is_some_and(|held| held > hold) {
            // Slow going (an outage, a tight rate limit): hand the window back before
            // RabbitMQ's consumer timeout would close the channel mid-job.
            tracing::info!(
                jobs = window.len(),
                "window held too long; handing it back to the queue"
            );
            rt.metrics.window_handed_back();
            let _ = channel.close(200, "window handed back".into()).await;
            return Ok(Ended::HandedBack);
        }
        let result = match window.next() {
            None => continue,
            Some(Next::Handle { delivery, job }) => rt.handle(&delivery, job, &dead, &stop).await,
            Some(Next::Superseded { delivery, job, by }) => {
                rt.supersede(&delivery, &job, &by, &dead).await
            }
        };
        if let Err(e) = result {
            let _ = channel.close(200, "job not acked".into()).await;
            return Err(e);
        }
    }
}

/// Adds a delivery to the window; `Ok(false)` when the partition stopped (the channel is
/// closed: every unacked job goes back to its queue), an error when the consumer ended
/// without being asked to.
async fn take(
    channel: &Channel,
    stop: &watch::Receiver<bool>,
    window: &mut Window,
    delivery: Option<lapin::Result<lapin::message::Delivery>>,
) -> anyhow::Result<bool> {
    match delivery {
        Some(Ok(delivery)) => {
            window.push(delivery);
            Ok(true)
        }
        None => {
            // Closing the channel returns the window's jobs to their queue.
            let _ = channel.close(200, "partition released".into()).await;
            if *stop.borrow() {
                Ok(false)
            } else {
                Err(anyhow::anyhow!(
                    "the broker ended the consumer (queue deleted, or the channel closed)"
                ))
            }
        }
        Some(Err(e)) => {
            let _ = channel.close(200, "consumer failed".into()).await;
            Err(e.into())
        }
    }
}
