//! The `workers` table on SQLite: its schema (migration 8), the heartbeat upsert through
//! the directory's single writer, and the list from the reader pool.

use futures_util::future::BoxFuture;
use splashsync_protocol::admin::WorkerList;
use splashsync_protocol::workers::WorkerHeartbeat;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, SqliteConnection};

use super::{list, partitions_json, WorkerRow, WorkerStore, FORGET_AFTER};
use crate::audit::{fixed, now_fixed};
use crate::error::StoreError;
use crate::sqlite::writer::Writer;
use crate::sqlite::SqliteDirectory;


/// The workers table of a [`SqliteDirectory`]'s file.
#[derive(Debug, Clone)]
pub struct SqliteWorkers {
    writer: Writer,
    readers: SqlitePool,
}

impl SqliteWorkers {
    /// The workers table sharing `directory`'s writer and readers.
    pub fn new(directory: &SqliteDirectory) -> Self {
        let (writer, readers) = directory.parts();
        Self { writer, readers }
    }
}

async fn upsert(conn: &mut SqliteConnection, hb: &WorkerHeartbeat) -> Result<bool, StoreError> {
    let now = time::OffsetDateTime::now_utc();
    sqlx::query("DELETE FROM workers WHERE received_at < ?")
        .bind(fixed(now - FORGET_AFTER))
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query(
        "INSERT INTO workers (id, tenant, host, pid, version, started_at, sent_at, seq, run, partitions, \
         rate_limit_per_minute, interval_secs, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT(id) DO UPDATE SET tenant = excluded.tenant, host = excluded.host, pid = excluded.pid, \
         version = excluded.version, started_at = excluded.started_at, sent_at = excluded.sent_at, \
         seq = excluded.seq, run = excluded.run, partitions = excluded.partitions, \
         rate_limit_per_minute = excluded.rate_limit_per_minute, interval_secs = excluded.interval_secs, \
         received_at = excluded.received_at \
         WHERE excluded.seq > workers.seq",
    )
    .bind(&hb.id)
    .bind(&hb.tenant)
    .bind(&hb.host)
    .bind(i64::from(hb.pid))
    .bind(&hb.version)
    .bind(&hb.started_at)
    .bind(&hb.at)
    .bind(i64::try_from(hb.seq).unwrap_or(i64::MAX))
    .bind(hb.run.as_str())
    .bind(partitions_json(hb))
    .bind(hb.rate_limit_per_minute)
    .bind(hb.interval_secs)
    .bind(now_fixed())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

async fn read(readers: &SqlitePool) -> Result<WorkerList, StoreError> {
    let rows = sqlx::query(
        "SELECT id, tenant, host, pid, version, started_at, run, partitions, rate_limit_per_minute, \
         interval_secs, received_at FROM workers",
    )
    .fetch_all(readers)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(WorkerRow {
                id: r.try_get("id")?,
                tenant: r.try_get("tenant")?,
                host: r.try_get("host")?,
                pid: r.try_get("pid")?,
                version: r.try_get("version")?,
                started_at: r.try_get("started_at")?,
                run: r.try_get("run")?,
                partitions: r.try_get("partitions")?,
                rate_limit_per_minute: r.try_get("rate_limit_per_minute")?,
                interval_secs: r.try_get("interval_secs")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(list(rows, time::OffsetDateTime::now_utc()))
}

impl WorkerStore for SqliteWorkers {
    fn record_heartbeat(&self, hb: WorkerHeartbeat) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { upsert(conn, &hb).await })
        })))
    }

    fn workers(&self) -> BoxFuture<'_, Result<WorkerList, StoreError>> {
        Box::pin(read(&self.readers))
    }
}
