//! splashsync's receiver: the SCIM 2.0 service provider Okta and Entra ID talk to.
//!
//! It answers every call at once from its own durable directory and, in the same store
//! transaction, writes the provisioning jobs that the outbox relay then publishes to
//! RabbitMQ (the transactional outbox; invariant 1 of DESIGN.md).
//!
//! # Layout
//! - [`config`]: settings from the environment and flags, validated at start-up.
//! - [`app`]: [`app::Application`]: builds the store, relay and HTTP server; runs until stopped.
//! - [`routes`]: the SCIM endpoints under `/scim/v2`.
//! - [`auth`]: bearer-token authentication in constant time.
//! - [`extract`]: the JSON body extractor that answers malformed input with SCIM errors.
//! - [`user`]: turning SCIM User bodies into directory records and back.
//! - [`group`]: the same for SCIM Group bodies.
//! - [`store`]: the directory store (SQLite with group commit) behind the [`store::Directory`] trait.
//! - [`relay`]: the outbox relay that publishes pending jobs with publisher confirms.
//! - [`events`]: intake of outcome events and dead letters into the audit store.
//! - [`admin`]: the operators' JSON API under `/admin` (its own token).
//! - [`console`]: the operators' web console under `/console` (server-rendered HTML).
//! - [`metrics`]: Prometheus metrics at `/metrics`.
//! - [`provisioning`]: the read-only splashsync provisioning extension on Users and Groups.

pub mod admin;
pub mod app;
pub mod auth;
pub mod config;
pub mod console;
pub mod events;
pub mod extract;
pub mod group;
pub mod metrics;
pub mod provisioning;
pub mod relay;
pub mod routes;
pub mod store;
pub mod user;
