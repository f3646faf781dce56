//! What is read at each scrape rather than recorded: the runtime's panics and supervised
//! tasks, and the rate limiter's effective rate and why it is what it is.

use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use splashsync_runtime::supervisor::Health;

/// What the runtime knows, read at each scrape: panics, and each supervised task's
/// restarts and readiness.
#[derive(Debug)]
pub(super) struct RuntimeCollector {
    pub(super) health: Health,
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let panics = ConstCounter::new(splashsync_runtime::telemetry::panics());
        panics.encode(encoder.encode_descriptor(
            "splashsync_worker_panics",
            "Panics in any thread or task of this worker (each one is also logged)",
            None,
            panics.metric_type(),
        )?)?;
        let tasks = self.health.snapshot();
        let mut restarts = encoder.encode_descriptor(
            "splashsync_worker_task_restarts",
            "Restarts of a supervised task after it failed, panicked or ended",
            None,
            MetricType::Counter,
        )?;
        for (task, state) in &tasks {
            let labels = [("task", *task)];
            ConstCounter::new(state.restarts).encode(restarts.encode_family(&labels)?)?;
        }
        let mut ready = encoder.encode_descriptor(
            "splashsync_worker_task_ready",
            "1 while a supervised task runs, 0 while it waits to be restarted",
            None,
            MetricType::Gauge,
        )?;
        for (task, state) in &tasks {
            let labels = [("task", *task)];
            let up = i64::from(state.problem.is_none());
            ConstGauge::new(up).encode(ready.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The rate limiter as a scrape sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateReading {
    /// Calls per second allowed now (infinite: no limit configured).
    pub effective: f64,
    /// This worker's share of the team's limit, calls per second.
    pub share: f64,
    /// Seconds left of the pause a 429's Retry-After imposed (0: none).
    pub paused: f64,
}

impl RateReading {
    /// Why the effective rate is what it is: every state, with the current one set.
    fn states(&self) -> [(&'static str, bool); 4] {
        let unlimited = !self.effective.is_finite();
        let paused = !unlimited && self.paused > 0.0;
        // AIMD climbs back by 1/50 of the share per success: anything below the share
        // is a 429's halving not yet recovered.
        let reduced = !unlimited && !paused && self.effective < self.share * 0.999;
        [
            ("unlimited", unlimited),
            ("paused_after_429", paused),
            ("reduced_after_429", reduced),
            ("full_share", !unlimited && !paused && !reduced),
        ]
    }

    /// The current state of [`RateReading::states`]: why the rate is what it is.
    pub fn state(&self) -> &'static str {
        self.states()
            .into_iter()
            .find_map(|(name, on)| on.then_some(name))
            .unwrap_or("full_share")
    }
}

/// Where the collector reads the limiter from, once the worker has built it.
#[derive(Clone, Default)]
pub(super) struct RateSource(Arc<OnceLock<Reader>>);

type Reader = Box<dyn Fn() -> RateReading + Send + Sync>;

impl RateSource {
    /// Reads through `read` from now on (the first reader given stays).
    pub(super) fn set(&self, read: Reader) {
        let _ = self.0.set(read);
    }

    fn read(&self) -> Option<RateReading> {
        self.0.get().map(|read| read())
    }
}

impl std::fmt::Debug for RateSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RateSource")
            .field(&self.0.get().map(|_| "watching"))
            .finish()
    }
}

/// The effective rate, the share, the pause left, and the limiter's state.
#[derive(Debug)]
pub(super) struct RateCollector {
    pub(super) source: RateSource,
}

impl Collector for RateCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(r) = self.source.read() else {
            return Ok(());
        };
        let mut state = encoder.encode_descriptor(
            "splashsync_worker_rate_limit_state",
            "Why the effective rate is what it is: 1 for the current state (full_share, reduced_after_429, paused_after_429, unlimited), 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        for (name, on) in r.states() {
            let labels = [("state", name)];
            ConstGauge::new(i64::from(on)).encode(state.encode_family(&labels)?)?;
        }
        if !r.effective.is_finite() {
            return Ok(());
        }
        for (name, help, value) in [
            (
                "splashsync_worker_rate_limit_effective_per_minute",
                "Splashtop calls per minute this worker allows itself now: its share, halved by each 429 and climbing back with each success",
                r.effective * 60.0,
            ),
            (
                "splashsync_worker_rate_limit_share_per_minute",
                "This worker's share of the team's limit (SPLASHTOP_RATE_LIMIT_PER_MINUTE x 0.97 / live workers), calls per minute",
                r.share * 60.0,
            ),
            (
                "splashsync_worker_rate_limit_paused_seconds",
                "Seconds left of the pause a 429's Retry-After imposed on every call (0: none)",
                r.paused,
            ),
        ] {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}
