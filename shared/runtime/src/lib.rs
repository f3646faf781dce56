//! What every splashsync binary runs on.
//!
//! # Layout
//! - [`telemetry`]: tracing set-up, human-readable or JSON.
//! - [`exposition`]: `/metrics` as OpenMetrics or Prometheus text 0.0.4, as the scraper
//!   asks; the build-info labels.
//! - [`shutdown`]: the SIGTERM / Ctrl-C future every binary passes to its `run`.
//! - [`supervisor`]: long-running tasks restarted with backoff when they fail or panic, and
//!   the [`supervisor::Health`] that `/readyz` reports from.
//! - [`http`]: serving an axum router with header/body/idle timeouts, a connection cap and
//!   the peer address.
//! - [`throttle`]: failed attempts counted per source address in a bounded map.

pub mod exposition;
pub mod http;
pub mod shutdown;
pub mod supervisor;
pub mod telemetry;
pub mod throttle;
