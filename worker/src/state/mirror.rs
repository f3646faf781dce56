//! The mirror of each tenant's Splashtop team ([`Mirror`]): what the workers believe
//! Splashtop holds, so a job writes straight from its desired state instead of reading
//! the user first (docs/DESIGN.md, "The team mirror").
//!
//! Per tenant it holds users by email (lower case) and groups by id, with a name index
//! and the default group; a `complete` marker says the listing was read to the end since
//! the store was last empty. Without the marker (a new or lost store, a listing that
//! failed halfway) nobody trusts it: jobs read Splashtop instead. A user entry is
//! [`Mirrored::Unknown`] from just before a write until its answer is recorded, so a
//! lost or unreadable answer, or a worker killed meanwhile, leaves it to be read again.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use splashtop_api::{TeamGroup, TeamUser};

use super::StoreError;

/// What the mirror says of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirrored<T> {
    /// Not in the team.
    Absent,
    /// A write's answer was lost or not yet recorded: read it before trusting it.
    Unknown,
    /// As Splashtop last answered.
    Known(T),
}

/// A Splashtop group as the mirror holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MirrorGroup {
    /// Splashtop's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether it is the team's default group.
    #[serde(default)]
    pub is_default: bool,
    /// The SCIM group that created or renamed it to this name, when a job of this
    /// tenant did: a group owned by another SCIM group is never joined, renamed or
    /// deleted on behalf of this one.
    #[serde(default)]
    pub owner: Option<String>,
}

impl MirrorGroup {
    /// The group as Splashtop answered it, owned by `owner`.
    pub fn from_team(group: &TeamGroup, owner: Option<&str>) -> Self {
        Self {
            id: group.id.clone(),
            name: group.name.clone(),
            is_default: group.is_default,
            owner: owner.map(str::to_owned),
        }
    }

    /// The group as the API types carry it.
    pub fn to_team(&self) -> TeamGroup {
        TeamGroup {
            id: self.id.clone(),
            name: self.name.clone(),
            is_default: self.is_default,
            member_count: 0,
        }
    }
}

/// The lease value of a failed fill.
pub(crate) const FAILED: &str = "failed";

/// The key of a user entry: its email in lower case.
pub(crate) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// The name index key of a group: its name in lower case (names are unique
/// case-insensitively).
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// The mirror's storage, per tenant. Every method is one atomic step.
pub trait Mirror: Send + Sync {
    /// Whether the tenant's mirror was filled to the end (and not lost since).
    fn mirror_complete<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Takes the right to fill the tenant's mirror for `ttl` (false: someone else holds it).
    fn mirror_lease<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// A fill by `holder` failed: its lease becomes a "failed" marker for `backoff`, so
    /// that nobody waits for it and nobody fills again before then.
    fn mirror_fill_failed<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        backoff: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether a fill is under way (a lease is held and not marked failed).
    fn mirror_filling<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Marks the fill done and releases the lease, if `holder` still holds it.
    fn mirror_filled<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Forgets the `complete` marker: until a new fill, nobody trusts the mirror.
    fn mirror_forget<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Adds listed users that have no entry yet (an entry written by a job is newer than
    /// any listing page, so it is never overwritten by one).
    fn mirror_fill_users<'a>(
        &'a self,
        tenant: &'a str,
        users: &'a [TeamUser],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Adds listed groups whose id and name are not in the mirror yet.
    fn mirror_fill_groups<'a>(
        &'a self,
        tenant: &'a str,
        groups: &'a [TeamGroup],
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The user entry of `email`; [`Mirrored::Absent`] when there is none.
    fn mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Mirrored<TeamUser>, StoreError>>;
    /// Sets the user entry of `email`.
    fn set_mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
        entry: &'a Mirrored<TeamUser>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// The group named `name` (case-insensitive).
    fn mirror_group_named<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>>;
    /// The group with this id.
    fn mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>>;
    /// The default group, once a fill listed it.
    fn mirror_default_group<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>>;
    /// Records a group as Splashtop answered it (a rename moves its name index).
    fn set_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        group: &'a MirrorGroup,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Removes a group (deleted, or found gone).
    fn remove_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
