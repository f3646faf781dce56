//! Code shared by splashsync's receiver, worker and tests.
//!
//! # Layout
//! - [`partition`]: the stable hash (FNV-1a 64) that maps a job key to its partition.
//! - [`job`]: the versioned, tagged job schema that travels through RabbitMQ.
//! - [`events`]: outcome events workers send back for the receiver's audit log.
//! - [`topology`]: every exchange and queue name and its arguments, declared idempotently.
//! - [`amqp`]: connecting to RabbitMQ with retries.
//! - [`scim`]: SCIM 2.0 wire types (resources, list responses, errors) and protocol code.
//! - [`telemetry`]: tracing set-up, human-readable or JSON.
//! - [`shutdown`]: the SIGTERM / Ctrl-C future every binary passes to its `run`.

pub mod amqp;
pub mod events;
pub mod job;
pub mod partition;
pub mod scim;
pub mod shutdown;
pub mod telemetry;
pub mod topology;
