//! `splashtop-sim`: an in-memory simulator of the Splashtop team API exactly as
//! `docs/splashtop-api.md` defines it, with the team rules Splashtop enforces and
//! injectable faults (5xx, 429, rate limits, latency, hangs, connection resets). Its wire
//! types are `splashtop-api`'s, the same the worker's client speaks.
//!
//! # Layout
//!
//! Layered, each module using only those above it in this list:
//!
//! - `domain`: the team and Splashtop's rules, pure: users, groups, the default group,
//!   the checks in the contract's order, the error each one answers, and the log of
//!   applied operations ([`LogEntry`]).
//! - [`faults`]: [`Faults`] and the decision, without HTTP, of what happens to one API
//!   request (rate-limit window, random faults) with the request counters.
//! - [`config`]: [`SimConfig`] (team rules and start-up faults) and the binary's
//!   clap/environment parsing ([`Cli`]), validated at start.
//! - `sim`: the shared state: the mutex-protected team, log and faults (the lock is never
//!   held across an `.await`), and the shutdown signal.
//! - `http`: the axum router: the fault gate, the team API under `/api/open/v1`, the
//!   unauthenticated control endpoints under `/_sim` and `/healthz`, strict body parsing.
//! - `server`: [`serve`], [`spawn`] and [`SimHandle`] for in-process tests.

pub mod config;
mod domain;
pub mod faults;
mod http;
mod server;
mod sim;

pub use config::{Cli, LogFormat, SimConfig};
pub use domain::LogEntry;
pub use faults::Faults;
pub use server::{serve, spawn, SimHandle};
