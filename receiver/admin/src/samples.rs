//! Backlog and throughput sampled every few seconds and kept for a day, in memory:
//! the console's chart and drain rate read them. A restart starts afresh.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use splashsync_directory::audit::AuditStore;

use crate::broker::BrokerProbe;

/// How many jobs have finished (applied, skipped or dead-lettered) since start: the
/// intake counts them, the sampler turns the count into a drain rate.
pub trait Finished: Send + Sync {
    /// The count so far.
    fn finished_jobs(&self) -> u64;
}

/// How long samples are kept: the console's longest chart window (at the default 15 s
/// interval, 5,760 samples of 24 bytes).
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sample {
    /// Unix seconds.
    pub at: i64,
    /// Jobs waiting: partition queue messages plus unpublished outbox jobs.
    pub backlog: u64,
    /// Jobs finished per minute since the previous sample.
    pub throughput_per_minute: f64,
    /// The cumulative finished count (to compute the next throughput).
    #[serde(skip)]
    finished: u64,
}

/// The last day of samples.
#[derive(Debug, Default)]
pub struct Samples {
    inner: Mutex<VecDeque<Sample>>,
}

impl Samples {
    /// Appends a sample, dropping those older than [`WINDOW`].
    pub fn push(&self, at: i64, backlog: u64, finished: u64) {
        let Ok(mut samples) = self.inner.lock() else {
            return;
        };
        let throughput = samples.back().map_or(0.0, |prev: &Sample| {
            let dt = (at - prev.at).max(1) as f64;
            finished.saturating_sub(prev.finished) as f64 * 60.0 / dt
        });
        samples.push_back(Sample {
            at,
            backlog,
            throughput_per_minute: throughput,
            finished,
        });
        while samples
            .front()
            .is_some_and(|s| at - s.at > WINDOW.as_secs() as i64)
        {
            samples.pop_front();
        }
    }

    /// Every sample kept, oldest first.
    pub fn all(&self) -> Vec<Sample> {
        self.inner
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Jobs finished per minute over the last `over` (from the samples in it).
    pub fn drain_rate(&self, over: Duration) -> f64 {
        let samples = self.all();
        let Some(last) = samples.last() else {
            return 0.0;
        };
        let since = last.at - over.as_secs() as i64;
        let first = samples.iter().find(|s| s.at >= since).unwrap_or(last);
        let dt = (last.at - first.at) as f64;
        if dt <= 0.0 {
            return last.throughput_per_minute;
        }
        last.finished.saturating_sub(first.finished) as f64 * 60.0 / dt
    }
}

/// Records a sample every `every` until `shutdown` resolves.
pub async fn run_sampler(
    samples: Arc<Samples>,
    broker: Arc<BrokerProbe>,
    audit: Arc<dyn AuditStore>,
    finished: Arc<dyn Finished>,
    every: Duration,
    shutdown: impl Future<Output = ()> + Send,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut shutdown => return,
        }
        let queued: u64 = match broker.depths().await {
            Ok(depths) => depths
                .iter()
                .filter(|d| d.partition.is_some())
                .map(|d| u64::from(d.messages))
                .sum(),
            Err(e) => {
                tracing::debug!(error = %e, "sample without queue depths");
                0
            }
        };
        let pending = audit
            .outbox_stats()
            .await
            .map_or(0, |s| s.pending.max(0) as u64);
        let at = time::OffsetDateTime::now_utc().unix_timestamp();
        samples.push(at, queued + pending, finished.finished_jobs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_the_finished_delta_per_minute_and_old_samples_go() {
        let s = Samples::default();
        s.push(0, 10, 0);
        s.push(30, 5, 15);
        let all = s.all();
        assert_eq!(all[1].throughput_per_minute, 30.0);
        assert_eq!(s.drain_rate(Duration::from_secs(300)), 30.0);
        // Kept for the longest chart window (24 h), then dropped.
        s.push(4000, 0, 15);
        assert_eq!(s.all().len(), 3);
        s.push(4000 + WINDOW.as_secs() as i64, 0, 15);
        assert_eq!(s.all().len(), 2, "the sample exactly a window old stays");
    }
}
