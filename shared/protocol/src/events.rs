//! Outcome events: what a worker did with each attempt at a job, flowing back to the
//! receiver's audit log (docs/DESIGN.md, invariant 7).

use serde::{Deserialize, Serialize};

use crate::keys::JobKey;

/// What happened to one attempt at a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeStatus {
    /// Splashtop now matches the job's desired state.
    Applied,
    /// The job was older than one already applied for its key; nothing was done.
    SkippedStale,
    /// A transient failure; the worker retries in place.
    Retrying,
    /// A permanent failure or an exhausted retry budget; the job is in the dead-letter queue.
    DeadLettered,
    /// Not applied: a newer job of the same key was already delivered to the worker behind
    /// it, and only that one is applied (coalescing; `detail` names it). Nothing was done.
    Superseded,
}

impl OutcomeStatus {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeStatus::Applied => "applied",
            OutcomeStatus::SkippedStale => "skipped_stale",
            OutcomeStatus::Retrying => "retrying",
            OutcomeStatus::DeadLettered => "dead_lettered",
            OutcomeStatus::Superseded => "superseded",
        }
    }
}

/// One outcome event. `event_id` makes consuming it idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeEvent {
    /// Unique id of this event.
    pub event_id: String,
    /// The job.
    pub job_id: String,
    /// The tenant.
    pub tenant: String,
    /// The job key (`tenant/user/<id>` or `tenant/group/<id>`).
    pub key: JobKey,
    /// The key version the job carried.
    pub version: i64,
    /// `user` or `group`.
    pub kind: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// When the attempt ended (RFC 3339).
    pub at: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// Human-readable detail: what was done, or the error.
    #[serde(default)]
    pub detail: String,
    /// Splashtop's HTTP status, when it answered.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Splashtop's error code, when it gave one.
    #[serde(default)]
    pub error_code: Option<String>,
    /// The dead-letter reason class (`permanent`, `retry_budget_exhausted`, …).
    #[serde(default)]
    pub reason: Option<String>,
    /// The Splashtop id of the user or group, once known.
    #[serde(default)]
    pub splashtop_id: Option<String>,
    /// The worker that made the attempt.
    #[serde(default)]
    pub worker: String,
    /// When the worker tries again (RFC 3339), on a transient failure it retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    /// Who the job is about, for operators' logs: the account email of a user job, the
    /// name of a group job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_round_trips_with_snake_case_status() {
        let e = OutcomeEvent {
            event_id: "e1".into(),
            job_id: "j1".into(),
            tenant: "default".into(),
            key: crate::keys::JobKey::parse("default/user/u1").unwrap(),
            version: 2,
            kind: "user".into(),
            attempt: 1,
            at: "2026-01-01T00:00:00Z".into(),
            status: OutcomeStatus::DeadLettered,
            detail: "seat limit".into(),
            http_status: Some(422),
            error_code: Some("seat_limit_reached".into()),
            reason: Some("permanent".into()),
            splashtop_id: None,
            worker: "w1".into(),
            next_attempt_at: None,
            name: None,
        };
        let wire = serde_json::to_value(&e).unwrap();
        assert_eq!(wire["status"], "dead_lettered");
        assert_eq!(serde_json::from_value::<OutcomeEvent>(wire).unwrap(), e);
    }

    #[test]
    fn an_event_of_an_older_worker_has_no_next_attempt() {
        let wire = serde_json::json!({
            "event_id": "e1", "job_id": "j1", "tenant": "default", "key": "default/user/u1",
            "version": 1, "kind": "user", "attempt": 2, "at": "2026-01-01T00:00:00Z",
            "status": "retrying"
        });
        let e: OutcomeEvent = serde_json::from_value(wire).unwrap();
        assert_eq!(e.next_attempt_at, None);
        let mut e = e;
        e.next_attempt_at = Some("2026-01-01T00:00:03Z".into());
        let back = serde_json::to_value(&e).unwrap();
        assert_eq!(back["next_attempt_at"], "2026-01-01T00:00:03Z");
    }

    #[test]
    fn every_status_round_trips_with_its_wire_spelling() {
        for (status, wire) in [
            (OutcomeStatus::Applied, "applied"),
            (OutcomeStatus::SkippedStale, "skipped_stale"),
            (OutcomeStatus::Retrying, "retrying"),
            (OutcomeStatus::DeadLettered, "dead_lettered"),
            (OutcomeStatus::Superseded, "superseded"),
        ] {
            assert_eq!(status.as_str(), wire);
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, wire, "serde and as_str agree");
            assert_eq!(
                serde_json::from_value::<OutcomeStatus>(json).unwrap(),
                status
            );
        }
        assert!(serde_json::from_str::<OutcomeStatus>("\"coalesced\"").is_err());
    }
}
