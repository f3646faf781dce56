//! splashsync's worker: applies provisioning jobs to the Splashtop team API.
//!
//! # Layout
//! - [`config`]: settings from the environment and flags, validated at start-up.
//! - [`splashtop`]: the one small module that speaks the Splashtop team API
//!   (`docs/splashtop-api.md`), behind the [`splashtop::TeamApi`] trait.
//! - [`apply`]: converging one user or group to the desired state a job carries.
//! - [`consumer`]: one consumer per partition queue, manual acks, graceful stop.

pub mod apply;
pub mod config;
pub mod consumer;
pub mod splashtop;
