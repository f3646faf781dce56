//! The admin API's answers as types: every handler answers one of these (or a wire type of
//! `splashsync_protocol::admin`), and the OpenAPI document's schemas are generated from
//! the same types, so the description cannot drift from what is sent.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use splashsync_directory::audit::{
    Attempt, CauseCount, DeadLetter, Incident, OutboxStats, ProvisioningStatus, Replayed,
    RetryingKey, TimelineEntry,
};

use crate::broker::QueueDepth;

/// `GET /dead-letters`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeadLetterList {
    /// Rows in this page.
    pub count: usize,
    /// Dead letters matching the filter, all pages together.
    pub total: i64,
    /// Rows skipped.
    pub offset: u32,
    /// This page, newest first.
    pub dead_letters: Vec<DeadLetter>,
}

/// `GET /dead-letters/{id}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DeadLetterShow {
    /// The dead letter, with its job.
    pub dead_letter: DeadLetter,
    /// Every attempt at its job.
    pub attempts: Vec<Attempt>,
    /// Its key's provisioning state now.
    pub status: Option<ProvisioningStatus>,
}

/// `POST /dead-letters/{id}/replay`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayedOne {
    /// What the replay wrote.
    pub replayed: Replayed,
}

/// One dead letter a batch could not replay.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Failure {
    /// The dead letter.
    pub id: i64,
    /// The HTTP status it would have had alone.
    pub status: u16,
    /// Why.
    pub message: String,
}

/// `POST /dead-letters/replay`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReplayedMatching {
    /// Replayed dead letters.
    pub replayed: Vec<Replayed>,
    /// Dead letters that could not be replayed.
    pub failed: Vec<Failure>,
}

/// `POST /dead-letters/{id}/discard`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Discarded {
    /// The dead letter.
    pub discarded: i64,
    /// The note kept.
    pub note: String,
}

/// `GET /users/{userName}/status`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserStatus {
    /// The userName.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// The directory id.
    pub id: String,
    /// The job key.
    pub key: String,
    /// The provisioning state.
    pub status: Option<ProvisioningStatus>,
    /// Its open or replaying incident: the cause to fix, even while a transient error is
    /// being retried.
    pub incident: Option<Incident>,
    /// What was asked and answered, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// `GET /groups/{id}/status`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GroupStatus {
    /// The directory id.
    pub id: String,
    /// The job key.
    pub key: String,
    /// The provisioning state.
    pub status: Option<ProvisioningStatus>,
    /// Its open or replaying incident.
    pub incident: Option<Incident>,
    /// What was asked and answered, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// `GET /queues`: what is wrong first (incidents, retries, waiting), then the backlog.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Stats {
    /// Open incidents (people and groups waiting for an operator).
    pub incidents_open: i64,
    /// Open incidents per cause, most first, with what to do.
    pub incidents_by_cause: Vec<CauseCount>,
    /// Keys retrying a transient failure now (the latest 50).
    pub retrying_now: Vec<RetryingKey>,
    /// Age of the oldest job written but not finished yet, in seconds.
    pub oldest_waiting_job_age_seconds: Option<f64>,
    /// Partition queues.
    pub partitions: Vec<QueueDepth>,
    /// The other queues (dead letters, events).
    pub queues: Vec<QueueDepth>,
    /// Why the queue depths are missing, when RabbitMQ did not answer.
    pub broker_error: Option<String>,
    /// The outbox backlog.
    pub outbox: OutboxStats,
    /// Open dead-letter records per reason.
    pub dead_letters_open: BTreeMap<String, i64>,
    /// Jobs finished per minute over the last 5 minutes.
    pub drain_rate_per_minute: f64,
}

/// `POST /reconcile` (202): the run started and where its report is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReconcileStarted {
    /// The run's id.
    pub run: i64,
    /// The admin API path of its report.
    pub report: String,
}

/// `GET /reconcile`: the newest runs, without their items.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReconcileRuns {
    /// Runs in this answer.
    pub count: usize,
    /// The runs, newest first.
    pub runs: Vec<splashsync_protocol::reconcile::ReconcileReport>,
}
