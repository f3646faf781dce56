//! The contract between splashsync's processes: what the receiver writes and the worker
//! reads, and back.
//!
//! # Layout
//! - [`admin`]: the operators' admin API on the wire (paths, filters, error body), for the
//!   receiver's admin service and the CLI.
//! - [`keys`]: [`JobKey`], [`Tenant`] and [`Email`], and the partition routes built from them.
//! - [`job`]: the versioned, tagged job schema that travels through RabbitMQ.
//! - [`events`]: outcome events workers send back for the receiver's audit log.
//! - [`deadletter`]: why a job was dead-lettered ([`DeadReason`]) and the `x-splashsync-*`
//!   headers that carry it, encoded and decoded in one place.
//! - [`workers`]: the heartbeat each worker publishes beside its outcome events.
//! - [`partition`]: the stable hash (FNV-1a 64) that maps a route to its partition.
//! - [`reconcile`]: drift reconciliation's request and report, for the admin API and the CLI.
//! - `topology` (feature `amqp`): every exchange and queue name and its arguments.
//! - `amqp` (feature `amqp`): connecting to RabbitMQ with retries.
//! - `tenants` (feature `tenants`): the tenants file and the SCIM token hashes in it.

pub mod admin;
#[cfg(feature = "amqp")]
pub mod amqp;
pub mod deadletter;
pub mod events;
pub mod job;
pub mod keys;
pub mod partition;
pub mod reconcile;
#[cfg(feature = "tenants")]
pub mod tenants;
#[cfg(feature = "amqp")]
pub mod topology;
pub mod workers;

pub use deadletter::{DeadLetterHeaders, DeadReason};
pub use keys::{Email, JobKey, KeyKind, Tenant};
