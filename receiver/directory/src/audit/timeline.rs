//! A key's timeline: what was asked (the outbox: which SCIM call, when), what Splashtop
//! answered attempt by attempt (the outcome events), what became of dead letters, and for
//! a group the members kept but not provisioned (warnings, while they last).

use sqlx::sqlite::SqlitePool;
use sqlx::Row;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::TimelineEntry;
use crate::error::StoreError;
use crate::plan::unresolved_warning;
use splashsync_protocol::admin::cause_of;
use splashsync_protocol::{JobKey, KeyKind};

/// Most entries of each source a timeline shows (the latest ones).
const MAX_ENTRIES: i64 = 500;

/// The timeline of `key`, oldest first.
pub(crate) async fn timeline(
    readers: &SqlitePool,
    key: &str,
) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut entries = Vec::new();
    let asked = sqlx::query(
        "SELECT job_id, version, origin, created_at, sent_at FROM outbox WHERE key = ? ORDER BY seq DESC LIMIT ?",
    )
    .bind(key)
    .bind(MAX_ENTRIES)
    .fetch_all(readers)
    .await?;
    for r in &asked {
        let origin: String = r.try_get("origin")?;
        let version: i64 = r.try_get("version")?;
        let sent: Option<String> = r.try_get("sent_at")?;
        let sent = match sent {
            Some(at) => format!("published {at}"),
            None => "not yet published".into(),
        };
        entries.push(TimelineEntry {
            at: r.try_get("created_at")?,
            what: "asked".into(),
            job_id: r.try_get("job_id")?,
            detail: format!("{origin} (version {version}; {sent})"),
            status: None,
            http_status: None,
        });
    }
    let attempts = sqlx::query(
        "SELECT job_id, attempt, at, status, detail, http_status, error_code, next_attempt_at FROM audit_events \
         WHERE key = ? ORDER BY at DESC LIMIT ?",
    )
    .bind(key)
    .bind(MAX_ENTRIES)
    .fetch_all(readers)
    .await?;
    for r in &attempts {
        let attempt: i64 = r.try_get("attempt")?;
        let detail: String = r.try_get("detail")?;
        let code: Option<String> = r.try_get("error_code")?;
        let next: Option<String> = r.try_get("next_attempt_at")?;
        entries.push(TimelineEntry {
            at: r.try_get("at")?,
            what: "attempt".into(),
            job_id: r.try_get("job_id")?,
            detail: super::humane::attempt_line(attempt, &detail, code.as_deref(), next.as_deref()),
            status: Some(r.try_get("status")?),
            http_status: r.try_get("http_status")?,
        });
    }
    let dead = sqlx::query(
        "SELECT id, job_id, reason, error_code, error_body, received_at, state, resolved_at, note, replay_job_id, \
         incident_id FROM dead_letters WHERE key = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(key)
    .bind(MAX_ENTRIES)
    .fetch_all(readers)
    .await?;
    for r in &dead {
        let id: i64 = r.try_get("id")?;
        let job_id: String = r.try_get("job_id")?;
        let reason: String = r.try_get("reason")?;
        let code: Option<String> = r.try_get("error_code")?;
        let cause = cause_of(code.as_deref(), &reason);
        let body: String = r.try_get("error_body")?;
        entries.push(TimelineEntry {
            at: r.try_get("received_at")?,
            what: "dead-lettered".into(),
            job_id: job_id.clone(),
            detail: format!("dead letter {id}: {cause} ({reason}): {body}"),
            status: None,
            http_status: None,
        });
        let resolved: Option<String> = r.try_get("resolved_at")?;
        let st: String = r.try_get("state")?;
        // A dead letter replayed, discarded or resolved with its incident: the incident's
        // line says so once.
        let incident: Option<i64> = r.try_get("incident_id")?;
        let note: Option<String> = r.try_get("note")?;
        let with_incident = note.as_deref().is_some_and(|n| n.contains("(incident "));
        let own = st != "resolved" && (incident.is_none() || (st == "discarded" && !with_incident));
        if let Some(at) = resolved.filter(|_| own) {
            let detail = if st == "replayed" {
                let fresh: Option<String> = r.try_get("replay_job_id")?;
                format!(
                    "dead letter {id} replayed as job {}",
                    fresh.unwrap_or_default()
                )
            } else {
                format!("dead letter {id} discarded: {}", note.unwrap_or_default())
            };
            entries.push(TimelineEntry {
                at,
                what: st,
                job_id,
                detail,
                status: None,
                http_status: None,
            });
        }
    }
    entries.extend(incident_lines(readers, key).await?);
    entries.extend(warnings(readers, key).await?);
    // Times come from three writers in slightly different RFC 3339 spellings: sort by
    // the instant, not the text.
    entries.sort_by_cached_key(|e| OffsetDateTime::parse(&e.at, &Rfc3339).ok());
    Ok(entries)
}

/// What became of the key's incidents: opened, replayed, resolved (by which job), discarded.
async fn incident_lines(readers: &SqlitePool, key: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, cause, first_seen, state, closed_at, resolved_by_job, replay_job_id, replayed_at, \
         note, discarded_by, last_job_id FROM incidents WHERE key = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(key)
    .bind(MAX_ENTRIES)
    .fetch_all(readers)
    .await?;
    let mut out = Vec::new();
    let line = |at: String, what: &str, job_id: String, detail: String| TimelineEntry {
        at,
        what: what.into(),
        job_id,
        detail,
        status: None,
        http_status: None,
    };
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let cause: String = r.try_get("cause")?;
        let state: String = r.try_get("state")?;
        out.push(line(
            r.try_get("first_seen")?,
            "incident",
            r.try_get("last_job_id")?,
            format!("incident {id} opened: {cause}"),
        ));
        if let (Some(at), Some(job)) = (
            r.try_get::<Option<String>, _>("replayed_at")?,
            r.try_get::<Option<String>, _>("replay_job_id")?,
        ) {
            let detail = format!("incident {id} replayed as job {job}");
            out.push(line(at, "replayed", job, detail));
        }
        let Some(at) = r.try_get::<Option<String>, _>("closed_at")? else {
            continue;
        };
        if state == "resolved" {
            let job: Option<String> = r.try_get("resolved_by_job")?;
            let job = job.unwrap_or_default();
            let detail = format!("incident {id} resolved: job {job} was applied");
            out.push(line(at, "resolved", job, detail));
        } else if state == "discarded" {
            let note: Option<String> = r.try_get("note")?;
            let by: Option<String> = r.try_get("discarded_by")?;
            let detail = format!(
                "incident {id} discarded by {}: {}",
                by.unwrap_or_default(),
                note.unwrap_or_default()
            );
            out.push(line(at, "discarded", String::new(), detail));
        }
    }
    Ok(out)
}

/// A group's members that are no user of this directory, one warning each, since they were
/// written (none for other keys). They go when a write removes them from the group.
async fn warnings(readers: &SqlitePool, key: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let Some(key) = JobKey::parse(key).filter(|k| k.kind() == KeyKind::Group) else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(
        "SELECT member_id, added FROM unresolved_members WHERE group_id = ? ORDER BY seq LIMIT ?",
    )
    .bind(key.id())
    .bind(MAX_ENTRIES)
    .fetch_all(readers)
    .await?;
    rows.iter()
        .map(|r| {
            let member: String = r.try_get("member_id")?;
            Ok(TimelineEntry {
                at: r.try_get("added")?,
                what: "warning".into(),
                job_id: String::new(),
                detail: unresolved_warning(&member),
                status: None,
                http_status: None,
            })
        })
        .collect()
}
