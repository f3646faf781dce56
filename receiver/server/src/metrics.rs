//! The receiver's metrics registry, served at `/metrics` in the OpenMetrics text format.
//!
//! A leaf: it knows no component. Each component (the SCIM request tracker, the intake,
//! the store gauges) registers its own metrics here when it is built.

use std::sync::Mutex;

use prometheus_client::registry::{Metric, Registry};

/// The registry every component registers into.
#[derive(Debug, Default)]
pub struct Metrics {
    registry: Mutex<Registry>,
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
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
