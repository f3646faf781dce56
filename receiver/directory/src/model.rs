//! The directory's records and the parameters of its reads and writes.

use splashsync_protocol::Tenant;

use crate::provisioning::ProvisioningStatus;

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
    /// Its provisioning state, when the read asked for it (and after updates).
    pub provisioning: Option<ProvisioningStatus>,
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
    /// Its provisioning state, when the read asked for it (and after updates).
    pub provisioning: Option<ProvisioningStatus>,
}

impl GroupRecord {
    /// The ids of members that are no user of this directory, in joining order.
    pub fn unresolved(&self) -> impl Iterator<Item = &str> {
        self.members
            .iter()
            .filter(|m| !m.resolved)
            .map(|m| m.user_id.as_str())
    }
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
    /// The user's id; for an unresolved member, the id exactly as the IdP wrote it.
    pub user_id: String,
    /// The user's display name, or userName (empty when unresolved).
    pub display: String,
    /// Whether a user of this directory has this id. An unresolved member is kept as
    /// written and never provisioned; ids are server-assigned, so it never resolves by a
    /// later create: only a write that removes it from the group ends it.
    pub resolved: bool,
}

/// What to do when a user would join a second group (Splashtop allows one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

    /// Every policy, in the order `--help` lists them.
    pub const ALL: [GroupPolicy; 3] = [GroupPolicy::Reject, GroupPolicy::Move, GroupPolicy::First];
}

impl std::str::FromStr for GroupPolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupPolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not a group policy: use reject, move or first"))
    }
}

/// What a userName change that changes a user's Splashtop account does (Splashtop cannot
/// rename an account: its email is the account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RenamePolicy {
    /// Refuse it with 400 `mutability`, the reason in `detail`.
    #[default]
    Reject,
    /// Accept it: the SCIM id stays, the new account is invited with the user's names and
    /// group, and the old one is retired (removed or deleted, per the worker's
    /// deactivate mode), by two jobs written in the change's transaction.
    Reinvite,
}

impl RenamePolicy {
    /// The policy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RenamePolicy::Reject => "reject",
            RenamePolicy::Reinvite => "reinvite",
        }
    }

    /// Every policy, in the order `--help` lists them.
    pub const ALL: [RenamePolicy; 2] = [RenamePolicy::Reject, RenamePolicy::Reinvite];
}

impl std::str::FromStr for RenamePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RenamePolicy::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("{s:?} is not a rename policy: use reject or reinvite"))
    }
}

/// Who writes, and why: carried into every job's `origin` and the conflict log.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    /// The tenant.
    pub tenant: Tenant,
    /// The request, e.g. `PATCH /Groups/{id}`.
    pub origin: String,
    /// The one-group policy of the tenant.
    pub policy: GroupPolicy,
    /// The jobs written ask the worker to read Splashtop before writing (a reconciliation's
    /// fixes: Splashtop changed behind the workers' mirror).
    pub verify: bool,
}

/// The desired state of a group after a write.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupChange {
    /// The new body (without members).
    pub resource: serde_json::Value,
    /// The new member ids, in order.
    pub members: Vec<String>,
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
    /// Load each resource's provisioning state, its key in this tenant.
    pub status: Option<Tenant>,
    /// The list filter, translated into SQL (see [`crate::query`]): exactly when `all` is
    /// false, else as a superset of the rows it selects.
    pub filter: Option<splashsync_scim::filter::Filter>,
    /// Sort key and direction (true: descending); applied by the store when `all` is false.
    pub sort: Option<(splashsync_scim::filter::AttrPath, bool)>,
    /// When `all`: most candidate rows read (more is a 400 `tooMany`); 0: no limit.
    pub scan_limit: u64,
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
