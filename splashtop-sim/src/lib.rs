//! `splashtop-sim`: an in-memory simulator of the Splashtop team API exactly as
//! `docs/splashtop-api.md` defines it, with the team rules Splashtop enforces and
//! injectable faults (5xx, 429, rate limits, latency, hangs, connection resets).
//!
//! # Layout
//!
//! - [`config`]: [`SimConfig`] (team rules and start-up faults) and the binary's
//!   clap/environment parsing ([`Cli`]), validated at start.
//! - `state`: the team held in memory (users, groups, the default group) and its user
//!   operations; `state::groups` holds the group operations and `state::rules`
//!   Splashtop's rules (SSO methods, allowed domains, seats, group limit, foreign
//!   accounts, computer groups).
//! - `routes`: the axum router: the team API under `/api/open/v1` (`routes::api`),
//!   the unauthenticated control endpoints under `/_sim` and `/healthz`
//!   (`routes::control`), and strict JSON body parsing (`routes::body`).
//! - [`faults`]: [`Faults`] and the middleware in front of the API that checks the
//!   token, adds latency, enforces the rate limit and injects faults.
//! - [`log`]: the log of applied operations ([`LogEntry`]) and request counters.
//! - `sim`: the shared state: the mutex-protected team, log, counters, faults and
//!   rate-limit window (the lock is never held across an `.await`), and the shutdown signal.
//! - `error`: the API error type and its `{"error":{"code","message"}}` body.
//! - `server`: [`serve`], [`spawn`] and [`SimHandle`] for in-process tests.

pub mod config;
mod error;
pub mod faults;
pub mod log;
mod routes;
mod server;
mod sim;
mod state;

pub use config::{Cli, LogFormat, SimConfig};
pub use faults::Faults;
pub use log::LogEntry;
pub use server::{serve, spawn, SimHandle};
