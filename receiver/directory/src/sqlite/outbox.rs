//! The outbox table: jobs written in the transaction of the change that implies them,
//! read back in commit order by the relay and marked sent after the broker's confirm.

use std::sync::Arc;

use splashsync_protocol::job::Job;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqlitePool};
use sqlx::{Sqlite, SqliteConnection};

use super::{marks, IN_CHUNK};
use crate::error::StoreError;
use crate::model::PendingJob;
use crate::rows;

fn encode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e))))
}

/// Rows per multi-row INSERT: 8 parameters each stays far under SQLite's limit.
const ROWS_PER_INSERT: usize = 100;

/// The INSERT of one job: [`bind_job`] binds its parameters. Another statement may come
/// before it in the same query, so that a write and its job cross to the connection's
/// thread together (each query is one round trip there and back).
pub(crate) const INSERT_ONE: &str =
    "INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/// Binds the parameters of one outbox row (see [`INSERT_ONE`]) to `q`.
pub(crate) fn bind_job<'q>(
    q: Query<'q, Sqlite, SqliteArguments<'q>>,
    job: &Job,
) -> Result<Query<'q, Sqlite, SqliteArguments<'q>>, StoreError> {
    let meta = job.meta();
    let kind = match job {
        Job::UserV1(_) => "UserV1",
        Job::GroupV1(_) => "GroupV1",
    };
    Ok(q.bind(meta.job_id.clone())
        .bind(meta.key.to_string())
        .bind(job.route())
        .bind(kind)
        .bind(meta.version)
        .bind(serde_json::to_string(job).map_err(encode_error)?)
        .bind(meta.origin.clone())
        .bind(meta.created_at.clone()))
}

/// Inserts a job.
pub(crate) async fn insert_job(conn: &mut SqliteConnection, job: &Job) -> Result<(), StoreError> {
    bind_job(sqlx::query(INSERT_ONE), job)?
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts jobs in commit order, many rows per statement.
pub(crate) async fn insert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[Job],
) -> Result<(), StoreError> {
    for chunk in jobs.chunks(ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) VALUES {rows}");
        let mut q = sqlx::query(&sql);
        for job in chunk {
            q = bind_job(q, job)?;
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Up to `limit` unsent jobs in commit order.
pub(crate) async fn pending(
    readers: &SqlitePool,
    limit: u32,
) -> Result<Vec<PendingJob>, StoreError> {
    let found = sqlx::query(rows::PENDING_JOBS)
        .bind(i64::from(limit))
        .fetch_all(readers)
        .await?;
    found.iter().map(rows::pending_job).collect()
}

/// Marks jobs sent (runs inside the writer's batch).
pub(crate) async fn mark_sent(conn: &mut SqliteConnection, seqs: &[i64]) -> Result<(), StoreError> {
    let now = splashsync_scim::now_rfc3339();
    // Chunks keep each statement under SQLite's bound-parameter limit.
    for chunk in seqs.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE outbox SET sent_at = ? WHERE seq IN ({})",
            marks(chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(&now);
        for s in chunk {
            q = q.bind(s);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}
