//! splashsync's worker: applies provisioning jobs to the Splashtop team API.
//!
//! # Layout
//! - [`config`]: settings from the environment and flags, validated at start-up.
//! - [`splashtop`]: the `splashtop-api` crate re-exported: the Splashtop team API
//!   (`docs/splashtop-api.md`) behind the [`splashtop::TeamApi`] trait, and its HTTP client.
//! - [`limiter`]: the per-team token bucket every API call takes a token from.
//! - [`retry`]: backoff with full jitter, Retry-After and the retry budget.
//! - [`store`]: state shared by all workers in Redis: applied versions, group intents,
//!   heartbeats.
//! - [`apply`]: converging one user or group to the desired state a job carries.
//! - [`rebalance`]: which partitions each live worker consumes.
//! - [`consumer`]: the worker process: heartbeat, owned partitions, graceful stop.
//! - `partition`: one partition queue consumed by a task, a job at a time.
//! - `handle`: one delivery: version check, retries, dead letters, ack.
//! - `outcome`: the outcome event of each attempt, for the receiver's audit log.
//! - [`metrics`]: the Prometheus metrics every part records into.
//! - `ops`: `/healthz`, `/readyz` and `/metrics` on the worker's listener.

pub mod apply;
pub mod config;
pub mod consumer;
mod handle;
pub mod limiter;
pub mod metrics;
mod ops;
mod outcome;
mod partition;
pub mod rebalance;
pub mod retry;
pub use splashtop_api as splashtop;
pub mod store;
