//! The directory store: users, groups, the outbox, behind the [`Directory`] trait.
//!
//! # Layout
//! - [`sqlite`]: the SQLite implementation (embedded default).
//! - [`writer`]: the single writer that batches concurrent writes into group commits.
//! - [`migrations`]: schema migrations run at start-up.

pub mod migrations;
pub mod sqlite;
pub mod writer;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use splashsync_shared::job::Job;

/// A user as the directory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Server-assigned SCIM id.
    pub id: String,
    /// The SCIM userName as first given.
    pub user_name: String,
    /// The resource body without `id`, `meta` and `password`.
    pub resource: serde_json::Value,
    /// Directory version, incremented on every change.
    pub version: i64,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Last change, RFC 3339.
    pub last_modified: String,
}

/// A user to create: the record plus the job that goes into the outbox with it.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The record to insert (version 1).
    pub record: UserRecord,
    /// The job committed in the same transaction.
    pub job: Job,
}

/// A job waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingJob {
    /// Outbox sequence number (commit order).
    pub seq: i64,
    /// The job id (AMQP message_id).
    pub job_id: String,
    /// The ordering key.
    pub key: String,
    /// The job kind (`UserV1`…), for AMQP `type`.
    pub kind: String,
    /// The serialised job.
    pub payload: String,
}

/// A query over users.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only the user with this userName (case-insensitive).
    pub user_name: Option<String>,
    /// Zero-based offset.
    pub offset: u64,
    /// Page size (0: count only).
    pub limit: u64,
}

/// Store failures, mapped to SCIM errors at the edge.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// The database failed; the write was not applied.
    #[error("database error: {0}")]
    Database(Arc<sqlx::Error>),
    /// The writer has stopped (shutting down).
    #[error("the store is shutting down")]
    Closed,
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(Arc::new(e))
    }
}

/// The directory: answers every SCIM read and commits every write with its jobs.
pub trait Directory: Send + Sync + 'static {
    /// Inserts a user and its job in one transaction; `Conflict` when the userName
    /// exists case-insensitively.
    fn create_user(&self, user: NewUser) -> BoxFuture<'_, Result<UserRecord, StoreError>>;
    /// One user by id.
    fn get_user<'a>(&'a self, id: &'a str)
        -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>>;
    /// A page of users and the total count, in creation order.
    fn list_users(
        &self,
        query: UserQuery,
    ) -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>>;
    /// Up to `limit` unsent jobs in commit order.
    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>>;
    /// Marks jobs as published (after the broker confirmed them).
    fn mark_sent(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Resolves when a write may have added jobs to the outbox.
    fn outbox_changed(&self) -> BoxFuture<'_, ()>;
}
