//! Incidents on the wire: one per account (user key) or group that something failed for,
//! with its current cause and what to do about it; the query that filters them; the
//! answers of their actions, and the confirmation that bulk actions need.

use serde::{Deserialize, Serialize};

use super::records::{DeadLetter, TimelineEntry};

/// An incident's states.
pub mod incident_state {
    /// Failing, waiting for an operator or for a later change.
    pub const OPEN: &str = "open";
    /// Replayed by an operator; the replay's job has not been applied yet.
    pub const REPLAYING: &str = "replaying";
    /// A later job for the key was applied: nothing left to do.
    pub const RESOLVED: &str = "resolved";
    /// An operator decided it no longer matters (with a note).
    pub const DISCARDED: &str = "discarded";
    /// Every state a filter accepts: the four above, `active` (open or replaying) and `all`.
    pub const FILTERS: &[&str] = &[OPEN, REPLAYING, RESOLVED, DISCARDED, "active", "all"];
}

/// What an operator should do about a cause (a Splashtop error code, or the dead-letter
/// reason when Splashtop gave none), in one line (docs/runbook.md has the long form).
pub fn what_to_do(cause: &str) -> &'static str {
    match cause {
        "sso_method_not_found" => "Correct the user's ssoName in the identity provider (that sends a new job) or create the SSO method in Splashtop, then replay.",
        "domain_not_allowed" => "Allow the email's domain for the SSO method in Splashtop, or change the user's SSO method, then replay.",
        "seat_limit_reached" => "Free a seat or buy more in Splashtop, then replay every incident of this cause.",
        "email_owned_by_other_team" => "The other Splashtop team must release the account; otherwise discard with a note.",
        "group_limit_reached" => "Delete unused groups in Splashtop (a team has at most 2000), then replay.",
        "response_too_large" => "Check that SPLASHTOP_API_URL points at the Splashtop API; raise SPLASHTOP_MAX_BODY_BYTES only for a team whose answers really are that large.",
        "http_301" | "http_302" | "http_307" | "http_308" => "SPLASHTOP_API_URL answered a redirect: set it to where the redirect points if that is really Splashtop.",
        "retry_budget_exhausted" => "Splashtop was down or throttling longer than the retry budget: replay once it is healthy.",
        "delivery_limit" => "A worker failed on this job 20 times: find the panic in the worker logs by job id, fix it, then replay.",
        "undecodable" => "The message was not a job: discard it with a note and find who published it.",
        _ => "Read Splashtop's answer, fix the cause, then replay (or discard with a note if it no longer matters).",
    }
}

/// The cause of a failure: Splashtop's error code, else the dead-letter reason.
pub fn cause_of(error_code: Option<&str>, reason: &str) -> String {
    error_code
        .filter(|c| !c.is_empty())
        .unwrap_or(reason)
        .to_string()
}

/// One incident: everything that failed for one key since it was last fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Incident {
    /// Its id.
    pub id: i64,
    /// The tenant.
    pub tenant: String,
    /// The job key (`tenant/user/<id>`, `tenant/group/<id>`; `unknown/<job id>` when the
    /// failed message named none).
    pub key: String,
    /// `user`, `group` or `unknown`.
    pub kind: String,
    /// The user's or group's directory id.
    pub object_id: String,
    /// The user's userName or the group's displayName.
    pub name: Option<String>,
    /// The user's account email.
    pub email: Option<String>,
    /// One of [`incident_state`]'s states.
    pub state: String,
    /// The current cause: the latest failure's Splashtop code, else its reason.
    pub cause: String,
    /// The latest failure's dead-letter reason (`permanent`, `retry_budget_exhausted`…).
    pub reason: String,
    /// The latest failure's Splashtop error code.
    pub error_code: Option<String>,
    /// The latest failure's HTTP status.
    pub http_status: Option<i64>,
    /// What Splashtop said the latest time (or the error text).
    pub message: String,
    /// What to do about the cause, in one line.
    pub what_to_do: String,
    /// When its first failure arrived.
    pub first_seen: String,
    /// When its latest failure arrived.
    pub last_seen: String,
    /// Attempts made over all its failed jobs.
    pub attempts: i64,
    /// Dead-letter records under it.
    pub dead_letters: i64,
    /// The latest failed job.
    pub last_job_id: String,
    /// The directory version the latest failed job carried.
    pub last_version: i64,
    /// A transient error the key is retrying right now, shown beside the cause (never
    /// instead of it).
    pub retrying: Option<String>,
    /// How often it reopened after resolving.
    pub reopened: i64,
    /// When it was resolved or discarded.
    pub closed_at: Option<String>,
    /// The applied job that resolved it.
    pub resolved_by_job: Option<String>,
    /// The job its latest replay wrote.
    pub replay_job_id: Option<String>,
    /// When it was last replayed.
    pub replayed_at: Option<String>,
    /// The operator's note on discard.
    pub note: Option<String>,
    /// Who discarded it.
    pub discarded_by: Option<String>,
}

/// Which incidents: a query string (list) or part of a bulk action's body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// `open` (default), `replaying`, `resolved`, `discarded`, `active` (open or
    /// replaying) or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Exact cause: a Splashtop code (`seat_limit_reached`…) or a reason
    /// (`retry_budget_exhausted`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// A person: prefix of the userName or the email, case-insensitive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    /// A group: prefix of its displayName (its own incidents and its members').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `user` or `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Exact job key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// First seen at least this long ago: `90s`, `15m`, `2h`, `7d` or seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<String>,
    /// Last seen at most this long ago, same spelling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_than: Option<String>,
    /// Rows per page (1 to 1000; default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Rows skipped (paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
}

impl IncidentQuery {
    /// Whether it narrows nothing down (paging aside).
    pub fn is_unfiltered(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        ![
            &self.cause,
            &self.person,
            &self.group,
            &self.kind,
            &self.key,
            &self.older_than,
            &self.newer_than,
        ]
        .into_iter()
        .any(set)
    }
}

/// One page of incidents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentPage {
    /// Incidents matching the filter, all pages together.
    pub total: i64,
    /// Rows skipped.
    pub offset: u32,
    /// Rows per page.
    pub limit: u32,
    /// This page, latest failure first.
    pub incidents: Vec<Incident>,
}

/// One incident with its dead-letter records and its key's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentDetail {
    /// The incident.
    pub incident: Incident,
    /// Its dead-letter records, newest first.
    pub dead_letters: Vec<DeadLetter>,
    /// Its key's timeline, oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// Open incidents of one cause (the overview).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CauseCount {
    /// The cause.
    pub cause: String,
    /// Open incidents.
    pub count: i64,
    /// What to do about it.
    pub what_to_do: String,
}

/// A key retrying right now: its last attempt failed transiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RetryingKey {
    /// The key.
    pub key: String,
    /// `user` or `group`.
    pub kind: String,
    /// The userName or the group's displayName.
    pub name: Option<String>,
    /// The last attempt's number.
    pub attempt: i64,
    /// When the last attempt failed.
    pub at: String,
    /// What it failed with.
    pub error: Option<String>,
    /// When the worker tries again, if it said.
    pub next_attempt: Option<String>,
    /// The worker retrying it.
    pub worker: String,
}

/// A user found by a userName or email prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct UserMatch {
    /// The directory id.
    pub id: String,
    /// The userName.
    pub user_name: String,
    /// The work email (or the first one).
    pub email: Option<String>,
}

/// What replaying an incident did: one fresh job with the key's current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentReplayed {
    /// The incident.
    pub incident: i64,
    /// The key.
    pub key: String,
    /// The fresh job written to the outbox.
    pub job_id: String,
    /// The directory version it carries.
    pub version: i64,
    /// The dead-letter records marked replayed with it.
    pub dead_letters: Vec<i64>,
}

/// The body of an incident's discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct IncidentDiscardBody {
    /// Why (required: it stays with the incident).
    pub note: String,
    /// Who decides (free text: a name or an e-mail; default: the channel used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// What a discard did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct IncidentDiscarded {
    /// The incident.
    pub incident: i64,
    /// The note.
    pub note: String,
    /// Who.
    pub by: String,
    /// When.
    pub at: String,
    /// The dead-letter records discarded with it.
    pub dead_letters: Vec<i64>,
}

/// The body of replay-all and discard-all. A first call without `confirm` only counts
/// and answers a confirmation token; the same filter sent again with that token acts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// Which incidents (open ones only; paging is ignored).
    #[serde(default)]
    pub filter: IncidentQuery,
    /// Needed when the filter is empty: every open incident is meant.
    #[serde(default)]
    pub all: bool,
    /// The token of the counting call: it binds the action to the filter and the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// Discard-all: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Discard-all: who.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// One incident a bulk action could not act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkFailure {
    /// The incident.
    pub incident: i64,
    /// The HTTP status it would have had alone.
    pub status: u16,
    /// Why.
    pub message: String,
}

/// The answer of replay-all or discard-all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkAnswer {
    /// `replay` or `discard`.
    pub action: String,
    /// Incidents matching the filter now.
    pub count: i64,
    /// Whether it acted (false: only counted; send `confirm` to act).
    pub done: bool,
    /// The token to send back as `confirm` (counting calls only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    /// Replayed incidents.
    #[serde(default)]
    pub replayed: Vec<IncidentReplayed>,
    /// Discarded incidents.
    #[serde(default)]
    pub discarded: Vec<IncidentDiscarded>,
    /// Incidents it could not act on.
    #[serde(default)]
    pub failed: Vec<BulkFailure>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_the_code_else_the_reason_and_each_has_advice() {
        assert_eq!(
            cause_of(Some("seat_limit_reached"), "permanent"),
            "seat_limit_reached"
        );
        assert_eq!(
            cause_of(None, "retry_budget_exhausted"),
            "retry_budget_exhausted"
        );
        assert!(what_to_do("seat_limit_reached").contains("seat"));
        assert_ne!(what_to_do("sso_method_not_found"), what_to_do("nothing"));
    }

    #[test]
    fn only_paging_is_no_filter() {
        let q = IncidentQuery {
            limit: Some(5),
            state: Some("open".into()),
            ..IncidentQuery::default()
        };
        assert!(q.is_unfiltered());
        let q = IncidentQuery {
            cause: Some("seat_limit_reached".into()),
            ..q
        };
        assert!(!q.is_unfiltered());
        assert!(serde_json::from_str::<BulkRequest>(r#"{"filter":{},"colour":1}"#).is_err());
    }
}
