//! Incidents on PostgreSQL (SQLite's `crate::audit::incident_read`, ported), read: a
//! filtered page with its total, one incident, open incidents by cause, the keys retrying
//! now, the oldest waiting job, users found by a prefix. Columns, filters and rows are
//! `crate::audit::incident_rows`'s, shared with SQLite.

use splashsync_protocol::admin::{CauseCount, Incident, IncidentPage, RetryingKey, UserMatch};
use sqlx::PgPool;

use super::numbered;
use crate::audit::incident_rows::{
    cause_count, filter_clause, incident, page, page_sql, prefix_pattern, retrying_key, user_match,
    waiting_age, BY_CAUSE, COLUMNS, FROM, MAX_PAGE, OLDEST_WAITING, RETRYING, WAITING_WINDOW,
};
use crate::audit::IncidentFilter;
use crate::error::StoreError;

/// One page of incidents matching `f`, latest failure first, and how many match in all.
pub(crate) async fn list(readers: &PgPool, f: &IncidentFilter) -> Result<IncidentPage, StoreError> {
    let (clause, args) = filter_clause(f, "ILIKE");
    let (limit, offset) = page(f);
    let count_sql = numbered(&format!("SELECT COUNT(*) {FROM} {clause}"));
    let mut count = sqlx::query_scalar(&count_sql);
    for a in &args {
        count = count.bind(a);
    }
    let total: i64 = count.fetch_one(readers).await?;
    let sql = numbered(&page_sql(&clause, limit, offset));
    let mut q = sqlx::query(&sql);
    for a in &args {
        q = q.bind(a);
    }
    let found = q.fetch_all(readers).await?;
    Ok(IncidentPage {
        total,
        offset,
        limit,
        incidents: found.iter().map(incident).collect::<Result<_, _>>()?,
    })
}

/// Incident `id`.
pub(crate) async fn one(readers: &PgPool, id: i64) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(readers).await?;
    row.as_ref().map(incident).transpose()
}

/// Open incidents per cause, most first.
pub(crate) async fn by_cause(readers: &PgPool) -> Result<Vec<CauseCount>, StoreError> {
    let found = sqlx::query(BY_CAUSE).fetch_all(readers).await?;
    found.iter().map(cause_count).collect()
}

/// Keys whose last attempt failed transiently, latest first, with that attempt.
pub(crate) async fn retrying(readers: &PgPool, limit: u32) -> Result<Vec<RetryingKey>, StoreError> {
    let found = sqlx::query(RETRYING)
        .bind(i64::from(limit))
        .fetch_all(readers)
        .await?;
    found.iter().map(retrying_key).collect()
}

/// Age in seconds of the oldest of the latest jobs that no outcome or dead letter has
/// finished yet (its key's recorded state is about an older version, or there is none).
pub(crate) async fn oldest_waiting(readers: &PgPool) -> Result<Option<f64>, StoreError> {
    let oldest: Option<String> = sqlx::query_scalar(OLDEST_WAITING)
        .bind(WAITING_WINDOW)
        .fetch_one(readers)
        .await?;
    Ok(waiting_age(oldest))
}

/// Users whose userName or any email starts with `prefix`, case-insensitively.
pub(crate) async fn find_users(
    readers: &PgPool,
    prefix: &str,
    limit: u32,
) -> Result<Vec<UserMatch>, StoreError> {
    let pattern = prefix_pattern(&prefix.to_lowercase());
    let found = sqlx::query(
        "SELECT u.id, u.user_name, \
         (SELECT e->>'value' FROM jsonb_array_elements(CASE WHEN jsonb_typeof(u.resource->'emails') = 'array' \
          THEN u.resource->'emails' ELSE '[]'::jsonb END) e \
          ORDER BY (e->>'type' = 'work') DESC NULLS LAST LIMIT 1) AS email \
         FROM users u WHERE u.user_name_key ILIKE $1 ESCAPE '\\' OR EXISTS \
         (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(u.resource->'emails') = 'array' \
          THEN u.resource->'emails' ELSE '[]'::jsonb END) e WHERE e->>'value' ILIKE $2 ESCAPE '\\') \
         ORDER BY u.user_name_key LIMIT $3",
    )
    .bind(&pattern)
    .bind(&pattern)
    .bind(i64::from(limit.clamp(1, MAX_PAGE)))
    .fetch_all(readers)
    .await?;
    found.iter().map(user_match).collect()
}
