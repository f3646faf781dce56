//! Incidents, read on SQLite: a filtered page with its total, one incident with its dead
//! letters and timeline, open incidents by cause; and what the overview shows beside
//! them: the keys retrying now, the oldest waiting job, users found by a prefix. What both
//! engines share (columns, filters, rows) is [`super::incident_rows`]'s.

use splashsync_protocol::admin::{CauseCount, Incident, IncidentPage, RetryingKey, UserMatch};
use sqlx::sqlite::SqlitePool;

use super::incident_rows::{
    cause_count, filter_clause, incident, page, page_sql, prefix_pattern, retrying_key, user_match,
    waiting_age, BY_CAUSE, COLUMNS, FROM, MAX_PAGE, OLDEST_WAITING, RETRYING, WAITING_WINDOW,
};
use super::IncidentFilter;
use crate::error::StoreError;

/// One page of incidents matching `f`, latest failure first, and how many match in all.
pub(crate) async fn list(
    readers: &SqlitePool,
    f: &IncidentFilter,
) -> Result<IncidentPage, StoreError> {
    let (clause, args) = filter_clause(f, "LIKE");
    let (limit, offset) = page(f);
    let count_sql = format!("SELECT COUNT(*) {FROM} {clause}");
    let mut count = sqlx::query_scalar(&count_sql);
    for a in &args {
        count = count.bind(a);
    }
    let total: i64 = count.fetch_one(readers).await?;
    let sql = page_sql(&clause, limit, offset);
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
pub(crate) async fn one(readers: &SqlitePool, id: i64) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(readers).await?;
    row.as_ref().map(incident).transpose()
}

/// Open incidents per cause, most first.
pub(crate) async fn by_cause(readers: &SqlitePool) -> Result<Vec<CauseCount>, StoreError> {
    let found = sqlx::query(BY_CAUSE).fetch_all(readers).await?;
    found.iter().map(cause_count).collect()
}

/// Keys whose last attempt failed transiently, latest first, with that attempt.
pub(crate) async fn retrying(
    readers: &SqlitePool,
    limit: u32,
) -> Result<Vec<RetryingKey>, StoreError> {
    let found = sqlx::query(RETRYING)
        .bind(i64::from(limit))
        .fetch_all(readers)
        .await?;
    found.iter().map(retrying_key).collect()
}

/// Age in seconds of the oldest of the latest jobs that no outcome or dead letter has
/// finished yet (its key's recorded state is about an older version, or there is none).
pub(crate) async fn oldest_waiting(readers: &SqlitePool) -> Result<Option<f64>, StoreError> {
    let oldest: Option<String> = sqlx::query_scalar(OLDEST_WAITING)
        .bind(WAITING_WINDOW)
        .fetch_one(readers)
        .await?;
    Ok(waiting_age(oldest))
}

/// Users whose userName or any email starts with `prefix`, case-insensitively.
pub(crate) async fn find_users(
    readers: &SqlitePool,
    prefix: &str,
    limit: u32,
) -> Result<Vec<UserMatch>, StoreError> {
    let pattern = prefix_pattern(&prefix.to_lowercase());
    let found = sqlx::query(
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
    found.iter().map(user_match).collect()
}
