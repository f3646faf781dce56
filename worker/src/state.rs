//! The state every worker process shares ([`StateStore`]): the last applied version per
//! job key, the newest incarnation that acted on each Splashtop account, the latest
//! started job of each group, and the heartbeats of live workers.
//!
//! # Layout
//! - this module: the [`StateStore`] trait, [`GroupIntent`] and [`StoreError`].
//! - [`redis`]: [`RedisStore`], the one the workers share in production.
//! - [`memory`]: [`MemoryStore`], the same rules in one process, for unit tests of the
//!   apply and handle logic.

pub mod memory;
pub mod mirror;
pub mod redis;

use std::time::Duration;

use futures_util::future::BoxFuture;
use splashsync_protocol::JobKey;

pub use memory::MemoryStore;
pub use mirror::{Mirror, MirrorGroup, Mirrored};
pub use redis::RedisStore;

/// The latest started job of a group, as other jobs must see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupIntent {
    /// The group job's version.
    pub version: i64,
    /// The group's name in that job.
    pub name: String,
    /// Whether that job deletes the group.
    pub deleted: bool,
}

/// A failure to reach or use the shared store; always worth retrying.
#[derive(Debug, thiserror::Error)]
#[error("shared store (Redis): {0}")]
pub struct StoreError(pub(crate) String);

/// What the workers share. Every write is a compare-and-set, so concurrent workers can
/// only move a value forward; the team mirror ([`Mirror`]) is part of it.
pub trait StateStore: Mirror + Send + Sync + std::fmt::Debug + 'static {
    /// The highest version applied for `key`, if any.
    fn applied_version<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>>;
    /// Records that `version` of `key` was applied; false if a higher one already was.
    fn record_applied<'a>(
        &'a self,
        key: &'a JobKey,
        version: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// The newest incarnation (SCIM id, a UUIDv7) that acted on the account `route`.
    fn account_owner<'a>(
        &'a self,
        route: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>>;
    /// Records that user `user_id` acted on the account `route`; false if a newer
    /// incarnation of the account already did.
    fn claim_account<'a>(
        &'a self,
        route: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// The newest started job of group `key`, if any.
    fn group_intent<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<GroupIntent>, StoreError>>;
    /// Records a group job's intent before it runs; false if a newer job already started.
    fn start_group_job<'a>(
        &'a self,
        key: &'a JobKey,
        intent: &'a GroupIntent,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Renews `worker_id`'s heartbeat for `ttl`; returns every live worker id, sorted.
    fn heartbeat<'a>(
        &'a self,
        worker_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    /// Removes `worker_id` from the live workers at once (a graceful stop).
    fn leave<'a>(&'a self, worker_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether the store answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Since when the store holds every version, incarnation and intent recorded: the
    /// start of its current epoch, in ms since the Unix epoch (docs/DESIGN.md, "Redis:
    /// what the workers share, and what losing it does"). A job committed before it may
    /// be older than one applied before the state was lost.
    fn epoch_since(&self) -> BoxFuture<'_, Result<i64, StoreError>>;
}
