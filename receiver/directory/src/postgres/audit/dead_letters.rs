//! Dead letters read on PostgreSQL: a filtered page, a count, one with its job body, and
//! an incident's, each with the SCIM call that caused its job and its incident's names.
//! Columns, filter and rows are `crate::audit::dead_letter_rows`'s, shared with SQLite.

use sqlx::PgPool;

use super::numbered;
use crate::audit::dead_letter_rows::{
    count_sql, dead_letter, filter_clause, of_incident_sql, one_sql, page_sql,
};
use crate::audit::{DeadLetter, DeadLetterFilter};
use crate::error::StoreError;

/// One page of dead letters matching `filter`, newest first.
pub(crate) async fn list(
    pool: &PgPool,
    filter: &DeadLetterFilter,
) -> Result<Vec<DeadLetter>, StoreError> {
    let (clause, args) = filter_clause(filter);
    let sql = numbered(&page_sql(&clause, filter));
    let mut q = sqlx::query(&sql);
    for a in &args {
        q = q.bind(a);
    }
    let found = q.fetch_all(pool).await?;
    found.iter().map(|r| dead_letter(r, false)).collect()
}

/// How many dead letters match `filter` (paging ignored).
pub(crate) async fn count(pool: &PgPool, filter: &DeadLetterFilter) -> Result<i64, StoreError> {
    let (clause, args) = filter_clause(filter);
    let sql = numbered(&count_sql(&clause));
    let mut q = sqlx::query_scalar(&sql);
    for a in &args {
        q = q.bind(a);
    }
    Ok(q.fetch_one(pool).await?)
}

/// Dead letter `id` with its job body.
pub(crate) async fn one(pool: &PgPool, id: i64) -> Result<Option<DeadLetter>, StoreError> {
    let row = sqlx::query(&one_sql())
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| dead_letter(&r, true)).transpose()
}

/// The dead letters of incident `id`, newest first (the latest 500).
pub(crate) async fn of_incident(pool: &PgPool, id: i64) -> Result<Vec<DeadLetter>, StoreError> {
    let found = sqlx::query(&of_incident_sql())
        .bind(id)
        .fetch_all(pool)
        .await?;
    found.iter().map(|r| dead_letter(r, false)).collect()
}
