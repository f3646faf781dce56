//! Dead letters read on PostgreSQL: a filtered page, a count, one with its job body, and
//! an incident's, each with the SCIM call that caused its job and its incident's names.

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::audit::{fixed, DeadLetter, DeadLetterFilter};
use crate::error::StoreError;

const DL_COLUMNS: &str = "d.id, d.job_id, d.tenant, d.key, d.kind, d.version, d.reason, d.http_status, d.error_code, \
    d.error_body, d.attempts, d.first_attempt, d.last_attempt, d.received_at, d.state, d.resolved_at, d.note, \
    d.replay_job_id, o.origin, d.payload, d.incident_id, i.name, i.email";

/// Dead letters with the SCIM call that caused their job and their incident's names.
const DL_FROM: &str = "FROM dead_letters d LEFT JOIN outbox o ON o.job_id = d.job_id \
    LEFT JOIN incidents i ON i.id = d.incident_id";

fn dead_letter_from_row(row: &PgRow, with_job: bool) -> Result<DeadLetter, StoreError> {
    let payload: String = row.try_get("payload")?;
    Ok(DeadLetter {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        tenant: row.try_get("tenant")?,
        key: row.try_get("key")?,
        kind: row.try_get("kind")?,
        version: row.try_get("version")?,
        reason: row.try_get("reason")?,
        http_status: row.try_get("http_status")?,
        error_code: row.try_get("error_code")?,
        error_body: row.try_get("error_body")?,
        attempts: row.try_get("attempts")?,
        first_attempt: row.try_get("first_attempt")?,
        last_attempt: row.try_get("last_attempt")?,
        received_at: row.try_get("received_at")?,
        state: row.try_get("state")?,
        resolved_at: row.try_get("resolved_at")?,
        note: row.try_get("note")?,
        replay_job_id: row.try_get("replay_job_id")?,
        origin: row.try_get("origin")?,
        incident_id: row.try_get("incident_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        job: with_job
            .then(|| serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload))),
    })
}

/// The WHERE clause (numbered parameters) and its arguments for `filter`.
fn filter_clause(f: &DeadLetterFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    let mut push = |column: &str, op: &str, value: String| {
        args.push(value);
        clauses.push(format!("{column} {op} ${}", args.len()));
    };
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        s => push("d.state", "=", s.to_string()),
    }
    for (column, value) in [
        ("d.reason", &f.reason),
        ("d.tenant", &f.tenant),
        ("d.key", &f.key),
    ] {
        if let Some(v) = value {
            push(column, "=", v.clone());
        }
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        push("d.received_at", "<=", fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        push("d.received_at", ">=", fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

/// One page of dead letters matching `filter`, newest first.
pub(crate) async fn list(
    pool: &PgPool,
    filter: &DeadLetterFilter,
) -> Result<Vec<DeadLetter>, StoreError> {
    let (clause, args) = filter_clause(filter);
    let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
    let offset = filter.offset.unwrap_or(0);
    let sql = format!(
        "SELECT {DL_COLUMNS} {DL_FROM} {clause} ORDER BY d.id DESC LIMIT {limit} OFFSET {offset}"
    );
    let mut q = sqlx::query(&sql);
    for a in &args {
        q = q.bind(a);
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter()
        .map(|r| dead_letter_from_row(r, false))
        .collect()
}

/// How many dead letters match `filter` (paging ignored).
pub(crate) async fn count(pool: &PgPool, filter: &DeadLetterFilter) -> Result<i64, StoreError> {
    let (clause, args) = filter_clause(filter);
    let sql = format!("SELECT COUNT(*) FROM dead_letters d {clause}");
    let mut q = sqlx::query_scalar(&sql);
    for a in &args {
        q = q.bind(a);
    }
    Ok(q.fetch_one(pool).await?)
}

/// Dead letter `id` with its job body.
pub(crate) async fn one(pool: &PgPool, id: i64) -> Result<Option<DeadLetter>, StoreError> {
    let sql = format!("SELECT {DL_COLUMNS} {DL_FROM} WHERE d.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.map(|r| dead_letter_from_row(&r, true)).transpose()
}

/// The dead letters of incident `id`, newest first (the latest 500).
pub(crate) async fn of_incident(pool: &PgPool, id: i64) -> Result<Vec<DeadLetter>, StoreError> {
    let sql = format!(
        "SELECT {DL_COLUMNS} {DL_FROM} WHERE d.incident_id = $1 ORDER BY d.id DESC LIMIT 500"
    );
    let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await?;
    rows.iter()
        .map(|r| dead_letter_from_row(r, false))
        .collect()
}
