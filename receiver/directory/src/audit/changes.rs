//! What the intake and a replay do to a key's provisioning state, the same on both
//! engines: each engine writes the [`StateChange`] these decide with its own upsert,
//! which applies it only when it is about the same or a newer version.

use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::JobKey;

use super::{state, NewDeadLetter};

/// A key's new state, applied only if it is about the same or a newer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateChange<'a> {
    /// The key.
    pub(crate) key: &'a str,
    /// Its tenant.
    pub(crate) tenant: &'a str,
    /// `user` or `group`.
    pub(crate) kind: &'a str,
    /// One of [`state`]'s values.
    pub(crate) state: &'a str,
    /// The version the state is about.
    pub(crate) version: i64,
    /// The failure, while not applied.
    pub(crate) last_error: Option<String>,
    /// Splashtop's id, when the outcome names it (kept otherwise).
    pub(crate) splashtop_id: Option<String>,
}

/// " CODE" for an error code, nothing without one.
fn code_suffix(code: Option<&str>) -> String {
    code.map(|c| format!(" {c}")).unwrap_or_default()
}

/// The state outcome `e` leaves on its key (`key`: `e.key` as text), or `None` for a
/// skipped-stale or superseded one: a newer version's state stands, and only the
/// Splashtop id it learnt is kept.
pub(crate) fn of_outcome<'a>(e: &'a OutcomeEvent, key: &'a str) -> Option<StateChange<'a>> {
    let error = || {
        let http = e
            .http_status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| "error".into());
        let code = code_suffix(e.error_code.as_deref());
        Some(format!("{http}{code}: {}", e.detail))
    };
    let (new_state, last_error) = match e.status {
        OutcomeStatus::Applied => (state::APPLIED, None),
        OutcomeStatus::Retrying => (state::RETRYING, error()),
        OutcomeStatus::DeadLettered => (state::DEAD_LETTERED, error()),
        OutcomeStatus::SkippedStale | OutcomeStatus::Superseded => return None,
    };
    Some(StateChange {
        key,
        tenant: &e.tenant,
        kind: &e.kind,
        state: new_state,
        version: e.version,
        last_error,
        splashtop_id: e.splashtop_id.clone(),
    })
}

/// The state a dead letter leaves on its key, or `None` when it named no key.
pub(crate) fn of_dead_letter(d: &NewDeadLetter) -> Option<StateChange<'_>> {
    if d.key.is_empty() {
        return None;
    }
    let code = code_suffix(d.error_code.as_deref());
    Some(StateChange {
        key: &d.key,
        tenant: &d.tenant,
        kind: &d.kind,
        state: state::DEAD_LETTERED,
        version: d.version,
        last_error: Some(format!("{}{code}: {}", d.reason, d.error_body)),
        splashtop_id: None,
    })
}

/// The id a dead letter is stored under: a redelivery (the receiver died before its ack)
/// has the same job and last attempt, and is stored once.
pub(crate) fn delivery_id(d: &NewDeadLetter) -> String {
    format!("{}@{}", d.job_id, d.last_attempt.as_deref().unwrap_or("-"))
}

/// A replay's fresh job at `version` makes `key` pending again.
pub(crate) fn pending<'a>(key: &'a str, parsed: &'a JobKey, version: i64) -> StateChange<'a> {
    StateChange {
        key,
        tenant: parsed.tenant().as_str(),
        kind: parsed.kind().as_str(),
        state: state::PENDING,
        version,
        last_error: None,
        splashtop_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_letter(key: &str) -> NewDeadLetter {
        NewDeadLetter {
            job_id: "j1".into(),
            tenant: "default".into(),
            key: key.into(),
            kind: "user".into(),
            version: 4,
            reason: "permanent".into(),
            http_status: Some(400),
            error_code: Some("E_BAD".into()),
            error_body: "no such team".into(),
            attempts: 1,
            first_attempt: None,
            last_attempt: Some("2026-01-01T00:00:00.000Z".into()),
            payload: String::new(),
        }
    }

    #[test]
    fn a_dead_letter_marks_its_key_dead_lettered_with_reason_and_code() {
        let d = dead_letter("default/user/u1");
        let change = of_dead_letter(&d).unwrap();
        assert_eq!(change.state, state::DEAD_LETTERED);
        assert_eq!(change.version, 4);
        assert_eq!(
            change.last_error.as_deref(),
            Some("permanent E_BAD: no such team")
        );
        assert_eq!(delivery_id(&d), "j1@2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_dead_letter_without_a_key_changes_no_state() {
        let d = NewDeadLetter {
            last_attempt: None,
            ..dead_letter("")
        };
        assert_eq!(of_dead_letter(&d), None);
        assert_eq!(delivery_id(&d), "j1@-");
    }
}
