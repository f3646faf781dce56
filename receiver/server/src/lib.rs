//! splashsync's receiver: the SCIM 2.0 service provider Okta and Entra ID talk to.
//!
//! It answers every call at once from its own durable directory (`splashsync-directory`)
//! and, in the same store transaction, writes the provisioning jobs that the outbox relay
//! then publishes to RabbitMQ (the transactional outbox; docs/DESIGN.md, invariant 1).
//! The operators' API and console (`splashsync-admin`) are merged into its router.
//!
//! # Layout
//! - [`config`]: settings from the environment and flags, validated at start-up.
//! - [`app`]: [`app::Application`]: opens the store, claims the AMQP prefix, starts the
//!   relay, the intake and the sampler under their supervisors, serves the router
//!   (with its limits, error shapes and auth throttle) under the listener's limits;
//!   runs until stopped.
//! - [`routes`]: the one router constructor (SCIM, admin, ops, every layer) and the SCIM
//!   endpoints under `/scim/v2`.
//! - [`auth`]: the SCIM bearer-token middleware: the token opens its tenant's state.
//! - [`state`]: [`state::AppState`], what every SCIM handler serves from.
//! - [`tenancy`]: several tenants in one receiver: each its directory, AMQP prefix,
//!   relay and intake.
//! - [`extract`]: the JSON body extractor that answers malformed input with SCIM errors.
//! - [`request_limits`]: URI, header and declared body sizes, checked before any route.
//! - [`error_shape`]: every error under `/scim/` a SCIM error, under `/admin` an admin
//!   error, whatever produced it.
//! - [`user`]: SCIM User bodies into directory records and back.
//! - [`splashtop_rules`]: Splashtop's rules on a user (its account email, field lengths,
//!   control characters), checked at the door.
//! - [`group`]: the same for SCIM Group bodies.
//! - [`provisioning`]: the read-only splashsync provisioning extension on Users and Groups.
//! - [`link`]: the relay's and the intake's connection to RabbitMQ, retried and reported,
//!   and the prefix claimed for the tenant (the tenant guard).
//! - [`relay`]: the outbox relay that publishes pending jobs with publisher confirms.
//! - [`reconcile`]: drift reconciliation: the team read page by page, compared with the
//!   directory, fixed through the outbox; on demand and on a schedule.
//! - [`events`]: intake of outcome events and dead letters into the audit store.
//! - [`metrics`]: the registry every component registers its metrics into, and the
//!   supervised tasks' health (a leaf).
//! - [`http_metrics`]: SCIM request counts and latencies.
//! - [`ops`]: `/metrics` and `/readyz` (store, broker and supervised tasks).

pub mod app;
pub mod auth;
pub mod config;
pub mod error_shape;
pub mod events;
pub mod extract;
pub mod group;
pub mod http_metrics;
pub mod link;
pub mod metrics;
pub mod ops;
pub mod provisioning;
pub mod reconcile;
pub mod relay;
pub mod request_limits;
pub mod routes;
pub mod splashtop_rules;
pub mod state;
pub mod tenancy;
pub mod user;

/// The directory crate, re-exported so that callers that hold the receiver (the
/// end-to-end tests) reach the store it wrote without a dependency of their own.
pub use splashsync_directory as directory;
