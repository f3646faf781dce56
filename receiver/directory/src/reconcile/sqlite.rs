//! [`SqliteReconcile`]: the [`ReconcileStore`] on the directory's SQLite file. Its writes
//! go through the directory's single writer (SQLite has one writer at a time), a run's
//! fixes and report in one transaction; its reads use the reader pool.

use futures_util::future::BoxFuture;
use splashsync_protocol::reconcile::{DriftAction, ReconcileReport, ReconcileRequest};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;

use super::{fix, table, view, DirectoryView, Plan, Reading, ReconcileStore};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::sqlite::writer::Writer;
use crate::sqlite::SqliteDirectory;

/// Most runs one list returns.
pub const MAX_RUNS: u32 = 100;

/// Reconciliation runs, views and fixes on the directory's SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteReconcile {
    writer: Writer,
    readers: SqlitePool,
}

impl SqliteReconcile {
    /// The store on `directory`'s file, sharing its writer.
    pub fn new(directory: &SqliteDirectory) -> Self {
        let (writer, readers) = directory.parts();
        Self { writer, readers }
    }
}

/// Writes the fixes of a real run, settles each item's action and completes the run.
async fn finish(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    run: i64,
    reading: Reading,
    plan: Plan,
) -> Result<ReconcileReport, StoreError> {
    let request = table::request_of(conn, run).await?;
    let written = match request.dry_run {
        true => Vec::new(),
        false => fix::write(conn, cx, &plan.fixes).await?,
    };
    let mut items = Vec::with_capacity(plan.items.len());
    for planned in plan.items {
        let mut item = planned.item;
        if let Some(index) = planned.fix.filter(|_| !request.dry_run) {
            item.action = match (written.get(index), item.action) {
                (Some(true), DriftAction::WouldPrune) => DriftAction::Pruned,
                (Some(true), _) => DriftAction::Fixed,
                // A write since the comparison put a newer job of the key on its way.
                _ => DriftAction::Pending,
            };
        }
        items.push(item);
    }
    let fixed = written.iter().filter(|w| **w).count() as u64;
    let pending = items
        .iter()
        .filter(|i| i.action == DriftAction::Pending)
        .count() as u64;
    table::complete(conn, run, reading, &items, fixed, pending).await?;
    table::one(conn, run)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("reconciliation run {run}")))
}

impl ReconcileStore for SqliteReconcile {
    fn begin(
        &self,
        trigger: String,
        request: ReconcileRequest,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { table::begin(conn, &trigger, request).await })
        })))
    }

    fn view(
        &self,
        cx: WriteCtx,
        emails: Vec<String>,
    ) -> BoxFuture<'_, Result<DirectoryView, StoreError>> {
        Box::pin(async move {
            // One read transaction: users, groups, states and outbox seen at one instant.
            let mut tx = self.readers.begin().await?;
            let view = view::load(&mut tx, &cx, &emails).await?;
            tx.rollback().await?;
            Ok(view)
        })
    }

    fn finish(
        &self,
        cx: WriteCtx,
        run: i64,
        reading: Reading,
        plan: Plan,
    ) -> BoxFuture<'_, Result<ReconcileReport, StoreError>> {
        // Heavy: a run may re-send thousands of users, like a big group write.
        Box::pin(self.writer.write_heavy(Box::new(move |conn| {
            Box::pin(async move { finish(conn, &cx, run, reading, plan).await })
        })))
    }

    fn fail(
        &self,
        run: i64,
        reading: Reading,
        error: String,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { table::fail(conn, run, reading, &error).await })
        })))
    }

    fn runs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<ReconcileReport>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.readers.acquire().await?;
            table::list(&mut conn, limit.clamp(1, MAX_RUNS)).await
        })
    }

    fn run(&self, id: i64) -> BoxFuture<'_, Result<Option<ReconcileReport>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.readers.acquire().await?;
            table::one(&mut conn, id).await
        })
    }
}
