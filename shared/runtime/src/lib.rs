//! What every splashsync binary runs on.
//!
//! # Layout
//! - [`telemetry`]: tracing set-up, human-readable or JSON.
//! - [`shutdown`]: the SIGTERM / Ctrl-C future every binary passes to its `run`.

pub mod shutdown;
pub mod telemetry;
