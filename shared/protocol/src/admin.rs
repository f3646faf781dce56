//! The operators' admin API on the wire (`/admin`, JSON): its paths, the request bodies
//! and query strings, and the error body, shared by the receiver's admin service and the
//! `splashsync` CLI.
//!
//! A module of this crate rather than a crate of its own: like jobs and events it is a
//! contract between two splashsync processes, it needs nothing but serde, and it is
//! available without the `amqp` feature, so the CLI links neither lapin nor sqlx.

use serde::{Deserialize, Serialize};

mod floor;
mod incidents;
mod records;
mod workers;

pub use floor::{FloorQuery, KeyFloor};
pub use incidents::{
    cause_of, incident_state, what_to_do, BulkAnswer, BulkFailure, BulkRequest, CauseCount,
    Incident, IncidentDetail, IncidentDiscardBody, IncidentDiscarded, IncidentPage, IncidentQuery,
    IncidentReplayed, RetryingKey, UserMatch,
};
pub use records::{Attempt, DeadLetter, TimelineEntry};
pub use workers::{WorkerInfo, WorkerList};

/// Where the admin API is mounted.
pub const PREFIX: &str = "/admin";

/// Route templates under [`PREFIX`] (axum's and OpenAPI's `{param}` spelling).
pub mod route {
    /// List dead letters (GET).
    pub const DEAD_LETTERS: &str = "/dead-letters";
    /// Replay every open dead letter matching a [`super::FilterParams`] body (POST).
    pub const REPLAY_MATCHING: &str = "/dead-letters/replay";
    /// One dead letter (GET).
    pub const DEAD_LETTER: &str = "/dead-letters/{id}";
    /// Replay one dead letter (POST).
    pub const REPLAY: &str = "/dead-letters/{id}/replay";
    /// Discard one dead letter with a [`super::DiscardBody`] (POST).
    pub const DISCARD: &str = "/dead-letters/{id}/discard";
    /// A user's state and timeline, by userName (GET).
    pub const USER_STATUS: &str = "/users/{user_name}/status";
    /// A group's state and timeline, by id (GET).
    pub const GROUP_STATUS: &str = "/groups/{id}/status";
    /// Queue statistics (GET).
    pub const QUEUES: &str = "/queues";
    /// List incidents (GET) with an [`super::IncidentQuery`].
    pub const INCIDENTS: &str = "/incidents";
    /// Replay every open incident of a [`super::BulkRequest`] (POST; counts first).
    pub const REPLAY_INCIDENTS: &str = "/incidents/replay";
    /// Discard every open incident of a [`super::BulkRequest`] (POST; counts first).
    pub const DISCARD_INCIDENTS: &str = "/incidents/discard";
    /// One incident with its dead letters and timeline (GET).
    pub const INCIDENT: &str = "/incidents/{id}";
    /// Replay one incident: one fresh job with the key's current state (POST).
    pub const REPLAY_INCIDENT: &str = "/incidents/{id}/replay";
    /// Discard one incident with an [`super::IncidentDiscardBody`] (POST).
    pub const DISCARD_INCIDENT: &str = "/incidents/{id}/discard";
    /// Every worker heard from, from its heartbeats (GET).
    pub const WORKERS: &str = "/workers";
    /// What the directory knows of a key, for workers that lost their Redis state (GET)
    /// with a [`super::FloorQuery`].
    pub const FLOOR: &str = "/floor";
    /// The OpenAPI document, served without the token (GET).
    pub const OPENAPI: &str = "/openapi.json";
}

/// The path of one dead letter.
pub fn dead_letter_path(id: i64) -> String {
    format!("/dead-letters/{id}")
}

/// The path that replays one dead letter.
pub fn replay_path(id: i64) -> String {
    format!("/dead-letters/{id}/replay")
}

/// The path that discards one dead letter.
pub fn discard_path(id: i64) -> String {
    format!("/dead-letters/{id}/discard")
}

/// The path of one incident.
pub fn incident_path(id: i64) -> String {
    format!("/incidents/{id}")
}

/// The path that replays one incident.
pub fn incident_replay_path(id: i64) -> String {
    format!("/incidents/{id}/replay")
}

/// The path that discards one incident.
pub fn incident_discard_path(id: i64) -> String {
    format!("/incidents/{id}/discard")
}

/// The status path of a user, its userName percent-encoded (`@` kept: it is legal there).
pub fn user_status_path(user_name: &str) -> String {
    format!("/users/{}/status", path_segment(user_name))
}

/// The status path of a group, by its id or displayName, percent-encoded.
pub fn group_status_path(id_or_name: &str) -> String {
    format!("/groups/{}/status", path_segment(id_or_name))
}

/// `s` as one path segment: unreserved characters and `@` as they are, the rest
/// percent-encoded.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A dead-letter filter, as a query string (list) or a JSON body (replay matching).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// Exact reason (`permanent`, `retry_budget_exhausted`, `delivery_limit`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Exact tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Exact job key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `open` (default), `replayed`, `discarded`, `resolved` or `all`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Received at least this long ago: `90s`, `15m`, `2h`, `7d` or seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub older_than: Option<String>,
    /// Received at most this long ago, same spelling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer_than: Option<String>,
    /// Most rows (1 to 1000; default 100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Rows skipped (paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

/// The body of a discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DiscardBody {
    /// Why the dead letter is discarded (required: the audit log keeps it).
    pub note: String,
}

/// Every admin API error: `{"error": {"status", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorDetail {
    /// The HTTP status.
    pub status: u16,
    /// What went wrong, for the operator.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_sends_only_what_is_set() {
        let f = FilterParams {
            reason: Some("permanent".into()),
            limit: Some(5),
            ..FilterParams::default()
        };
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({"reason": "permanent", "limit": 5})
        );
        let back: FilterParams = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<FilterParams>(r#"{"colour": "red"}"#).is_err());
    }

    #[test]
    fn a_user_name_is_percent_encoded_in_its_path() {
        assert_eq!(user_status_path("a b@x.com"), "/users/a%20b@x.com/status");
        assert_eq!(user_status_path("a/b"), "/users/a%2Fb/status");
    }
}
