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
//! - [`timeline`]: a key's timeline, merged from the outbox, the events and the dead letters.

pub mod intake;
pub mod replay;
pub mod sqlite;
pub mod timeline;

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Serialize;
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

/// A stored dead letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    /// Its id in the dead-letters table.
    pub id: i64,
    /// The job id.
    pub job_id: String,
    /// The tenant.
    pub tenant: String,
    /// The job key.
    pub key: String,
    /// `user` or `group`.
    pub kind: String,
    /// The key version the job carried.
    pub version: i64,
    /// Why it was dead-lettered.
    pub reason: String,
    /// Splashtop's HTTP status.
    pub http_status: Option<i64>,
    /// Splashtop's error code.
    pub error_code: Option<String>,
    /// Splashtop's answer or the error text.
    pub error_body: String,
    /// Attempts made.
    pub attempts: i64,
    /// First attempt.
    pub first_attempt: Option<String>,
    /// Last attempt.
    pub last_attempt: Option<String>,
    /// When the receiver took it from the queue.
    pub received_at: String,
    /// `open`, `replayed` or `discarded`.
    pub state: String,
    /// When it was replayed or discarded.
    pub resolved_at: Option<String>,
    /// The operator's note on discard.
    pub note: Option<String>,
    /// The job a replay wrote.
    pub replay_job_id: Option<String>,
    /// The SCIM call that caused the job (from the outbox).
    pub origin: Option<String>,
    /// The job body (on `show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<serde_json::Value>,
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
    /// `open` (default), `replayed`, `discarded` or `all`.
    pub state: Option<String>,
    /// Received at least this long ago.
    pub older_than: Option<Duration>,
    /// Received at most this long ago.
    pub newer_than: Option<Duration>,
    /// Most rows returned (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// One outcome event as stored: one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// The job.
    pub job_id: String,
    /// Attempt number.
    pub attempt: i64,
    /// When it ended.
    pub at: String,
    /// `applied`, `skipped_stale`, `retrying`, `dead_lettered`.
    pub status: String,
    /// What happened, or the error.
    pub detail: String,
    /// Splashtop's HTTP status.
    pub http_status: Option<i64>,
    /// Splashtop's error code.
    pub error_code: Option<String>,
    /// The worker.
    pub worker: String,
}

/// One line of a key's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineEntry {
    /// When.
    pub at: String,
    /// `asked`, `attempt`, `dead-lettered`, `replayed`, `discarded`, or `warning` (a
    /// group member kept but not provisioned).
    pub what: String,
    /// The job concerned (empty for a warning).
    pub job_id: String,
    /// What was asked (the SCIM call), what Splashtop answered, or the operator's note.
    pub detail: String,
    /// The attempt's status, for `attempt` lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Splashtop's HTTP status, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i64>,
}

/// The outbox backlog.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
