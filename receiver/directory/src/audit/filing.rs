//! Incident rules, the same on both engines: the key an incident is about, the names it
//! shows, and where a dead letter is filed (the active incident, a resolved one it
//! reopens or only counts under, or a new one). Pure: each engine reads what these take
//! and writes what they decide, in its own SQL and transaction.

use splashsync_protocol::admin::incident_state;
use splashsync_protocol::job::Job;
use splashsync_protocol::JobKey;

use crate::error::StoreError;
use crate::rows::Get;

/// The key an incident is about: the dead letter's, or one of its own when the failed
/// message named none.
pub(crate) fn incident_key(key: &str, job_id: &str) -> String {
    if key.is_empty() {
        format!("unknown/{job_id}")
    } else {
        key.to_string()
    }
}

/// The id of the user or group an incident's `key` is about (the job's id when the key
/// is none of the directory's).
pub(crate) fn object_id(key: &str, job_id: &str) -> String {
    JobKey::parse(key).map_or_else(|| job_id.to_string(), |k| k.id().to_string())
}

/// The statement reading the current name of an object of `kind` (its one argument: the
/// object's id), or `None` when the directory keeps no such object.
pub(crate) fn current_name_sql(kind: &str) -> Option<&'static str> {
    match kind {
        "user" => Some("SELECT user_name FROM users WHERE id = $1"),
        "group" => Some("SELECT display_name FROM groups WHERE id = $1"),
        _ => None,
    }
}

/// The userName (or group displayName) and email an incident shows: the directory's
/// `current` name when it still has the record, else what the failed job (`payload`)
/// carried; an empty name or email is none.
pub(crate) fn names(payload: &str, current: Option<String>) -> (Option<String>, Option<String>) {
    let (name, email) = match serde_json::from_str::<Job>(payload).ok() {
        Some(Job::UserV1(u)) => (
            Some(u.state.user_name),
            Some(u.state.email).filter(|e| !e.is_empty()),
        ),
        Some(Job::GroupV1(g)) => (Some(g.state.display_name), None),
        None => (None, None),
    };
    let name = current.or(name);
    (name.filter(|n| !n.is_empty()), email)
}

/// A key's latest incident, as filing reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Latest {
    /// Its id.
    pub(crate) id: i64,
    /// One of [`incident_state`]'s values.
    pub(crate) state: String,
    /// The latest version a dead letter under it was about.
    pub(crate) last_version: i64,
}

impl Latest {
    /// From a row of `id, state, last_version`.
    pub(crate) fn from_row(r: &impl Get) -> Result<Latest, StoreError> {
        Ok(Latest {
            id: r.get("id")?,
            state: r.get("state")?,
            last_version: r.get("last_version")?,
        })
    }
}

/// Where a dead letter goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filing {
    /// Joins active incident `id`; `newer`: it is about the latest failed version (a tie
    /// goes to the one arriving now) and sets the cause.
    Join {
        /// The incident.
        id: i64,
        /// Whether its failure becomes the incident's.
        newer: bool,
    },
    /// Late news about a version applied since: counted under resolved incident `id`.
    Late {
        /// The incident.
        id: i64,
    },
    /// A new failure after resolved incident `id`: it reopens it.
    Reopen {
        /// The incident.
        id: i64,
    },
    /// A new incident, resolved from the start when a later version was applied since.
    New {
        /// Whether it is filed resolved.
        resolved: bool,
    },
}

impl Filing {
    /// Files a dead letter about `version` given the key's `latest` incident and whether
    /// a version after it was `applied_since`.
    pub(crate) fn of(latest: Option<&Latest>, applied_since: bool, version: i64) -> Filing {
        let state = latest.map(|l| l.state.as_str());
        match (latest, state) {
            (Some(l), Some(incident_state::OPEN | incident_state::REPLAYING)) => Filing::Join {
                id: l.id,
                newer: version >= l.last_version,
            },
            (Some(l), Some(incident_state::RESOLVED)) if applied_since => Filing::Late { id: l.id },
            (Some(l), Some(incident_state::RESOLVED)) => Filing::Reopen { id: l.id },
            _ => Filing::New {
                resolved: applied_since,
            },
        }
    }

    /// The state the dead letter is filed in: resolved when it arrived after a fix.
    pub(crate) fn dead_letter_state(&self) -> &'static str {
        match self {
            Filing::Late { .. } | Filing::New { resolved: true } => "resolved",
            _ => "open",
        }
    }
}

/// The key of an incident an operator acts on, or why it cannot be: it does not exist or
/// is closed (resolved or discarded).
pub(crate) fn actionable(id: i64, row: Option<(String, String)>) -> Result<String, StoreError> {
    let (key, state) = row.ok_or_else(|| StoreError::NotFound(format!("incident {id}")))?;
    if state == incident_state::RESOLVED || state == incident_state::DISCARDED {
        return Err(StoreError::IncidentClosed { id, state });
    }
    Ok(key)
}

/// The note a discarded incident leaves on each of its dead letters.
pub(crate) fn discard_note(note: &str, id: i64, by: &str) -> String {
    format!("{note} (incident {id}, by {by})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latest(state: &str, last_version: i64) -> Latest {
        Latest {
            id: 7,
            state: state.into(),
            last_version,
        }
    }

    #[test]
    fn a_dead_letter_joins_the_active_incident_and_the_latest_failure_sets_the_cause() {
        let open = latest(incident_state::OPEN, 3);
        assert_eq!(
            Filing::of(Some(&open), false, 3),
            Filing::Join { id: 7, newer: true }
        );
        assert_eq!(
            Filing::of(Some(&open), true, 2),
            Filing::Join {
                id: 7,
                newer: false
            }
        );
        let replaying = latest(incident_state::REPLAYING, 1);
        assert_eq!(
            Filing::of(Some(&replaying), false, 4),
            Filing::Join { id: 7, newer: true }
        );
        assert_eq!(Filing::of(Some(&open), true, 2).dead_letter_state(), "open");
    }

    #[test]
    fn after_a_resolution_a_failure_reopens_but_late_news_is_only_counted() {
        let resolved = latest(incident_state::RESOLVED, 3);
        let reopen = Filing::of(Some(&resolved), false, 4);
        assert_eq!(reopen, Filing::Reopen { id: 7 });
        assert_eq!(reopen.dead_letter_state(), "open");
        let late = Filing::of(Some(&resolved), true, 2);
        assert_eq!(late, Filing::Late { id: 7 });
        assert_eq!(late.dead_letter_state(), "resolved");
    }

    #[test]
    fn no_incident_or_a_discarded_one_opens_a_new_one_resolved_when_fixed_since() {
        let discarded = latest(incident_state::DISCARDED, 3);
        for previous in [None, Some(&discarded)] {
            let fresh = Filing::of(previous, false, 1);
            assert_eq!(fresh, Filing::New { resolved: false });
            assert_eq!(fresh.dead_letter_state(), "open");
            let fixed = Filing::of(previous, true, 1);
            assert_eq!(fixed, Filing::New { resolved: true });
            assert_eq!(fixed.dead_letter_state(), "resolved");
        }
    }

    #[test]
    fn the_directory_name_wins_over_the_jobs_and_empty_names_are_none() {
        assert_eq!(names("not a job", None), (None, None));
        assert_eq!(
            names("not a job", Some("ada@example.com".into())),
            (Some("ada@example.com".into()), None)
        );
        assert_eq!(names("", Some(String::new())), (None, None));
    }

    #[test]
    fn closed_or_missing_incidents_cannot_be_acted_on() {
        let row = |state: &str| Some(("tenant/user/u1".to_string(), state.to_string()));
        assert_eq!(
            actionable(1, row(incident_state::OPEN)).unwrap(),
            "tenant/user/u1"
        );
        assert!(matches!(
            actionable(1, row(incident_state::RESOLVED)),
            Err(StoreError::IncidentClosed { id: 1, .. })
        ));
        assert!(matches!(
            actionable(1, row(incident_state::DISCARDED)),
            Err(StoreError::IncidentClosed { .. })
        ));
        assert!(matches!(actionable(2, None), Err(StoreError::NotFound(_))));
    }
}
