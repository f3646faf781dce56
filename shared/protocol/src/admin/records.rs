//! What the audit store holds, on the wire: dead letters, attempts, timeline lines. The
//! receiver's directory stores and reads them; the admin API answers them; the CLI reads
//! them back.

use serde::{Deserialize, Serialize};

/// A stored dead letter: one failed job as the dead-letter queue delivered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeadLetter {
    /// Its id in the dead-letters table.
    pub id: i64,
    /// The job id.
    pub job_id: String,
    /// The tenant.
    pub tenant: String,
    /// The job key.
    pub key: String,
    /// `user`, `group` or `unknown`.
    pub kind: String,
    /// The key version the job carried.
    pub version: i64,
    /// Why it was dead-lettered (`permanent`, `retry_budget_exhausted`…).
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
    /// `open`, `replayed`, `discarded` or `resolved` (a later job for its key was applied).
    pub state: String,
    /// When it was replayed, discarded or resolved.
    pub resolved_at: Option<String>,
    /// The operator's note on discard.
    pub note: Option<String>,
    /// The job a replay wrote.
    pub replay_job_id: Option<String>,
    /// The SCIM call that caused the job (from the outbox).
    pub origin: Option<String>,
    /// The incident it belongs to.
    #[serde(default)]
    pub incident_id: Option<i64>,
    /// The person's userName or the group's displayName, when known.
    #[serde(default)]
    pub name: Option<String>,
    /// The person's account email, when known.
    #[serde(default)]
    pub email: Option<String>,
    /// The job body (on `show` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<serde_json::Value>,
}

/// One outcome event as stored: one attempt at a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TimelineEntry {
    /// When.
    pub at: String,
    /// `asked`, `attempt`, `dead-lettered`, `replayed`, `discarded`, `resolved`, or
    /// `warning` (a group member kept but not provisioned).
    pub what: String,
    /// The job concerned (empty for a warning).
    pub job_id: String,
    /// What was asked (the SCIM call), what Splashtop answered, or the operator's note.
    pub detail: String,
    /// The attempt's status, for `attempt` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Splashtop's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i64>,
}
