//! The `workers` table on SQLite: its schema (migration 8), the heartbeat upsert through
//! the directory's single writer, and the list from the reader pool.

use futures_util::future::BoxFuture;
use splashsync_protocol::admin::WorkerList;
use splashsync_protocol::workers::WorkerHeartbeat;
use sqlx::sqlite::SqlitePool;
use sqlx::{Row, SqliteConnection};

use super::{forget_before, list, upsert_sql, WorkerStore, SELECT};
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
    sqlx::query("DELETE FROM workers WHERE received_at < ?")
        .bind(forget_before())
        .execute(&mut *conn)
        .await?;
    let sql = upsert_sql(|_| "?".to_string());
    let done = bind_heartbeat!(sqlx::query(&sql), hb)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

async fn read(readers: &SqlitePool) -> Result<WorkerList, StoreError> {
    let rows = sqlx::query(SELECT).fetch_all(readers).await?;
    let rows = rows
        .iter()
        .map(|r| Ok(worker_row!(r)))
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
