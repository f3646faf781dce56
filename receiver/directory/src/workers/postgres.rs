//! The `workers` table on PostgreSQL: its schema (migration 4), the heartbeat upsert in
//! a transaction of its own, and the list.

use futures_util::future::BoxFuture;
use splashsync_protocol::admin::WorkerList;
use splashsync_protocol::workers::WorkerHeartbeat;
use sqlx::{PgConnection, PgPool, Row};

use super::{forget_before, list, upsert_sql, WorkerStore, SELECT};
use crate::error::StoreError;
use crate::postgres::PgDirectory;

/// The workers table of a [`PgDirectory`]'s database.
#[derive(Debug, Clone)]
pub struct PgWorkers {
    directory: PgDirectory,
}

impl PgWorkers {
    /// The workers table sharing `directory`'s connections.
    pub fn new(directory: &PgDirectory) -> Self {
        Self {
            directory: directory.clone(),
        }
    }
}

async fn upsert(conn: &mut PgConnection, hb: &WorkerHeartbeat) -> Result<bool, StoreError> {
    sqlx::query("DELETE FROM workers WHERE received_at < $1")
        .bind(forget_before())
        .execute(&mut *conn)
        .await?;
    let sql = upsert_sql(|n| format!("${n}"));
    let done = bind_heartbeat!(sqlx::query(&sql), hb)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

async fn read(readers: &PgPool) -> Result<WorkerList, StoreError> {
    let rows = sqlx::query(SELECT).fetch_all(readers).await?;
    let rows = rows
        .iter()
        .map(|r| Ok(worker_row!(r)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(list(rows, time::OffsetDateTime::now_utc()))
}

impl WorkerStore for PgWorkers {
    fn record_heartbeat(&self, hb: WorkerHeartbeat) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { upsert(conn, &hb).await })
        })))
    }

    fn workers(&self) -> BoxFuture<'_, Result<WorkerList, StoreError>> {
        Box::pin(read(self.directory.pool()))
    }
}
