//! The outbox on PostgreSQL: jobs written in the transaction of the change that implies
//! them (one statement for any number of jobs: each column bound as an array), read back
//! in `seq` order by the relay holding the outbox lease ([`super::lease`]).

use std::sync::Arc;

use splashsync_protocol::job::Job;
use sqlx::{PgConnection, PgPool};

use crate::error::StoreError;
use crate::model::PendingJob;
use crate::rows;

fn encode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e))))
}

/// Inserts a job.
pub(crate) async fn insert_job(conn: &mut PgConnection, job: &Job) -> Result<(), StoreError> {
    insert_jobs(conn, std::slice::from_ref(job)).await
}

/// One outbox row of a job, as bound.
pub(crate) struct JobRow {
    pub(crate) job_id: String,
    pub(crate) key: String,
    pub(crate) route: String,
    pub(crate) kind: &'static str,
    pub(crate) version: i64,
    pub(crate) payload: String,
    pub(crate) origin: String,
    pub(crate) created_at: String,
}

impl JobRow {
    /// The row of `job`.
    pub(crate) fn of(job: &Job) -> Result<Self, StoreError> {
        let meta = job.meta();
        Ok(Self {
            job_id: meta.job_id.clone(),
            key: meta.key.to_string(),
            route: job.route(),
            kind: match job {
                Job::UserV1(_) => "UserV1",
                Job::GroupV1(_) => "GroupV1",
            },
            version: meta.version,
            payload: serde_json::to_string(job).map_err(encode_error)?,
            origin: meta.origin.clone(),
            created_at: meta.created_at.clone(),
        })
    }
}

/// Inserts jobs in order (their `seq`s ascend in the order given), in one statement.
pub(crate) async fn insert_jobs(conn: &mut PgConnection, jobs: &[Job]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let rows = jobs.iter().map(JobRow::of).collect::<Result<Vec<_>, _>>()?;
    let column = |f: fn(&JobRow) -> &str| -> Vec<&str> { rows.iter().map(f).collect() };
    let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
    // ORDER BY the ordinality: seq follows the order given.
    sqlx::query(
        "INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) \
         SELECT j, k, r, t, v, p, o, c FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS x(j, k, r, t, v, p, o, c, n) \
         ORDER BY n",
    )
    .bind(column(|r| &r.job_id))
    .bind(column(|r| &r.key))
    .bind(column(|r| &r.route))
    .bind(column(|r| r.kind))
    .bind(versions)
    .bind(column(|r| &r.payload))
    .bind(column(|r| &r.origin))
    .bind(column(|r| &r.created_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` unsent jobs in `seq` order.
pub(crate) async fn pending(pool: &PgPool, limit: u32) -> Result<Vec<PendingJob>, StoreError> {
    let found = sqlx::query(rows::PENDING_JOBS)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    found.iter().map(rows::pending_job).collect()
}

/// Marks jobs sent.
pub(crate) async fn mark_sent(pool: &PgPool, seqs: &[i64]) -> Result<(), StoreError> {
    sqlx::query("UPDATE outbox SET sent_at = $1 WHERE seq = ANY($2)")
        .bind(splashsync_scim::now_rfc3339())
        .bind(seqs)
        .execute(pool)
        .await?;
    Ok(())
}
