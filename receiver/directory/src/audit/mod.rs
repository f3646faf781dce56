//! The audit side of the directory (docs/DESIGN.md, invariant 7): outcome events, dead letters and the
//! provisioning state of every key, behind the [`AuditStore`] trait.
//!
//! Writes go through the directory's single writer, so a replay writes its fresh job into
//! the outbox in one transaction with the dead letter's new state, and per-key order is
//! kept by the normal relay path.
//!
//! # Layout
//! - [`sqlite`]: the SQLite implementation of [`AuditStore`]: reads, discard.
//! - [`intake`]: storing outcome events and dead letters, moving key states forward.
//! - [`replay`]: building a replay job from the key's current directory state.
//! - [`timeline`]: a key's timeline, merged from the outbox, the events and the dead letters
//!   (`timeline_rows`: its statements and entries, shared by both engines).
//! - [`incidents`]: incidents (one per failing key) opened, updated, resolved and reopened
//!   by the intake, replayed and discarded by operators.
//! - `changes`: what an outcome, a dead letter or a replay does to a key's state (pure).
//! - `dead_letter_rows`: what both engines' dead-letter reads share (columns, filter, rows).
//! - `filing`: the incident rules both engines file dead letters by (pure).
//! - `fresh`: a replay's choice of job (which source, the "deleted" job of a gone key; pure).
//! - `incident_rows`: what both engines' incident reads share (columns, filters, rows).
//! - [`incident_read`]: incidents listed (filters, paging, total), shown, counted by cause;
//!   the keys retrying now and the oldest waiting job.

pub(crate) mod changes;
pub(crate) mod dead_letter_rows;
pub(crate) mod filing;
pub(crate) mod fresh;
pub mod humane;
pub mod incident_read;
pub(crate) mod incident_rows;
pub mod incidents;
pub mod intake;
pub mod replay;
pub mod sqlite;
pub mod timeline;
pub(crate) mod timeline_rows;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
pub use splashsync_protocol::admin::{
    Attempt, CauseCount, DeadLetter, Incident, IncidentDetail, IncidentDiscarded, IncidentPage,
    IncidentReplayed, RetryingKey, TimelineEntry, UserMatch,
};
use splashsync_protocol::events::OutcomeEvent;

use crate::error::StoreError;
use crate::model::WriteCtx;
pub use crate::provisioning::{state, ProvisioningStatus};

/// A dead letter as taken from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadLetter {
    /// The job id (AMQP `message_id`, or the job's own).
    pub job_id: String,
    /// The tenant.
    pub tenant: String,
    /// The job key (empty when neither the body nor the headers said).
    pub key: String,
    /// `user`, `group` or `unknown`.
    pub kind: String,
    /// The key version the job carried.
    pub version: i64,
    /// `permanent`, `retry_budget_exhausted`, `undecodable`, `delivery_limit`…
    pub reason: String,
    /// Splashtop's HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// Splashtop's error code.
    pub error_code: Option<String>,
    /// Splashtop's answer or the error text.
    pub error_body: String,
    /// Attempts made.
    pub attempts: i64,
    /// First attempt (RFC 3339).
    pub first_attempt: Option<String>,
    /// Last attempt (RFC 3339).
    pub last_attempt: Option<String>,
    /// The message body as received.
    pub payload: String,
}

/// Which dead letters to list or replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    /// Exact reason.
    pub reason: Option<String>,
    /// Exact tenant.
    pub tenant: Option<String>,
    /// Exact key.
    pub key: Option<String>,
    /// `open` (default), `replayed`, `discarded`, `resolved` or `all`.
    pub state: Option<String>,
    /// Received at least this long ago.
    pub older_than: Option<Duration>,
    /// Received at most this long ago.
    pub newer_than: Option<Duration>,
    /// Most rows returned (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Rows skipped.
    pub offset: Option<u32>,
}

/// Which incidents to list, replay or discard (validated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IncidentFilter {
    /// `open` (default), `replaying`, `resolved`, `discarded`, `active` or `all`.
    pub state: Option<String>,
    /// Exact cause (Splashtop code or reason).
    pub cause: Option<String>,
    /// Prefix of the userName or email, case-insensitive.
    pub person: Option<String>,
    /// Prefix of a group's displayName: the group's incidents and its members'.
    pub group: Option<String>,
    /// `user`, `group` or `unknown`.
    pub kind: Option<String>,
    /// Exact key.
    pub key: Option<String>,
    /// First seen at least this long ago.
    pub older_than: Option<Duration>,
    /// Last seen at most this long ago.
    pub newer_than: Option<Duration>,
    /// Rows per page (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Rows skipped.
    pub offset: Option<u32>,
}

/// The outbox backlog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OutboxStats {
    /// Jobs not yet confirmed by the broker.
    pub pending: i64,
    /// Age of the oldest of them, in seconds.
    pub oldest_pending_age_seconds: f64,
    /// Jobs published and confirmed so far.
    pub sent: i64,
}

/// What a replay did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Replayed {
    /// The dead letter.
    pub id: i64,
    /// The fresh job written to the outbox.
    pub job_id: String,
    /// The key.
    pub key: String,
    /// The directory version the fresh job carries.
    pub version: i64,
}

/// The audit log, the dead letters and the provisioning states.
pub trait AuditStore: Send + Sync + 'static {
    /// Stores an outcome event and updates its key's state; `false` if already stored.
    fn record_outcome(&self, event: OutcomeEvent) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Stores a dead letter and marks its key dead-lettered; `false` if already stored.
    fn record_dead_letter(&self, dl: NewDeadLetter) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Dead letters matching `filter`, newest first.
    fn dead_letters(
        &self,
        filter: DeadLetterFilter,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>>;
    /// One dead letter with its job body.
    fn dead_letter(&self, id: i64) -> BoxFuture<'_, Result<Option<DeadLetter>, StoreError>>;
    /// Every attempt at one job, in order.
    fn attempts(&self, job_id: String) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>>;
    /// Writes a fresh job with the key's current state and marks the dead letter replayed.
    fn replay(&self, cx: WriteCtx, id: i64) -> BoxFuture<'_, Result<Replayed, StoreError>>;
    /// Marks an open dead letter discarded with the operator's note.
    fn discard(&self, id: i64, note: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The state of one key (`pending` when the outbox holds a newer version).
    fn status(&self, key: String) -> BoxFuture<'_, Result<Option<ProvisioningStatus>, StoreError>>;
    /// A key's timeline, oldest first.
    fn timeline(&self, key: String) -> BoxFuture<'_, Result<Vec<TimelineEntry>, StoreError>>;
    /// The id of the user with this userName (case-insensitive).
    fn user_id_by_name(
        &self,
        user_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
    /// The id of the group with this displayName (case-insensitive).
    fn group_id_by_name(
        &self,
        display_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>>;
    /// The outbox backlog.
    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>>;
    /// Open dead letters per reason.
    fn open_by_reason(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>>;
    /// How many dead letters match `filter` (paging ignored).
    fn count_dead_letters(
        &self,
        filter: DeadLetterFilter,
    ) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// One page of incidents matching `filter`, latest failure first, with the total.
    fn incidents(&self, filter: IncidentFilter) -> BoxFuture<'_, Result<IncidentPage, StoreError>>;
    /// One incident with its dead letters and its key's timeline.
    fn incident(&self, id: i64) -> BoxFuture<'_, Result<Option<IncidentDetail>, StoreError>>;
    /// Writes one fresh job with the key's current state for an open incident and marks
    /// it and its open dead letters replayed.
    fn replay_incident(
        &self,
        cx: WriteCtx,
        id: i64,
    ) -> BoxFuture<'_, Result<IncidentReplayed, StoreError>>;
    /// Discards an open incident and its open dead letters with a note and who decided.
    fn discard_incident(
        &self,
        id: i64,
        note: String,
        by: String,
    ) -> BoxFuture<'_, Result<IncidentDiscarded, StoreError>>;
    /// Open incidents per cause, most first.
    fn open_incidents_by_cause(&self) -> BoxFuture<'_, Result<Vec<CauseCount>, StoreError>>;
    /// Keys whose last attempt failed transiently (the worker retries them), latest first.
    fn retrying_now(&self, limit: u32) -> BoxFuture<'_, Result<Vec<RetryingKey>, StoreError>>;
    /// Age in seconds of the oldest job written but not yet finished (applied, skipped or
    /// dead-lettered), among the latest jobs.
    fn oldest_waiting_age(&self) -> BoxFuture<'_, Result<Option<f64>, StoreError>>;
    /// Users whose userName or email starts with `prefix` (case-insensitive).
    fn find_users(
        &self,
        prefix: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<UserMatch>, StoreError>>;
    /// Whether the store answers a query.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// `now` in a fixed-width UTC RFC 3339 form, so stored times compare as strings.
pub fn now_fixed() -> String {
    fixed(time::OffsetDateTime::now_utc())
}

/// `t` in the fixed-width form of [`now_fixed`].
pub fn fixed(t: time::OffsetDateTime) -> String {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

impl std::fmt::Debug for dyn AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditStore")
    }
}
