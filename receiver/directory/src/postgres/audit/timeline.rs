//! A key's timeline on PostgreSQL: what was asked (the outbox), what Splashtop answered
//! (the outcome events), what became of dead letters, and a group's unresolved members.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::audit::TimelineEntry;
use crate::error::StoreError;
use crate::plan::unresolved_warning;
use splashsync_protocol::admin::cause_of;
use splashsync_protocol::{JobKey, KeyKind};

/// Most entries of each source a timeline shows (the latest ones).
const MAX_ENTRIES: i64 = 500;

fn entry(at: String, what: &str, job_id: String, detail: String) -> TimelineEntry {
    TimelineEntry {
        at,
        what: what.into(),
        job_id,
        detail,
        status: None,
        http_status: None,
    }
}

async fn rows(pool: &PgPool, sql: &str, key: &str) -> Result<Vec<PgRow>, StoreError> {
    Ok(sqlx::query(sql)
        .bind(key)
        .bind(MAX_ENTRIES)
        .fetch_all(pool)
        .await?)
}

/// The timeline of `key`, oldest first.
pub(crate) async fn timeline(pool: &PgPool, key: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let mut entries = Vec::new();
    let sql = "SELECT job_id, version, origin, created_at, sent_at FROM outbox WHERE key = $1 ORDER BY seq DESC LIMIT $2";
    for r in rows(pool, sql, key).await? {
        let origin: String = r.try_get("origin")?;
        let version: i64 = r.try_get("version")?;
        let sent = match r.try_get::<Option<String>, _>("sent_at")? {
            Some(at) => format!("published {at}"),
            None => "not yet published".into(),
        };
        let detail = format!("{origin} (version {version}; {sent})");
        entries.push(entry(
            r.try_get("created_at")?,
            "asked",
            r.try_get("job_id")?,
            detail,
        ));
    }
    let sql =
        "SELECT job_id, attempt, at, status, detail, http_status, error_code, next_attempt_at FROM audit_events \
               WHERE key = $1 ORDER BY at DESC LIMIT $2";
    for r in rows(pool, sql, key).await? {
        let attempt: i64 = r.try_get("attempt")?;
        let detail: String = r.try_get("detail")?;
        let code: Option<String> = r.try_get("error_code")?;
        let next: Option<String> = r.try_get("next_attempt_at")?;
        let mut e = entry(
            r.try_get("at")?,
            "attempt",
            r.try_get("job_id")?,
            crate::audit::humane::attempt_line(attempt, &detail, code.as_deref(), next.as_deref()),
        );
        e.status = Some(r.try_get("status")?);
        e.http_status = r.try_get("http_status")?;
        entries.push(e);
    }
    let sql = "SELECT id, job_id, reason, error_code, error_body, received_at, state, resolved_at, note, \
               replay_job_id, incident_id FROM dead_letters WHERE key = $1 ORDER BY id DESC LIMIT $2";
    for r in rows(pool, sql, key).await? {
        let id: i64 = r.try_get("id")?;
        let job_id: String = r.try_get("job_id")?;
        let reason: String = r.try_get("reason")?;
        let code: Option<String> = r.try_get("error_code")?;
        let cause = cause_of(code.as_deref(), &reason);
        let body: String = r.try_get("error_body")?;
        let detail = format!("dead letter {id}: {cause} ({reason}): {body}");
        entries.push(entry(
            r.try_get("received_at")?,
            "dead-lettered",
            job_id.clone(),
            detail,
        ));
        // A dead letter replayed, discarded or resolved with its incident: the incident's
        // line says so once.
        let st: String = r.try_get("state")?;
        let incident: Option<i64> = r.try_get("incident_id")?;
        let note: Option<String> = r.try_get("note")?;
        let with_incident = note.as_deref().is_some_and(|n| n.contains("(incident "));
        let own = st != "resolved" && (incident.is_none() || (st == "discarded" && !with_incident));
        let resolved: Option<String> = r.try_get("resolved_at")?;
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
            entries.push(entry(at, &st, job_id, detail));
        }
    }
    entries.extend(incident_lines(pool, key).await?);
    if let Some(group) = JobKey::parse(key).filter(|k| k.kind() == KeyKind::Group) {
        let sql = "SELECT member_id, added FROM unresolved_members WHERE group_id = $1 ORDER BY seq LIMIT $2";
        for r in rows(pool, sql, group.id()).await? {
            let member: String = r.try_get("member_id")?;
            entries.push(entry(
                r.try_get("added")?,
                "warning",
                String::new(),
                unresolved_warning(&member),
            ));
        }
    }
    entries.sort_by_cached_key(|e| OffsetDateTime::parse(&e.at, &Rfc3339).ok());
    Ok(entries)
}

/// What became of the key's incidents: opened, replayed, resolved (by which job), discarded.
async fn incident_lines(pool: &PgPool, key: &str) -> Result<Vec<TimelineEntry>, StoreError> {
    let sql = "SELECT id, cause, first_seen, state, closed_at, resolved_by_job, replay_job_id, replayed_at, \
               note, discarded_by, last_job_id FROM incidents WHERE key = $1 ORDER BY id DESC LIMIT $2";
    let mut out = Vec::new();
    for r in rows(pool, sql, key).await? {
        let id: i64 = r.try_get("id")?;
        let cause: String = r.try_get("cause")?;
        let state: String = r.try_get("state")?;
        let opened = format!("incident {id} opened: {cause}");
        out.push(entry(
            r.try_get("first_seen")?,
            "incident",
            r.try_get("last_job_id")?,
            opened,
        ));
        if let (Some(at), Some(job)) = (
            r.try_get::<Option<String>, _>("replayed_at")?,
            r.try_get::<Option<String>, _>("replay_job_id")?,
        ) {
            let detail = format!("incident {id} replayed as job {job}");
            out.push(entry(at, "replayed", job, detail));
        }
        let Some(at) = r.try_get::<Option<String>, _>("closed_at")? else {
            continue;
        };
        if state == "resolved" {
            let job: Option<String> = r.try_get("resolved_by_job")?;
            let job = job.unwrap_or_default();
            let detail = format!("incident {id} resolved: job {job} was applied");
            out.push(entry(at, "resolved", job, detail));
        } else if state == "discarded" {
            let note: Option<String> = r.try_get("note")?;
            let by: Option<String> = r.try_get("discarded_by")?;
            let detail = format!(
                "incident {id} discarded by {}: {}",
                by.unwrap_or_default(),
                note.unwrap_or_default()
            );
            out.push(entry(at, "discarded", String::new(), detail));
        }
    }
    Ok(out)
}
