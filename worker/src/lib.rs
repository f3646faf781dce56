//! splashsync's worker: applies provisioning jobs to the Splashtop team API.
//!
//! # Layout
//! - [`config`]: settings from the environment and flags, validated at start-up.
//! - [`splashtop`]: the `splashtop-api` crate re-exported: the Splashtop team API
//!   (`docs/splashtop-api.md`) behind the [`splashtop::TeamApi`] trait, and its HTTP client.
//! - [`limiter`]: the per-team token bucket every API call takes a token from, and the
//!   cap on Splashtop's Retry-After.
//! - [`retry`]: retries in place on backon: backoff with jitter, Retry-After, the retry
//!   budget, a stop that ends every wait of a job (its own and the limiter's).
//! - [`state`]: what all workers share ([`state::StateStore`]): applied versions, account
//!   incarnations, group intents, heartbeats; in Redis, or in memory for unit tests.
//! - [`store`]: the Redis store under its former path.
//! - [`floors`]: after a Redis loss, the directory's word on jobs committed before it.
//! - [`apply`]: converging one user or group to the desired state a job carries.
//! - [`rebalance`]: which partitions each live worker consumes.
//! - `partitions`: the heartbeat that decides which partitions this worker owns, and the
//!   session that consumes them, each by a task, a job at a time.
//! - `handle`: one delivery: version check, retries, dead letters, outcome events, ack.
//! - `outcome`: the outcome event of each attempt, for the receiver's audit log.
//! - `presence`: this worker's heartbeat to the receiver (id, host, pid, partitions held)
//!   for its workers page.
//! - [`metrics`]: the Prometheus metrics, a leaf every other part records into.
//! - `ops`: `/healthz`, `/readyz` and `/metrics` on the worker's listener, with limits.
//! - [`tenants`]: a worker per tenant of a tenants file, each with its own prefix,
//!   Splashtop client, rate bucket and Redis prefix.
//! - [`consumer`]: the worker process: its settings, its supervised tasks (the RabbitMQ
//!   session with the tenant's claim on the prefix, the heartbeat), graceful stop.

pub mod apply;
pub mod config;
pub mod consumer;
pub mod floors;
mod handle;
pub mod limiter;
pub mod metrics;
mod ops;
mod outcome;
mod partitions;
mod presence;
pub mod rebalance;
pub mod retry;
pub use splashtop_api as splashtop;
pub mod state;
pub mod tenants;
#[cfg(test)]
mod testkit;

/// The Redis store under the path the tests crate and older callers use.
pub mod store {
    pub use crate::state::RedisStore as Store;
}
