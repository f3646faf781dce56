//! The outbox on PostgreSQL: jobs written in the transaction of the change that implies
//! them (one statement for any number of jobs: each column bound as an array), read back
//! in `seq` order by the relay holding the outbox lease ([`super::lease`]).

use std::sync::Arc;

use splashsync_protocol::job::Job;
use sqlx::{PgConnection, PgPool, Row};

use crate::error::StoreError;
use crate::model::PendingJob;

fn encode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e))))
}

/// Inserts a job.
pub(crate) async fn insert_job(conn: &mut PgConnection, job: &Job) -> Result<(), StoreError> {
    insert_jobs(conn, std::slice::from_ref(job)).await
}

/// Inserts jobs in order (their `seq`s ascend in the order given).
pub(crate) async fn insert_jobs(conn: &mut PgConnection, jobs: &[Job]) -> Result<(), StoreError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let n = jobs.len();
    let (mut ids, mut keys, mut routes, mut kinds) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut versions, mut payloads, mut origins, mut created) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for job in jobs {
        let meta = job.meta();
        ids.push(meta.job_id.clone());
        keys.push(meta.key.to_string());
        routes.push(job.route());
        kinds.push(match job {
            Job::UserV1(_) => "UserV1",
            Job::GroupV1(_) => "GroupV1",
        });
        versions.push(meta.version);
        payloads.push(serde_json::to_string(job).map_err(encode_error)?);
        origins.push(meta.origin.clone());
        created.push(meta.created_at.clone());
    }
    // ORDER BY the ordinality: seq follows the order given.
    sqlx::query(
        "INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) \
         SELECT j, k, r, t, v, p, o, c FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], \
         $5::bigint[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS x(j, k, r, t, v, p, o, c, n) \
         ORDER BY n",
    )
    .bind(ids)
    .bind(keys)
    .bind(routes)
    .bind(kinds)
    .bind(versions)
    .bind(payloads)
    .bind(origins)
    .bind(created)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Up to `limit` unsent jobs in `seq` order.
pub(crate) async fn pending(pool: &PgPool, limit: u32) -> Result<Vec<PendingJob>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, job_id, key, route, kind, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1",
    )
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PendingJob {
                seq: r.try_get("seq")?,
                job_id: r.try_get("job_id")?,
                key: r.try_get("key")?,
                route: r.try_get("route")?,
                kind: r.try_get("kind")?,
                payload: r.try_get("payload")?,
            })
        })
        .collect()
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
