//! What splashsync's tests share: one poller with a deadline, the test services' URLs, builders
//! of SCIM bodies and jobs, a TCP proxy that can cut a connection, a stand-in worker on the
//! broker, and (feature `stack`, on by default) the whole system in-process.
//!
//! # Layout
//! - `poll`: [`eventually`], the one way a test waits for something.
//! - `env`: the URLs of RabbitMQ and Redis, from the environment with local defaults.
//! - `scim`: SCIM request bodies as identity providers send them.
//! - `jobs`: provisioning jobs as the relay publishes them, and markers for each partition.
//! - `broker`: publishing jobs, draining the dead-letter queue, deleting a test's topology.
//! - `fake_worker`: a connection that plays the worker's part (take a job, report outcomes,
//!   dead-letter).
//! - `proxy`: a TCP proxy a test can cut and restore, to take the broker away from one
//!   component.
//! - `metrics`: reading one sample out of an OpenMetrics text.
//! - `pg`: a PostgreSQL database of one test, dropped when the test ends.
//! - `workers` (stack): starting and stopping in-process workers.
//! - `app` (stack): `TestApp`, simulator + receiver + worker for one test.
//! - `cluster` (stack): `Cluster`, simulator + N workers fed straight from the broker.
//! - `admin` (stack): reading the receiver's admin API.
//! - `bench` (stack): what the benchmark binaries share (flags, the receiver as a child
//!   process, `/proc` readings).
//! - `redis_servers` (stack): private Redis servers and sentinels, to lose or fail over.
//! - `sim` (stack): reading the simulator's team and log.
//!
//! # Who may depend on this crate
//! With `stack` this crate depends on the receiver, the worker and the simulator as normal
//! dependencies. Today only `splashsync-tests` uses it. A crate of the stack that wants the rest
//! (the poller, the URLs, the builders, the proxy) dev-depends on it with
//! `default-features = false`; with `stack` on it would build a second copy of itself, whose
//! types do not match its own.

mod broker;
mod env;
mod fake_worker;
mod jobs;
mod metrics;
mod pg;
mod poll;
mod proxy;
mod scim;

#[cfg(feature = "stack")]
mod admin;
#[cfg(feature = "stack")]
mod app;
#[cfg(feature = "stack")]
pub mod bench;
#[cfg(feature = "stack")]
mod cluster;
#[cfg(feature = "stack")]
mod redis_servers;
#[cfg(feature = "stack")]
mod sim;
#[cfg(feature = "stack")]
mod tenants;
#[cfg(feature = "stack")]
mod workers;

pub use broker::{delete_topology, Publisher};
pub use env::{amqp_url, install_crypto, redis_url};
pub use fake_worker::{outcome, DeadReason, FakeWorker};
pub use jobs::{account_job, delete_job, email_in_partition, group_job, user_job, UserSpec};
pub use metrics::metric;
pub use pg::PgDatabase;
pub use poll::{eventually, Check};
pub use proxy::TcpProxy;
pub use scim::{patch_op, ScimUser};

#[cfg(feature = "stack")]
pub use admin::{get_json, outbox_pending, user_state};
#[cfg(feature = "stack")]
pub use app::{Options, TestApp, ADMIN_TOKEN, SCIM_TOKEN};
#[cfg(feature = "stack")]
pub use cluster::Cluster;
#[cfg(feature = "stack")]
pub use redis_servers::RedisProcess;
#[cfg(feature = "stack")]
pub use sim::{find_user, has_user, sim_reaches, users_in, versions_never_decrease};
#[cfg(feature = "stack")]
pub use tenants::{TenantSetup, TenantsStack};
#[cfg(feature = "stack")]
pub use workers::{ExtraWorker, WorkerOptions};
