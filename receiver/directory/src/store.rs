//! The [`Directory`] trait: what the SCIM side asks of the store.

use futures_util::future::BoxFuture;
use splashsync_protocol::Tenant;
use splashsync_scim::ScimError;

use crate::error::StoreError;
use crate::model::{
    GroupChange, GroupConflict, GroupRecord, PendingJob, Query, UserRecord, WriteCtx,
};

/// The desired new body of a user, given its current record (runs inside the
/// transaction; its error aborts the write and comes back as [`StoreError::Rejected`]).
pub type UserEdit = Box<dyn FnOnce(&UserRecord) -> Result<serde_json::Value, ScimError> + Send>;

/// The desired new state of a group, given its current record with members.
pub type GroupEdit = Box<dyn FnOnce(&GroupRecord) -> Result<GroupChange, ScimError> + Send>;

/// The directory: answers every SCIM read and commits every write with its jobs.
pub trait Directory: Send + Sync + 'static {
    /// Inserts a user (version 1) and its job; `UserNameTaken` when the userName exists.
    fn create_user(
        &self,
        cx: WriteCtx,
        record: UserRecord,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>>;
    /// Replaces a user's body by `edit`, checking `if_match` (a version) first; the
    /// record comes back with its provisioning state, read in the same transaction.
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
    /// One user by id, with its groups, and its provisioning state when `status` names
    /// the tenant of its key.
    fn get_user<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>>;
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
    /// Changes a group (body and members) by `edit`, applying the group policy; the
    /// record comes back with its provisioning state, read in the same transaction.
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
    /// One group by id, with its members, and its provisioning state when `status` names
    /// the tenant of its key.
    fn get_group<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
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

impl std::fmt::Debug for dyn Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Directory")
    }
}
