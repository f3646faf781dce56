//! The directory store: users, groups, memberships and the outbox, behind the
//! [`Directory`] trait.
//!
//! Every write takes a [`WriteCtx`] and, in the same transaction as the change, puts the
//! desired-state jobs it implies into the outbox: a user job for every user whose desired
//! Splashtop state changed, a group job for a group create, rename or delete.
//!
//! # Layout
//! - [`sqlite`]: the SQLite implementation (embedded default): opening and reads.
//! - [`sqlite_users`] and [`sqlite_groups`]: its writes.
//! - [`jobs`]: computing the jobs a write implies, inside the write's transaction.
//! - [`writer`]: the single writer that batches concurrent writes into group commits.
//! - [`migrations`]: schema migrations run at start-up.
//! - [`audit`]: outcome events, dead letters and provisioning states ([`audit::AuditStore`]).

pub mod audit;
pub mod jobs;
pub mod migrations;
pub mod sqlite;
pub mod sqlite_groups;
pub mod sqlite_users;
pub mod writer;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use splashsync_scim::ScimError;

/// A user as the directory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// Server-assigned SCIM id.
    pub id: String,
    /// The SCIM userName as first given.
    pub user_name: String,
    /// The resource body without `id`, `meta`, `groups` and `password`.
    pub resource: serde_json::Value,
    /// Directory version, incremented on every change (the job version and the ETag).
    pub version: i64,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Last change, RFC 3339.
    pub last_modified: String,
    /// The groups the user is a member of (filled on reads).
    pub groups: Vec<GroupLink>,
}

/// A group as the directory holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRecord {
    /// Server-assigned SCIM id.
    pub id: String,
    /// The display name (unique, case-insensitively).
    pub display_name: String,
    /// The resource body without `id`, `meta` and `members`.
    pub resource: serde_json::Value,
    /// Directory version.
    pub version: i64,
    /// Creation time.
    pub created: String,
    /// Last change.
    pub last_modified: String,
    /// The members, in joining order (filled on reads unless excluded).
    pub members: Vec<Member>,
}

/// A group membership seen from the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLink {
    /// The group's id.
    pub group_id: String,
    /// The group's display name.
    pub display_name: String,
}

/// A group membership seen from the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user's id.
    pub user_id: String,
    /// The user's display name, or userName.
    pub display: String,
}

/// What to do when a user would join a second group (Splashtop allows one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum GroupPolicy {
    /// Refuse the membership with 409 naming the group the user is already in.
    #[default]
    Reject,
    /// The latest membership decides the user's Splashtop group.
    Move,
    /// The earliest membership decides the user's Splashtop group.
    First,
}

impl GroupPolicy {
    /// The policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupPolicy::Reject => "reject",
            GroupPolicy::Move => "move",
            GroupPolicy::First => "first",
        }
    }
}

/// Who writes, and why: carried into every job's `origin` and the conflict log.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// The tenant.
    pub tenant: splashsync_protocol::Tenant,
    /// The request, e.g. `PATCH /Groups/{id}`.
    pub origin: String,
    /// The one-group policy of the tenant.
    pub policy: GroupPolicy,
}

/// The desired new body of a user, given its current record (runs inside the
/// transaction; a SCIM error aborts the write).
pub type UserEdit = Box<dyn FnOnce(&UserRecord) -> Result<serde_json::Value, ScimError> + Send>;

/// The desired state of a group after a write.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    /// The new body (without members).
    pub resource: serde_json::Value,
    /// The new member ids, in order.
    pub members: Vec<String>,
}

/// The desired new state of a group, given its current record with members.
pub type GroupEdit = Box<dyn FnOnce(&GroupRecord) -> Result<GroupChange, ScimError> + Send>;

/// A job waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingJob {
    /// Outbox sequence number (commit order).
    pub seq: i64,
    /// The job id (AMQP message_id).
    pub job_id: String,
    /// The ordering key.
    pub key: String,
    /// The partition key ([`splashsync_protocol::job::Job::route`]).
    pub route: String,
    /// The job kind (`UserV1`…), for AMQP `type`.
    pub kind: String,
    /// The serialised job.
    pub payload: String,
}

/// An indexed attribute a query can narrow by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// `id`, exact.
    Id,
    /// `userName` or a group's `displayName`, case-insensitive.
    Name,
    /// `externalId`, exact.
    ExternalId,
}

/// A query over users or groups: either one page in creation order, or every row
/// matching an index lookup (the caller filters and pages those).
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Narrow by an indexed attribute.
    pub lookup: Option<(Indexed, String)>,
    /// Zero-based offset (ignored when `all`).
    pub offset: u64,
    /// Page size (ignored when `all`; 0: count only).
    pub limit: u64,
    /// Return every matching row.
    pub all: bool,
    /// Skip loading group members.
    pub without_members: bool,
}

/// Store failures, mapped to SCIM errors at the edge.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// `If-Match` named another version.
    #[error("version mismatch: the resource is at {current}")]
    PreconditionFailed {
        /// The current ETag.
        current: String,
    },
    /// The caller's edit refused the change.
    #[error("{0}")]
    Invalid(ScimError),
    /// A user would join a second group under the `reject` policy.
    #[error("{1}")]
    GroupConflict(Box<GroupConflict>, String),
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

/// A one-group conflict the policy resolved or refused, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConflict {
    /// The user.
    pub user_id: String,
    /// The group it was added to.
    pub group_id: String,
    /// The group it was already in.
    pub other_group_id: String,
    /// The policy applied.
    pub policy: GroupPolicy,
    /// What happened: `rejected`, `moved`, `kept-first`.
    pub outcome: String,
}

/// The directory: answers every SCIM read and commits every write with its jobs.
pub trait Directory: Send + Sync + 'static {
    /// Inserts a user (version 1) and its job; `Conflict` when the userName exists.
    fn create_user(
        &self,
        cx: WriteCtx,
        record: UserRecord,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>>;
    /// Replaces a user's body by `edit`, checking `if_match` (a version) first.
    fn update_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: UserEdit,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>>;
    /// Deletes a user and its memberships; its job says `deleted`.
    fn delete_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// One user by id, with its groups.
    fn get_user<'a>(&'a self, id: &'a str)
        -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>>;
    /// Users matching `query` and the total count.
    fn list_users(&self, query: Query)
        -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>>;
    /// Inserts a group with its members, applying the group policy.
    fn create_group(
        &self,
        cx: WriteCtx,
        record: GroupRecord,
        members: Vec<String>,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>>;
    /// Changes a group (body and members) by `edit`, applying the group policy.
    fn update_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: GroupEdit,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>>;
    /// Deletes a group; its members' jobs move them to their next group or the default.
    fn delete_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// One group by id, with its members.
    fn get_group<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<GroupRecord>, StoreError>>;
    /// Groups matching `query` and the total count.
    fn list_groups(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<GroupRecord>, u64), StoreError>>;
    /// Records a refused one-group conflict (accepted ones are recorded by the write itself).
    fn record_conflict(&self, conflict: GroupConflict) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Up to `limit` unsent jobs in commit order.
    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>>;
    /// Marks jobs as published (after the broker confirmed them).
    fn mark_sent(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Resolves when a write may have added jobs to the outbox.
    fn outbox_changed(&self) -> BoxFuture<'_, ()>;
}
