//! A partition's consumer: the jobs of its window handled one at a time, in order, the
//! oldest first; each one applied (or skipped, or dead-lettered) and then acked, or acked
//! unapplied when a newer job of its key is already in the window behind it.
//!
//! After a hand-back the partition catches up one job at a time ([`Mode::CatchUp`]): on
//! RabbitMQ 3.x every return of a job counts towards the quorum queue's delivery limit,
//! so a crawling partition that handed back full windows again and again would push the
//! jobs at their back to the limit, dead-lettered without ever being attempted. With a
//! prefetch of one, the job delivered is the one handled: no window to hand back. Once the
//! jobs handed back are handled, the partition is consumed with its window again.

use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use lapin::options::BasicCancelOptions;
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
    /// to the queue, in order, `jobs` jobs; the partition catches up on a new channel.
    HandedBack {
        /// How many jobs went back.
        jobs: usize,
    },
    /// It caught up after a hand-back: the partition is consumed with its window again.
    CaughtUp,
}

/// How a partition is consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// With the prefetch as its window.
    Window,
    /// One job at a time (a prefetch of one) until this many jobs are handled, after a
    /// hand-back; no job is handed back meanwhile.
    CatchUp(usize),
}

impl Mode {
    /// The consumer's prefetch in this mode.
    pub(super) fn prefetch(self, window: u16) -> u16 {
        match self {
            Mode::Window => window,
            Mode::CatchUp(_) => 1,
        }
    }
}

pub(super) async fn consume(
    rt: Arc<Runtime>,
    channel: Channel,
    mut consumer: lapin::Consumer,
    dead: Arc<Channel>,
    mut stop: watch::Receiver<bool>,
    mode: Mode,
) -> anyhow::Result<Ended> {
    let mut window = Window::new(rt.coalesce);
    let mut left = match mode {
        Mode::Window => None,
        Mode::CatchUp(jobs) => Some(jobs.max(1)),
    };
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
            let jobs = window.len();
            let _ = channel.close(200, "window handed back".into()).await;
            return Ok(Ended::HandedBack { jobs });
        }
        let last = left.is_some_and(|n| n <= 1);
        if last && !window.is_empty() {
            // No delivery after the last job of the catch-up: closing the channel then
            // returns nothing, so no job's delivery count grows.
            let tag = consumer.tag();
            channel
                .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
                .await?;
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
        left = left.map(|n| n.saturating_sub(1));
        if last {
            let _ = channel.close(200, "caught up".into()).await;
            return Ok(Ended::CaughtUp);
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
