//! Drift reconciliation on the wire: what an operator asks for, and the report a run
//! leaves (in the audit store, the admin API, the console and the CLI).
//!
//! A module of this crate for the same reason as [`crate::admin`]: the receiver and the
//! CLI share it, and it needs nothing but serde.

use serde::{Deserialize, Serialize};

/// Admin API paths of reconciliation, under [`crate::admin::PREFIX`].
pub mod route {
    /// Start a run with a [`super::ReconcileRequest`] body (POST); list recent runs (GET).
    pub const RUNS: &str = "/reconcile";
    /// One run's report (GET).
    pub const RUN: &str = "/reconcile/{id}";
}

/// The admin path of one run's report.
pub fn run_path(id: i64) -> String {
    format!("/reconcile/{id}")
}

/// What starts a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// Report only: write no job.
    #[serde(default)]
    pub dry_run: bool,
    /// Also remove accounts the directory never owned (unmanaged users).
    #[serde(default)]
    pub prune: bool,
}

/// What kind of drift an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// In Splashtop, never owned by the directory (invited by hand).
    Unmanaged,
    /// Active in the directory, missing (or removed) in Splashtop.
    Missing,
    /// First, last or display name differ.
    Names,
    /// The SSO method differs.
    SsoName,
    /// The user is in another group.
    Group,
    /// In Splashtop although the directory deactivated or deleted it.
    Status,
    /// A directory group Splashtop does not have.
    GroupMissing,
    /// A Splashtop group the directory does not have (only reported).
    GroupUnmanaged,
}

impl DriftKind {
    /// Every kind, in report order.
    pub const ALL: [DriftKind; 8] = [
        DriftKind::Unmanaged,
        DriftKind::Missing,
        DriftKind::Names,
        DriftKind::SsoName,
        DriftKind::Group,
        DriftKind::Status,
        DriftKind::GroupMissing,
        DriftKind::GroupUnmanaged,
    ];

    /// The kind's name (its JSON spelling and metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::Unmanaged => "unmanaged",
            DriftKind::Missing => "missing",
            DriftKind::Names => "names",
            DriftKind::SsoName => "sso_name",
            DriftKind::Group => "group",
            DriftKind::Status => "status",
            DriftKind::GroupMissing => "group_missing",
            DriftKind::GroupUnmanaged => "group_unmanaged",
        }
    }
}

/// What the run did about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Only reported: the directory never owned it (and no `--prune`), or a dry run
    /// would not touch it either.
    Reported,
    /// Dry run: a real run would write a job.
    WouldFix,
    /// A job with the key's current desired state was written to the outbox.
    Fixed,
    /// Dry run with `prune`: a real run would remove the account.
    WouldPrune,
    /// A removal job was written to the outbox.
    Pruned,
    /// A job of this key is not applied yet: the drift is expected, nothing written.
    Pending,
    /// The key's job is dead-lettered: replay or discard it; nothing written.
    DeadLettered,
}

impl DriftAction {
    /// The action's name (its JSON spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftAction::Reported => "reported",
            DriftAction::WouldFix => "would_fix",
            DriftAction::Fixed => "fixed",
            DriftAction::WouldPrune => "would_prune",
            DriftAction::Pruned => "pruned",
            DriftAction::Pending => "pending",
            DriftAction::DeadLettered => "dead_lettered",
        }
    }
}

/// One drift of one account or group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DriftItem {
    /// What differs.
    pub kind: DriftKind,
    /// The Splashtop account (email) or the group's name.
    pub subject: String,
    /// The directory key concerned, if the directory owns (or owned) it.
    pub key: Option<String>,
    /// What Splashtop has.
    pub found: String,
    /// What the directory wants.
    pub wanted: String,
    /// What the run did.
    pub action: DriftAction,
}

/// A run's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ReconcileReport {
    /// The run's id.
    pub id: i64,
    /// What started it: `schedule`, `admin`, `console`, `cli`.
    pub trigger: String,
    /// Report only.
    pub dry_run: bool,
    /// Unmanaged accounts removed.
    pub prune: bool,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// When it ended.
    pub finished: Option<String>,
    /// Splashtop listing pages read (the run's cost in calls).
    pub pages_read: u64,
    /// Users Splashtop listed.
    pub team_users: u64,
    /// Groups Splashtop listed.
    pub team_groups: u64,
    /// Drift items found.
    pub found: u64,
    /// Jobs written (fixes and prunes).
    pub fixed: u64,
    /// Items left alone because a job was in flight.
    pub pending: u64,
    /// Why the run failed.
    pub error: Option<String>,
    /// The items (empty in run lists).
    #[serde(default)]
    pub items: Vec<DriftItem>,
}

impl ReconcileReport {
    /// Items of `kind`.
    pub fn of_kind(&self, kind: DriftKind) -> impl Iterator<Item = &DriftItem> {
        self.items.iter().filter(move |i| i.kind == kind)
    }
}

/// The state of a finished run.
pub mod run_state {
    /// Still reading or writing.
    pub const RUNNING: &str = "running";
    /// Finished.
    pub const DONE: &str = "done";
    /// Stopped by an error (a listing that failed halfway: nothing was written).
    pub const FAILED: &str = "failed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_actions_spell_as_their_names() {
        for kind in DriftKind::ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
        }
        let json = serde_json::to_value(DriftAction::WouldPrune).unwrap();
        assert_eq!(json, DriftAction::WouldPrune.as_str());
    }

    #[test]
    fn a_request_refuses_unknown_fields() {
        let r: ReconcileRequest = serde_json::from_str(r#"{"dry_run":true}"#).unwrap();
        assert!(r.dry_run && !r.prune);
        assert!(serde_json::from_str::<ReconcileRequest>(r#"{"dryrun":true}"#).is_err());
    }
}
