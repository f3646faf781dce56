//! The SQLite directory: WAL, `synchronous=FULL`, one writer with group commit, a small
//! pool of readers.
//!
//! # Layout
//! - [`read`]: rows into records; one resource, one page, memberships in batches.
//! - [`users`] and [`groups`]: the writes, each inside the writer's batch transaction.
//! - [`status`]: provisioning states, one statement per page of keys.
//! - [`memberships`]: memberships in joining order for the one-group policy, and changes.
//! - [`outbox`]: the jobs, written in the transaction of the change; read by the relay.
//! - [`writer`]: the single writer that batches concurrent writes into group commits,
//!   light writes ahead of the heavy group writes queued before them.
//! - [`migrations`]: schema migrations run at start-up.
//! - [`reconcile_runs`]: the schema of drift reconciliation's runs.
//! - [`workers_schema`]: the schema of the workers' last heartbeats.

pub(crate) mod groups;
pub(crate) mod memberships;
pub(crate) mod migrations;
pub(crate) mod outbox;
pub(crate) mod read;
pub(crate) mod reconcile_runs;
pub(crate) mod status;
pub(crate) mod users;
pub(crate) mod workers_schema;
pub(crate) mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::Notify;

use crate::error::StoreError;
use crate::model::{GroupConflict, GroupRecord, PendingJob, Query, UserRecord, WriteCtx};
use crate::store::{Directory, GroupEdit, UserEdit};
use splashsync_protocol::Tenant;
use writer::Writer;

/// Bound parameters per IN list (far under SQLite's limit).
const IN_CHUNK: usize = 500;

/// `?, ?, …` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The rows one `json_group_array` query aggregated, decoded. Thousands of rows (a big
/// group's members) cross the driver as one value: each row fetched on its own costs a
/// round trip to the connection's thread.
fn decode_rows<T: serde::de::DeserializeOwned>(
    aggregated: Option<String>,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(aggregated.as_deref().unwrap_or("[]"))
        .map_err(|e| StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e)))))
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Checks `If-Match` against the current version.
fn check_version(if_match: Option<i64>, current: i64) -> Result<(), StoreError> {
    match if_match {
        Some(v) if v != current => Err(StoreError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}

/// A directory in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteDirectory {
    writer: Writer,
    readers: SqlitePool,
    committed: Arc<Notify>,
}

impl SqliteDirectory {
    /// Opens (creating when missing) the database at `url`, runs migrations and starts
    /// the writer.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Every commit is fsynced: a 2xx means the change survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .disable_statement_logging();
        let mut conn: SqliteConnection = options.connect().await?;
        migrations::run(&mut conn).await?;
        // The writer's page cache holds a big group write (64 MiB at most, used only when
        // needed): with SQLite's 2 MiB a 20,000-member write spills pages to the WAL
        // before its commit and writes some of them twice.
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut conn)
            .await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        let committed = Arc::new(Notify::new());
        let (writer, _task) = Writer::spawn(conn, committed.clone());
        Ok(Self {
            writer,
            readers,
            committed,
        })
    }
}

impl SqliteDirectory {
    /// The single writer and the reader pool, for the audit store that shares this file
    /// (its writes must go through the same writer: SQLite has one writer at a time).
    pub(crate) fn parts(&self) -> (Writer, SqlitePool) {
        (self.writer.clone(), self.readers.clone())
    }
}

impl Directory for SqliteDirectory {
    fn create_user(
        &self,
        cx: WriteCtx,
        record: UserRecord,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        // The user INSERT is the only statement that can fail (a taken userName) and it
        // comes first: no savepoint needed.
        Box::pin(self.writer.write_unit(Box::new(move |conn| {
            Box::pin(async move { users::create(conn, &cx, record).await })
        })))
    }

    fn update_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: UserEdit,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move {
                let mut user = users::update(conn, &cx, &id, if_match, edit).await?;
                let users = std::slice::from_mut(&mut user);
                status::attach(conn, &cx.tenant, users).await?;
                Ok(user)
            })
        })))
    }

    fn delete_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { users::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_user<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        Box::pin(async move {
            let mut tx = self.readers.begin().await?;
            let user = read::user(&mut tx, id, status).await?;
            tx.commit().await?;
            Ok(user)
        })
    }

    fn list_users(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>> {
        Box::pin(async move {
            // One read transaction: the page, its memberships and its states agree.
            let mut tx = self.readers.begin().await?;
            let page = read::users(&mut tx, &query).await?;
            tx.commit().await?;
            Ok(page)
        })
    }

    fn create_group(
        &self,
        cx: WriteCtx,
        record: GroupRecord,
        members: Vec<String>,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>> {
        Box::pin(self.writer.write_heavy(Box::new(move |conn| {
            Box::pin(async move { groups::create(conn, &cx, record, members).await })
        })))
    }

    fn update_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: GroupEdit,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>> {
        Box::pin(self.writer.write_heavy(Box::new(move |conn| {
            Box::pin(async move {
                let mut group = groups::update(conn, &cx, &id, if_match, edit).await?;
                let groups = std::slice::from_mut(&mut group);
                status::attach(conn, &cx.tenant, groups).await?;
                Ok(group)
            })
        })))
    }

    fn delete_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write_heavy(Box::new(move |conn| {
            Box::pin(async move { groups::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_group<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Option<GroupRecord>, StoreError>> {
        Box::pin(async move {
            let mut tx = self.readers.begin().await?;
            let group = read::group(&mut tx, id, status).await?;
            tx.commit().await?;
            Ok(group)
        })
    }

    fn list_groups(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<GroupRecord>, u64), StoreError>> {
        Box::pin(async move {
            let mut tx = self.readers.begin().await?;
            let page = read::groups(&mut tx, &query).await?;
            tx.commit().await?;
            Ok(page)
        })
    }

    fn record_conflict(&self, conflict: GroupConflict) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { memberships::record_conflict(conn, &conflict).await })
        })))
    }

    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>> {
        Box::pin(outbox::pending(&self.readers, limit))
    }

    fn mark_sent(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if seqs.is_empty() {
                return Ok(());
            }
            // No savepoint: every row it marks was confirmed, so even a part of it that a
            // broken database left behind is true.
            self.writer
                .write_unit(Box::new(move |conn| {
                    Box::pin(async move { outbox::mark_sent(conn, &seqs).await })
                }))
                .await
        })
    }

    fn outbox_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.committed.notified())
    }
}
