//! Incidents, read: a filtered page with its total, one incident with its dead letters
//! and timeline, open incidents by cause; and what the overview shows beside them: the
//! keys retrying now, the oldest waiting job, users found by a prefix.

use splashsync_protocol::admin::{
    what_to_do, CauseCount, Incident, IncidentPage, RetryingKey, UserMatch,
};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::Row;

use super::{fixed, IncidentFilter};
use crate::error::StoreError;

/// Default and largest page.
const PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;

/// Only the latest jobs are looked at for the oldest waiting one (the outbox keeps every
/// job ever written; older ones have long finished or are dead letters).
const WAITING_WINDOW: i64 = 100_000;

const COLUMNS: &str =
    "i.id, i.tenant, i.key, i.kind, i.object_id, i.name, i.email, i.state, i.cause, \
    i.reason, i.error_code, i.http_status, i.message, i.first_seen, i.last_seen, i.attempts, \
    i.dead_letters, i.last_job_id, i.last_version, i.reopened, i.closed_at, i.resolved_by_job, \
    i.replay_job_id, i.replayed_at, i.note, i.discarded_by, \
    CASE WHEN p.state = 'retrying' THEN p.last_error END AS retrying";

const FROM: &str = "FROM incidents i LEFT JOIN provisioning_status p ON p.key = i.key";

fn incident_from_row(r: &SqliteRow) -> Result<Incident, StoreError> {
    let cause: String = r.try_get("cause")?;
    Ok(Incident {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        key: r.try_get("key")?,
        kind: r.try_get("kind")?,
        object_id: r.try_get("object_id")?,
        name: r.try_get("name")?,
        email: r.try_get("email")?,
        state: r.try_get("state")?,
        what_to_do: what_to_do(&cause).to_string(),
        cause,
        reason: r.try_get("reason")?,
        error_code: r.try_get("error_code")?,
        http_status: r.try_get("http_status")?,
        message: r.try_get("message")?,
        first_seen: r.try_get("first_seen")?,
        last_seen: r.try_get("last_seen")?,
        attempts: r.try_get("attempts")?,
        dead_letters: r.try_get("dead_letters")?,
        last_job_id: r.try_get("last_job_id")?,
        last_version: r.try_get("last_version")?,
        retrying: r.try_get("retrying")?,
        reopened: r.try_get("reopened")?,
        closed_at: r.try_get("closed_at")?,
        resolved_by_job: r.try_get("resolved_by_job")?,
        replay_job_id: r.try_get("replay_job_id")?,
        replayed_at: r.try_get("replayed_at")?,
        note: r.try_get("note")?,
        discarded_by: r.try_get("discarded_by")?,
    })
}

/// `text` as a LIKE prefix pattern (with `\` escaping `%`, `_` and itself).
pub(crate) fn prefix_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The WHERE clause and its arguments for `f`.
fn filter_clause(f: &IncidentFilter) -> (String, Vec<String>) {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args = Vec::new();
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        "active" => clauses.push("i.state IN ('open', 'replaying')"),
        s => {
            clauses.push("i.state = ?");
            args.push(s.to_string());
        }
    }
    for (clause, value) in [
        ("i.cause = ?", &f.cause),
        ("i.kind = ?", &f.kind),
        ("i.key = ?", &f.key),
    ] {
        if let Some(v) = value {
            clauses.push(clause);
            args.push(v.clone());
        }
    }
    if let Some(person) = &f.person {
        clauses.push("(i.name LIKE ? ESCAPE '\\' OR i.email LIKE ? ESCAPE '\\')");
        args.extend([prefix_pattern(person), prefix_pattern(person)]);
    }
    if let Some(group) = &f.group {
        clauses.push(
            "((i.kind = 'group' AND i.name LIKE ? ESCAPE '\\') OR (i.kind = 'user' AND i.object_id IN \
             (SELECT m.user_id FROM memberships m JOIN groups g ON g.id = m.group_id \
              WHERE g.display_name LIKE ? ESCAPE '\\')))",
        );
        args.extend([prefix_pattern(group), prefix_pattern(group)]);
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        clauses.push("i.first_seen <= ?");
        args.push(fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        clauses.push("i.last_seen >= ?");
        args.push(fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

/// One page of incidents matching `f`, latest failure first, and how many match in all.
pub(crate) async fn list(
    readers: &SqlitePool,
    f: &IncidentFilter,
) -> Result<IncidentPage, StoreError> {
    let (clause, args) = filter_clause(f);
    let limit = f.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let offset = f.offset.unwrap_or(0);
    let count_sql = format!("SELECT COUNT(*) {FROM} {clause}");
    let mut count = sqlx::query_scalar(&count_sql);
    for a in &args {
        count = count.bind(a);
    }
    let total: i64 = count.fetch_one(readers).await?;
    let sql = format!(
        "SELECT {COLUMNS} {FROM} {clause} ORDER BY i.last_seen DESC, i.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut q = sqlx::query(&sql);
    for a in &args {
        q = q.bind(a);
    }
    let rows = q.fetch_all(readers).await?;
    Ok(IncidentPage {
        total,
        offset,
        limit,
        incidents: rows
            .iter()
            .map(incident_from_row)
            .collect::<Result<_, _>>()?,
    })
}

/// Incident `id`.
pub(crate) async fn one(readers: &SqlitePool, id: i64) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE i.id = ?");
    let row = sqlx::query(&sql).bind(id).fetch_optional(readers).await?;
    row.as_ref().map(incident_from_row).transpose()
}

/// Open incidents per cause, most first.
pub(crate) async fn by_cause(readers: &SqlitePool) -> Result<Vec<CauseCount>, StoreError> {
    let rows = sqlx::query(
        "SELECT cause, COUNT(*) AS n FROM incidents WHERE state = 'open' GROUP BY cause ORDER BY n DESC, cause",
    )
    .fetch_all(readers)
    .await?;
    rows.iter()
        .map(|r| {
            let cause: String = r.try_get("cause")?;
            Ok(CauseCount {
                count: r.try_get("n")?,
                what_to_do: what_to_do(&cause).to_string(),
                cause,
            })
        })
        .collect()
}

/// Keys whose last attempt failed transiently, latest first, with that attempt.
pub(crate) async fn retrying(
    readers: &SqlitePool,
    limit: u32,
) -> Result<Vec<RetryingKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.key, p.kind, p.last_error, p.updated, \
         COALESCE(u.user_name, g.display_name) AS name, \
         (SELECT e.attempt FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS attempt, \
         (SELECT e.at FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS at, \
         (SELECT e.worker FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS worker, \
         (SELECT e.next_attempt_at FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS next_attempt \
         FROM provisioning_status p \
         LEFT JOIN users u ON p.kind = 'user' AND u.id = substr(p.key, length(p.tenant) + 7) \
         LEFT JOIN groups g ON p.kind = 'group' AND g.id = substr(p.key, length(p.tenant) + 8) \
         WHERE p.state = 'retrying' ORDER BY p.updated DESC LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(readers)
    .await?;
    rows.iter()
        .map(|r| {
            let updated: String = r.try_get("updated")?;
            Ok(RetryingKey {
                key: r.try_get("key")?,
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                attempt: r.try_get::<Option<i64>, _>("attempt")?.unwrap_or(0),
                at: r.try_get::<Option<String>, _>("at")?.unwrap_or(updated),
                error: r
                    .try_get::<Option<String>, _>("last_error")?
                    .map(|e| super::humane::detail(&e)),
                next_attempt: r.try_get("next_attempt")?,
                worker: r
                    .try_get::<Option<String>, _>("worker")?
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Age in seconds of the oldest of the latest jobs that no outcome or dead letter has
/// finished yet (its key's recorded state is about an older version, or there is none).
pub(crate) async fn oldest_waiting(readers: &SqlitePool) -> Result<Option<f64>, StoreError> {
    let oldest: Option<String> = sqlx::query_scalar(
        "SELECT MIN(o.created_at) FROM outbox o LEFT JOIN provisioning_status p ON p.key = o.key \
         WHERE o.seq > (SELECT COALESCE(MAX(seq), 0) - ? FROM outbox) \
         AND (p.key IS NULL OR p.version < o.version OR (p.version = o.version AND p.state IN ('pending', 'retrying')))",
    )
    .bind(WAITING_WINDOW)
    .fetch_one(readers)
    .await?;
    Ok(oldest
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| {
            (time::OffsetDateTime::now_utc() - t)
                .as_seconds_f64()
                .max(0.0)
        }))
}

/// Users whose userName or any email starts with `prefix`, case-insensitively.
pub(crate) async fn find_users(
    readers: &SqlitePool,
    prefix: &str,
    limit: u32,
) -> Result<Vec<UserMatch>, StoreError> {
    let pattern = prefix_pattern(&prefix.to_lowercase());
    let rows = sqlx::query(
        "SELECT u.id, u.user_name, \
         (SELECT json_extract(e.value, '$.value') FROM json_each(u.resource, '$.emails') e \
          ORDER BY json_extract(e.value, '$.type') = 'work' DESC LIMIT 1) AS email \
         FROM users u WHERE u.user_name_key LIKE ? ESCAPE '\\' OR EXISTS \
         (SELECT 1 FROM json_each(u.resource, '$.emails') e WHERE json_extract(e.value, '$.value') LIKE ? ESCAPE '\\') \
         ORDER BY u.user_name_key LIMIT ?",
    )
    .bind(&pattern)
    .bind(&pattern)
    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
    .fetch_all(readers)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UserMatch {
                id: r.try_get("id")?,
                user_name: r.try_get("user_name")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}
