//! Drift reconciliation (docs/DESIGN.md, "Reconciliation"): the team as Splashtop lists
//! it, compared with what the directory wants, and the jobs that bring back what the
//! directory owns.
//!
//! The receiver's reconciler reads the team page by page and hands it over as a [`Team`];
//! this module does the rest: the directory's side as one consistent read
//! ([`DirectoryView`]), the comparison as a pure function ([`compare::compare`]), and the
//! fixes written through the outbox in the same transaction as the run's report, so that
//! a report says `fixed` only for jobs that were committed, and each fix is a new version
//! of the key's current desired state queued behind the key's earlier jobs (per-account
//! order, docs/DESIGN.md invariant 5).
//!
//! # Layout
//! - this module: the inputs ([`Team`], [`DirectoryView`]), the plan ([`Plan`], [`Fix`])
//!   and the [`ReconcileStore`] trait.
//! - [`compare`]: the comparison, pure.
//! - [`prune`]: the key of a removal job for an account the directory never owned.
//! - [`view`]: the directory's side, read in one transaction.
//! - [`fix`]: the fixes, written inside the writer's transaction.
//! - [`table`]: the `reconcile_runs` table (schema migration 7).
//! - [`sqlite`]: [`sqlite::SqliteReconcile`], the [`ReconcileStore`] on the directory's
//!   SQLite file and its single writer.

pub mod compare;
pub mod fix;
pub mod prune;
pub mod sqlite;
pub mod table;
pub mod view;

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use splashsync_protocol::job::UserState;
use splashsync_protocol::reconcile::{DriftItem, ReconcileReport, ReconcileRequest};

use crate::error::StoreError;
use crate::model::WriteCtx;

/// A user as Splashtop lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenUser {
    /// The account email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Display name.
    pub display_name: String,
    /// SSO method.
    pub sso_name: Option<String>,
    /// The name of its group; `None`: the team's default group.
    pub group: Option<String>,
}

/// The team as Splashtop listed it, every page read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    /// Every user.
    pub users: Vec<SeenUser>,
    /// The names of the groups, the default group left out.
    pub groups: Vec<String>,
}

/// Whether a key may be fixed now, from its provisioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Applied (or never provisioned): its drift is real.
    Clear,
    /// A job of the key is waiting, in flight or retrying: its drift is expected.
    Pending,
    /// Its job is in the dead letters, waiting for an operator.
    DeadLettered,
}

impl Hold {
    /// The hold of a provisioning state (`None`: no job and no outcome).
    pub fn of(state: Option<&str>) -> Self {
        use crate::provisioning::state;
        match state {
            Some(state::PENDING) | Some(state::RETRYING) => Hold::Pending,
            Some(state::DEAD_LETTERED) => Hold::DeadLettered,
            _ => Hold::Clear,
        }
    }
}

/// A user of the directory with its desired Splashtop state.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedUser {
    /// Its job key.
    pub key: String,
    /// Its directory version.
    pub version: i64,
    /// What Splashtop should hold (`active: false`: not in the team).
    pub state: UserState,
    /// Whether it may be fixed now.
    pub hold: Hold,
}

/// A group of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedGroup {
    /// Its SCIM id.
    pub id: String,
    /// Its job key.
    pub key: String,
    /// Its name.
    pub name: String,
    /// Its directory version.
    pub version: i64,
    /// Whether it may be fixed now.
    pub hold: Hold,
}

/// An account the directory owned once: its user was deleted.
#[derive(Debug, Clone, PartialEq)]
pub struct FormerAccount {
    /// The key of its newest incarnation.
    pub key: String,
    /// That key's latest version.
    pub version: i64,
    /// Whether it may be fixed now.
    pub hold: Hold,
}

/// The directory's side of a comparison, read in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryView {
    /// Every user.
    pub users: Vec<OwnedUser>,
    /// Every group.
    pub groups: Vec<OwnedGroup>,
    /// Accounts of the team that no user has but that the directory provisioned once, by
    /// lower-case email.
    pub former: HashMap<String, FormerAccount>,
}

/// A job a real run writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// The user's current desired state at a new version (written only if the user is
    /// still at `version`: otherwise a newer job is already on its way).
    User {
        /// SCIM id.
        id: String,
        /// The version the comparison saw.
        version: i64,
    },
    /// The `deleted` state of a former account's newest incarnation, at a new version.
    Gone {
        /// The account email.
        email: String,
        /// The newest incarnation's key.
        key: String,
        /// The version the comparison saw.
        version: i64,
    },
    /// The group's current state at a new version.
    Group {
        /// SCIM id.
        id: String,
        /// The version the comparison saw.
        version: i64,
    },
    /// Removes an account the directory never owned ([`prune`]).
    Prune {
        /// The account as Splashtop lists it.
        user: SeenUser,
    },
}

/// An item and the fix that would resolve it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedItem {
    /// The drift.
    pub item: DriftItem,
    /// Index into [`Plan::fixes`].
    pub fix: Option<usize>,
}

/// What a comparison found and what a real run would write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every drift, in report order.
    pub items: Vec<PlannedItem>,
    /// The jobs, one per key.
    pub fixes: Vec<Fix>,
}

/// What a run read, for its report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Listing pages read.
    pub pages: u64,
    /// Users listed.
    pub users: u64,
    /// Groups listed (the default group included).
    pub groups: u64,
}

/// Where runs, views and fixes are kept.
pub trait ReconcileStore: Send + Sync + 'static {
    /// Records a run as started and returns its id; a run left `running` by a stopped
    /// receiver is marked failed.
    fn begin(
        &self,
        trigger: String,
        request: ReconcileRequest,
    ) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// The directory's side, in one read transaction, with the former owners of `emails`.
    fn view(
        &self,
        cx: WriteCtx,
        emails: Vec<String>,
    ) -> BoxFuture<'_, Result<DirectoryView, StoreError>>;
    /// Writes the plan's fixes (unless the run is a dry run) and the run's report in one
    /// transaction; returns the report.
    fn finish(
        &self,
        cx: WriteCtx,
        run: i64,
        reading: Reading,
        plan: Plan,
    ) -> BoxFuture<'_, Result<ReconcileReport, StoreError>>;
    /// Marks a run failed with `error` (nothing was written).
    fn fail(
        &self,
        run: i64,
        reading: Reading,
        error: String,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The newest runs, without their items.
    fn runs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<ReconcileReport>, StoreError>>;
    /// One run with its items.
    fn run(&self, id: i64) -> BoxFuture<'_, Result<Option<ReconcileReport>, StoreError>>;
}

impl std::fmt::Debug for dyn ReconcileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReconcileStore")
    }
}
