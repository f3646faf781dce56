//! The PostgreSQL directory: the same [`Directory`] and [`crate::audit::AuditStore`] as
//! SQLite's, for several receivers on one database (docs/DESIGN.md, "PostgreSQL: several
//! receivers").
//!
//! Each request is one transaction on a connection of the pool. PostgreSQL commits
//! concurrent transactions together (one WAL flush covers every commit record written
//! before it), so concurrent requests share fsyncs without a writer task batching them;
//! and a request's failure undoes only its own transaction. Writes lock what they read
//! (`SELECT … FOR UPDATE`) and uniqueness lives in unique indexes, so If-Match, the
//! one-group policy and userName/displayName uniqueness hold across receivers.
//!
//! # Layout
//! - [`migrations`]: schema migrations (PostgreSQL's own list, same meaning as SQLite's).
//! - [`read`], [`status`]: rows into records, pages, memberships, provisioning states.
//! - [`users`], [`groups`], [`memberships`]: the writes, with their row locks.
//! - [`outbox`]: the jobs, written in the transaction of the change.
//! - [`lease`]: the advisory lock that makes one relay at a time publish the outbox.
//! - [`audit`]: the audit store on the same database.
//! - [`workers_schema`]: the schema of the workers' last heartbeats.

pub mod audit;
pub(crate) mod groups;
pub mod lease;
pub(crate) mod memberships;
pub(crate) mod migrations;
pub(crate) mod outbox;
pub(crate) mod read;
pub(crate) mod status;
pub(crate) mod users;
pub(crate) mod workers_schema;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::Notify;

use crate::error::StoreError;
use crate::model::{GroupConflict, GroupRecord, PendingJob, Query, UserRecord, WriteCtx};
use crate::store::{Directory, GroupEdit, UserEdit};
use lease::Lease;
use splashsync_protocol::Tenant;

/// Connections per receiver: requests in flight at once, each its own transaction.
const POOL_SIZE: u32 = 16;

/// How long a request waits for a connection: the pool's queue is the receiver's write
/// queue (SQLite's is its writer's channel), so a burst waits rather than fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

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

/// What one write does inside its transaction.
pub(crate) type TxFn<T> =
    Box<dyn for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send>;

/// A directory in a PostgreSQL database, shared with other receivers.
#[derive(Debug, Clone)]
pub struct PgDirectory {
    pool: PgPool,
    committed: Arc<Notify>,
    lease: Lease,
}

impl PgDirectory {
    /// Connects to `url` (`postgres://…`), runs migrations and starts trying to take
    /// the outbox lease.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("splashsync-receiver")
            .disable_statement_logging();
        let mut conn = options.connect().await?;
        migrations::run(&mut conn).await?;
        conn.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        Ok(Self {
            pool,
            committed: Arc::new(Notify::new()),
            lease: Lease::spawn(options),
        })
    }

    /// The outbox lease of this receiver.
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` in a transaction of its own: committed when it succeeds, rolled back
    /// (nothing applied) when it fails.
    pub(crate) async fn write<T: Send + 'static>(&self, f: TxFn<T>) -> Result<T, StoreError> {
        let mut tx = self.pool.begin().await?;
        match f(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                self.committed.notify_waiters();
                Ok(value)
            }
            Err(err) => {
                // A failed rollback leaves the connection to the pool, which closes it.
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }

    /// Runs `f` in a read transaction: what it reads is one snapshot.
    async fn read<T: Send + 'static>(&self, f: TxFn<T>) -> Result<T, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let value = f(&mut tx).await?;
        tx.commit().await?;
        Ok(value)
    }
}

impl Directory for PgDirectory {
    fn create_user(
        &self,
        cx: WriteCtx,
        record: UserRecord,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        // One statement, its own transaction: no BEGIN/COMMIT round trips.
        Box::pin(async move {
            let created = users::create(&self.pool, &cx, record).await?;
            self.committed.notify_waiters();
            Ok(created)
        })
    }

    fn update_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: UserEdit,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        Box::pin(self.write(Box::new(move |conn| {
            Box::pin(async move {
                let mut user = users::update(conn, &cx, &id, if_match, edit).await?;
                status::attach(conn, &cx.tenant, std::slice::from_mut(&mut user)).await?;
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
        Box::pin(self.write(Box::new(move |conn| {
            Box::pin(async move { users::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_user<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        let (id, status) = (id.to_string(), status.cloned());
        Box::pin(self.read(Box::new(move |conn| {
            Box::pin(async move { read::user(conn, &id, status.as_ref()).await })
        })))
    }

    fn list_users(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>> {
        Box::pin(self.read(Box::new(move |conn| {
            Box::pin(async move { read::users(conn, &query).await })
        })))
    }

    fn create_group(
        &self,
        cx: WriteCtx,
        record: GroupRecord,
        members: Vec<String>,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>> {
        Box::pin(self.write(Box::new(move |conn| {
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
        Box::pin(self.write(Box::new(move |conn| {
            Box::pin(async move {
                let mut group = groups::update(conn, &cx, &id, if_match, edit).await?;
                let one = std::slice::from_mut(&mut group);
                status::attach(conn, &cx.tenant, one).await?;
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
        Box::pin(self.write(Box::new(move |conn| {
            Box::pin(async move { groups::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_group<'a>(
        &'a self,
        id: &'a str,
        status: Option<&'a Tenant>,
    ) -> BoxFuture<'a, Result<Option<GroupRecord>, StoreError>> {
        let (id, status) = (id.to_string(), status.cloned());
        Box::pin(self.read(Box::new(move |conn| {
            Box::pin(async move { read::group(conn, &id, status.as_ref()).await })
        })))
    }

    fn list_groups(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<GroupRecord>, u64), StoreError>> {
        Box::pin(self.read(Box::new(move |conn| {
            Box::pin(async move { read::groups(conn, &query).await })
        })))
    }

    fn record_conflict(&self, conflict: GroupConflict) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            memberships::record_conflicts(&mut conn, std::slice::from_ref(&conflict)).await
        })
    }

    /// Only the holder of the outbox lease sees pending jobs: the others' relays idle.
    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>> {
        Box::pin(async move {
            if !self.lease.held() {
                return Ok(Vec::new());
            }
            outbox::pending(&self.pool, limit).await
        })
    }

    fn mark_sent(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if seqs.is_empty() {
                return Ok(());
            }
            outbox::mark_sent(&self.pool, &seqs).await
        })
    }

    /// Wakes on this receiver's commits; the relay's poll (each second) sees the others'.
    fn outbox_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.committed.notified())
    }
}
