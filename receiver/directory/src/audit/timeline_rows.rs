//! What a key's timeline is made of, the same on both engines: what was asked (the
//! outbox: which SCIM call, when), what Splashtop answered attempt by attempt (the outcome
//! events), what became of dead letters and incidents, and for a group the members kept
//! but not provisioned (warnings, while they last). Each engine runs [`Source::sql`] on
//! its own pool and gives the rows to [`Source::entries`].

use splashsync_protocol::admin::cause_of;
use splashsync_protocol::{JobKey, KeyKind};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::TimelineEntry;
use crate::error::StoreError;
use crate::plan::unresolved_warning;
use crate::rows::Get;

/// Most entries of each source a timeline shows (the latest ones).
pub(crate) const MAX_ENTRIES: i64 = 500;

/// Where timeline entries come from, in the order they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The outbox: the jobs written for the key.
    Asked,
    /// The outcome events: each attempt.
    Attempts,
    /// The dead letters, and what became of each.
    DeadLetters,
    /// The incidents: opened, replayed, resolved, discarded.
    Incidents,
    /// A group's members that are no user of this directory.
    Warnings,
}

impl Source {
    /// Every source, in the order a timeline reads them.
    pub(crate) const ALL: [Source; 5] = [
        Source::Asked,
        Source::Attempts,
        Source::DeadLetters,
        Source::Incidents,
        Source::Warnings,
    ];

    /// The statement reading this source: `$1` is [`Source::subject`], `$2` [`MAX_ENTRIES`].
    pub(crate) fn sql(self) -> &'static str {
        match self {
            Source::Asked => {
                "SELECT job_id, version, origin, created_at, sent_at FROM outbox WHERE key = $1 \
                 ORDER BY seq DESC LIMIT $2"
            }
            Source::Attempts => {
                "SELECT job_id, attempt, at, status, detail, http_status, error_code, next_attempt_at \
                 FROM audit_events \
                 WHERE key = $1 ORDER BY at DESC LIMIT $2"
            }
            Source::DeadLetters => {
                "SELECT id, job_id, reason, error_code, error_body, received_at, state, resolved_at, note, \
                 replay_job_id, incident_id FROM dead_letters WHERE key = $1 ORDER BY id DESC LIMIT $2"
            }
            Source::Incidents => {
                "SELECT id, cause, first_seen, state, closed_at, resolved_by_job, replay_job_id, replayed_at, \
                 note, discarded_by, last_job_id FROM incidents WHERE key = $1 ORDER BY id DESC LIMIT $2"
            }
            Source::Warnings => {
                "SELECT member_id, added FROM unresolved_members WHERE group_id = $1 ORDER BY seq LIMIT $2"
            }
        }
    }

    /// What the source is read for: the key, or for warnings the group's id (`None`:
    /// the key is no group, it has no warnings).
    pub(crate) fn subject(self, key: &str) -> Option<String> {
        match self {
            Source::Warnings => JobKey::parse(key)
                .filter(|k| k.kind() == KeyKind::Group)
                .map(|k| k.id().to_string()),
            _ => Some(key.to_string()),
        }
    }

    /// The entries one row of this source makes.
    pub(crate) fn entries(self, r: &impl Get) -> Result<Vec<TimelineEntry>, StoreError> {
        match self {
            Source::Asked => Ok(vec![asked(r)?]),
            Source::Attempts => Ok(vec![attempt(r)?]),
            Source::DeadLetters => dead_letter(r),
            Source::Incidents => incident(r),
            Source::Warnings => {
                let member: String = r.get("member_id")?;
                Ok(vec![line(
                    r.get("added")?,
                    "warning",
                    String::new(),
                    unresolved_warning(&member),
                )])
            }
        }
    }
}

/// `entries` oldest first. Times come from three writers in slightly different RFC 3339
/// spellings: sorted by the instant, not the text.
pub(crate) fn sorted(mut entries: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    entries.sort_by_cached_key(|e| OffsetDateTime::parse(&e.at, &Rfc3339).ok());
    entries
}

fn line(at: String, what: &str, job_id: String, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        what: what.into(),
        job_id,
        detail,
        status: None,
        http_status: None,
    }
}

fn asked(r: &impl Get) -> Result<TimelineEntry, StoreError> {
    let origin: String = r.get("origin")?;
    let version: i64 = r.get("version")?;
    let sent = match r.get::<Option<String>>("sent_at")? {
        Some(at) => format!("published {at}"),
        None => "not yet published".into(),
    };
    let detail = format!("{origin} (version {version}; {sent})");
    Ok(line(
        r.get("created_at")?,
        "asked",
        r.get("job_id")?,
        detail,
    ))
}

fn attempt(r: &impl Get) -> Result<TimelineEntry, StoreError> {
    let attempt: i64 = r.get("attempt")?;
    let detail: String = r.get("detail")?;
    let code: Option<String> = r.get("error_code")?;
    let next: Option<String> = r.get("next_attempt_at")?;
    let detail = super::humane::attempt_line(attempt, &detail, code.as_deref(), next.as_deref());
    let mut e = line(r.get("at")?, "attempt", r.get("job_id")?, detail);
    e.status = Some(r.get("status")?);
    e.http_status = r.get("http_status")?;
    Ok(e)
}

/// A dead letter, and what became of it unless its incident's line says so once (it was
/// replayed, discarded or resolved with its incident).
fn dead_letter(r: &impl Get) -> Result<Vec<TimelineEntry>, StoreError> {
    let id: i64 = r.get("id")?;
    let job_id: String = r.get("job_id")?;
    let reason: String = r.get("reason")?;
    let code: Option<String> = r.get("error_code")?;
    let cause = cause_of(code.as_deref(), &reason);
    let body: String = r.get("error_body")?;
    let detail = format!("dead letter {id}: {cause} ({reason}): {body}");
    let mut out = vec![line(
        r.get("received_at")?,
        "dead-lettered",
        job_id.clone(),
        detail,
    )];
    let resolved: Option<String> = r.get("resolved_at")?;
    let st: String = r.get("state")?;
    let incident: Option<i64> = r.get("incident_id")?;
    let note: Option<String> = r.get("note")?;
    let with_incident = note.as_deref().is_some_and(|n| n.contains("(incident "));
    let own = st != "resolved" && (incident.is_none() || (st == "discarded" && !with_incident));
    if let Some(at) = resolved.filter(|_| own) {
        let detail = if st == "replayed" {
            let fresh: Option<String> = r.get("replay_job_id")?;
            format!(
                "dead letter {id} replayed as job {}",
                fresh.unwrap_or_default()
            )
        } else {
            format!("dead letter {id} discarded: {}", note.unwrap_or_default())
        };
        out.push(line(at, &st, job_id, detail));
    }
    Ok(out)
}

/// What became of an incident: opened, replayed, resolved (by which job), discarded.
fn incident(r: &impl Get) -> Result<Vec<TimelineEntry>, StoreError> {
    let id: i64 = r.get("id")?;
    let cause: String = r.get("cause")?;
    let state: String = r.get("state")?;
    let mut out = vec![line(
        r.get("first_seen")?,
        "incident",
        r.get("last_job_id")?,
        format!("incident {id} opened: {cause}"),
    )];
    if let (Some(at), Some(job)) = (
        r.get::<Option<String>>("replayed_at")?,
        r.get::<Option<String>>("replay_job_id")?,
    ) {
        let detail = format!("incident {id} replayed as job {job}");
        out.push(line(at, "replayed", job, detail));
    }
    let Some(at) = r.get::<Option<String>>("closed_at")? else {
        return Ok(out);
    };
    if state == "resolved" {
        let job: String = r
            .get::<Option<String>>("resolved_by_job")?
            .unwrap_or_default();
        let detail = format!("incident {id} resolved: job {job} was applied");
        out.push(line(at, "resolved", job, detail));
    } else if state == "discarded" {
        let note: Option<String> = r.get("note")?;
        let by: Option<String> = r.get("discarded_by")?;
        let detail = format!(
            "incident {id} discarded by {}: {}",
            by.unwrap_or_default(),
            note.unwrap_or_default()
        );
        out.push(line(at, "discarded", String::new(), detail));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_group_key_has_warnings_read_by_the_groups_id() {
        assert_eq!(Source::Asked.subject("t/user/u1"), Some("t/user/u1".into()));
        assert_eq!(Source::Warnings.subject("t/user/u1"), None);
        assert_eq!(Source::Warnings.subject("t/group/g/1"), Some("g/1".into()));
        assert_eq!(Source::Warnings.subject("not a key"), None);
    }

    #[test]
    fn entries_are_sorted_by_instant_not_text() {
        let at = |t: &str| line(t.into(), "asked", String::new(), String::new());
        let sorted = sorted(vec![
            at("2026-01-01T00:00:01Z"),
            at("2026-01-01T00:00:00.500Z"),
        ]);
        assert_eq!(sorted[0].at, "2026-01-01T00:00:00.500Z");
    }
}
