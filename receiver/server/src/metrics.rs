//! The receiver's metrics registry, served at `/metrics` as OpenMetrics or Prometheus
//! text 0.0.4 (as the scrape asks: `splashsync_runtime::exposition`), and the process's
//! [`Health`].
//!
//! A leaf: it knows no component. Each component (the SCIM request tracker, the intake,
//! the store gauges) registers its own metrics here when it is built. The registry also
//! keeps the [`Health`] the supervised tasks report into, because both ends read it: the
//! tasks' restarts and readiness are exported here, and `/readyz` answers from it.

use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Metric, Registry};
use splashsync_runtime::exposition::{build_info_gauge, BUILD_INFO, BUILD_INFO_HELP};
use splashsync_runtime::supervisor::Health;

/// The registry every component registers into.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    health: Health,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let health = Health::new();
        registry.register(BUILD_INFO, BUILD_INFO_HELP, build_info_gauge());
        registry.register_collector(Box::new(TaskCollector {
            health: health.clone(),
        }));
        Self {
            registry: Mutex::new(registry),
            health,
        }
    }
}

impl Metrics {
    /// A registry with only the supervised tasks' and panics' metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// The readiness of the supervised tasks.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Registers `metric` under `name` with its help text.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut registry) = self.registry.lock() {
            registry.register(name, help, metric);
        }
    }

    /// Everything registered, encoded.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let registry = self.registry.lock().map_err(|_| std::fmt::Error)?;
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabels {
    task: String,
}

/// Reads [`Health`] and the panic count at scrape time: both live outside the registry.
#[derive(Debug)]
struct TaskCollector {
    health: Health,
}

impl Collector for TaskCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let tasks = self.health.snapshot();
        let restarts = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "splashsync_task_restarts",
            "Restarts of a supervised task (relay, intake, sampler) after it failed or panicked",
            None,
            restarts.metric_type(),
        )?;
        for (task, state) in &tasks {
            let labels = TaskLabels {
                task: (*task).to_string(),
            };
            ConstCounter::new(state.restarts).encode(family.encode_family(&labels)?)?;
        }
        let up = ConstGauge::new(0i64);
        let mut family = encoder.encode_descriptor(
            "splashsync_task_up",
            "1 while a supervised task runs, 0 while it is down (see /readyz for why)",
            None,
            up.metric_type(),
        )?;
        for (task, state) in &tasks {
            let labels = TaskLabels {
                task: (*task).to_string(),
            };
            ConstGauge::new(i64::from(state.problem.is_none()))
                .encode(family.encode_family(&labels)?)?;
        }
        let panics = ConstCounter::new(splashsync_runtime::telemetry::panics());
        panics.encode(encoder.encode_descriptor(
            "splashsync_panics",
            "Panics of any thread or task of this process",
            None,
            panics.metric_type(),
        )?)
    }
}
