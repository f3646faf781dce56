//! The single writer: every write goes through one connection that batches the writes
//! waiting at the same moment into one transaction (group commit).
//!
//! SQLite allows one writer at a time and, with `synchronous=FULL`, each commit costs an
//! fsync. One transaction per request caps throughput at one fsync per request; here a
//! batch of concurrent requests shares one fsync while each request still gets its own
//! savepoint, so one request's failure (a duplicate userName) never undoes another's.
//! Nobody is answered before the batch's COMMIT returned: acknowledged means durable.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::error::StoreError;

/// What one write does inside the batch transaction.
pub(crate) type WriteFn<T> = Box<
    dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send,
>;

/// A type-erased write: runs its statements, then learns whether the batch committed.
type OpFn = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Outcome> + Send>;

/// A write and whether it needs its own savepoint.
struct Op {
    savepoint: bool,
    run: OpFn,
}

/// Answers one write's caller once the batch's fate is known.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct Outcome {
    keep: bool,
    finish: Finish,
}

/// Largest number of writes in one transaction.
const MAX_BATCH: usize = 512;

/// Handle to the writer task.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Starts the writer on `conn`; `committed` is notified after each commit.
    pub(crate) fn spawn(
        conn: SqliteConnection,
        committed: Arc<Notify>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel::<Op>(4096);
        let handle = tokio::spawn(run(conn, rx, committed));
        (Self { tx }, handle)
    }

    /// Runs `f` in the next batch, in a savepoint of its own so that its failure undoes
    /// only its own statements; resolves after the batch committed (or failed).
    pub(crate) async fn write<T: Send + 'static>(&self, f: WriteFn<T>) -> Result<T, StoreError> {
        self.submit(true, f).await
    }

    /// Like [`Writer::write`] without the savepoint, for a write that has changed nothing
    /// when it fails (its first statement is the only one that can fail for a reason
    /// other than a broken database). Saves two statements on the create hot path.
    pub(crate) async fn write_unit<T: Send + 'static>(
        &self,
        f: WriteFn<T>,
    ) -> Result<T, StoreError> {
        self.submit(false, f).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        savepoint: bool,
        f: WriteFn<T>,
    ) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        let run: OpFn = Box::new(move |conn| {
            Box::pin(async move {
                let result = f(conn).await;
                Outcome {
                    keep: result.is_ok(),
                    finish: Box::new(move |committed: Result<(), StoreError>| {
                        let _ = reply.send(committed.and(result));
                    }),
                }
            })
        });
        self.tx
            .send(Op { savepoint, run })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Op>, committed: Arc<Notify>) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    let mut finishers = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let result = run_batch(&mut conn, &mut batch, &mut finishers).await;
        if let Err(err) = &result {
            tracing::error!(error = %err, "batch transaction failed; its writes were not applied");
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        } else {
            committed.notify_waiters();
        }
        for finish in finishers.drain(..) {
            finish(result.clone());
        }
        // Ops of a batch that failed before running still owe their callers an answer:
        // dropping them drops their reply sender, which the caller sees as Closed.
        batch.clear();
    }
    let _ = sqlx::Connection::close(conn).await;
}

async fn run_batch(
    conn: &mut SqliteConnection,
    batch: &mut Vec<Op>,
    finishers: &mut Vec<Finish>,
) -> Result<(), StoreError> {
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for op in batch.drain(..) {
        if !op.savepoint {
            finishers.push((op.run)(conn).await.finish);
            continue;
        }
        sqlx::query("SAVEPOINT w").execute(&mut *conn).await?;
        let outcome = (op.run)(conn).await;
        finishers.push(outcome.finish);
        if !outcome.keep {
            sqlx::query("ROLLBACK TO w").execute(&mut *conn).await?;
        }
        sqlx::query("RELEASE w").execute(&mut *conn).await?;
    }
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    Ok(())
}
