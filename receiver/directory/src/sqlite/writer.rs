//! The single writer: every write goes through one connection that batches the writes
//! waiting at the same moment into one transaction (group commit).
//!
//! SQLite allows one writer at a time and, with `synchronous=FULL`, each commit costs an
//! fsync. One transaction per request caps throughput at one fsync per request; here a
//! batch of concurrent requests shares one fsync while each request still gets its own
//! savepoint, so one request's failure (a duplicate userName) never undoes another's.
//! Nobody is answered before the batch's COMMIT returned: acknowledged means durable
//! (docs/DESIGN.md, invariant 1).
//!
//! Writes come in two weights. A group write is heavy: it may touch tens of thousands of
//! users, each with a version and a job, so it runs in one transaction as long as it needs
//! to stay atomic. Every other write is light (a user, an outcome, a dead letter). The
//! writer keeps them apart so that a light write never waits behind a queue of heavy
//! ones: light writes waiting go first, in batches of their own; heavy writes go in
//! batches of their own, as many as fit in [`HEAVY_BUDGET`] (at least one), and take
//! turns with the light batches so that they are never starved. A create waits at most
//! for the batch being written (one heavy write at worst, bounded by the request limits
//! of [`crate::limits`]) and one heavy batch more. Writes queued together may commit in
//! another order than they came: none of them was answered yet, so no caller can tell.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A write, whether it needs its own savepoint, and its weight.
struct Op {
    savepoint: bool,
    weight: Weight,
    run: OpFn,
}

/// How much a write may hold the writer back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    /// A write of one resource's rows and a job or two.
    Light,
    /// A write that may touch many users (a group's members).
    Heavy,
}

/// Answers one write's caller once the batch's fate is known.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

struct Outcome {
    keep: bool,
    finish: Finish,
}

/// Largest number of writes in one transaction.
const MAX_BATCH: usize = 512;

/// A batch this long is logged (debug): the other writes waited for it.
const SLOW_BATCH: Duration = Duration::from_millis(100);

/// How long a batch of heavy writes may grow: small group writes share an fsync, a big
/// one commits alone.
const HEAVY_BUDGET: Duration = Duration::from_millis(20);

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
        self.submit(true, Weight::Light, f).await
    }

    /// Like [`Writer::write`] without the savepoint, for a write that has changed nothing
    /// when it fails (its first statement is the only one that can fail for a reason
    /// other than a broken database). Saves two statements on the create hot path.
    pub(crate) async fn write_unit<T: Send + 'static>(
        &self,
        f: WriteFn<T>,
    ) -> Result<T, StoreError> {
        self.submit(false, Weight::Light, f).await
    }

    /// Like [`Writer::write`] for a write that may touch many users: it never shares a
    /// transaction with light writes, and light writes queued behind it go first.
    pub(crate) async fn write_heavy<T: Send + 'static>(
        &self,
        f: WriteFn<T>,
    ) -> Result<T, StoreError> {
        self.submit(true, Weight::Heavy, f).await
    }

    async fn submit<T: Send + 'static>(
        &self,
        savepoint: bool,
        weight: Weight,
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
            .send(Op {
                savepoint,
                weight,
                run,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writes waiting, by weight, each in arrival order.
#[derive(Default)]
struct Queues {
    light: VecDeque<Op>,
    heavy: VecDeque<Op>,
    /// Whether the last batch was light: heavy writes waiting then get the next turn.
    light_last: bool,
}

impl Queues {
    fn push(&mut self, op: Op) {
        match op.weight {
            Weight::Light => self.light.push_back(op),
            Weight::Heavy => self.heavy.push_back(op),
        }
    }

    fn is_empty(&self) -> bool {
        self.light.is_empty() && self.heavy.is_empty()
    }

    /// The queue the next batch comes from and how long it may grow: light writes,
    /// unless heavy ones are waiting and the last batch was light.
    fn next(&mut self) -> (&mut VecDeque<Op>, Option<Duration>) {
        let heavy_turn = !self.heavy.is_empty() && (self.light.is_empty() || self.light_last);
        self.light_last = !heavy_turn;
        if heavy_turn {
            (&mut self.heavy, Some(HEAVY_BUDGET))
        } else {
            (&mut self.light, None)
        }
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Op>, committed: Arc<Notify>) {
    let mut queues = Queues::default();
    let mut finishers = Vec::with_capacity(MAX_BATCH);
    loop {
        if queues.is_empty() {
            match rx.recv().await {
                Some(op) => queues.push(op),
                None => break,
            }
        }
        while let Ok(op) = rx.try_recv() {
            queues.push(op);
        }
        let (queue, budget) = queues.next();
        let result = run_batch(&mut conn, queue, budget, &mut finishers).await;
        if let Err(err) = &result {
            tracing::error!(error = %err, "batch transaction failed; its writes were not applied");
            let _ = sqlx::query("ROLLBACK").execute(&mut conn).await;
        } else {
            committed.notify_waiters();
        }
        for finish in finishers.drain(..) {
            finish(result.clone());
        }
    }
    let _ = sqlx::Connection::close(conn).await;
}

/// Runs writes from `queue` in one transaction: up to [`MAX_BATCH`], and, with a
/// `budget`, no more once the batch has run that long. A write taken but not run when
/// the transaction fails is dropped: its caller sees [`StoreError::Closed`].
async fn run_batch(
    conn: &mut SqliteConnection,
    queue: &mut VecDeque<Op>,
    budget: Option<Duration>,
    finishers: &mut Vec<Finish>,
) -> Result<(), StoreError> {
    let started = Instant::now();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    for n in 0..MAX_BATCH {
        if budget.is_some_and(|b| n > 0 && started.elapsed() >= b) {
            break;
        }
        let Some(op) = queue.pop_front() else {
            break;
        };
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
    if started.elapsed() >= SLOW_BATCH {
        let ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            ms,
            writes = finishers.len(),
            heavy = budget.is_some(),
            "a write batch held the writer"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(weight: Weight) -> Op {
        Op {
            savepoint: true,
            weight,
            run: Box::new(|_| Box::pin(async { unreachable!("never run here") })),
        }
    }

    fn turn(queues: &mut Queues) -> Weight {
        let (queue, budget) = queues.next();
        let weight = queue.front().map(|op| op.weight).expect("a write waiting");
        assert_eq!(budget.is_some(), weight == Weight::Heavy);
        weight
    }

    #[test]
    fn light_writes_go_first_and_heavy_ones_take_every_other_turn() {
        let mut queues = Queues::default();
        queues.push(op(Weight::Heavy));
        queues.push(op(Weight::Heavy));
        queues.push(op(Weight::Light));
        // Light writes that came after heavy ones still go first...
        assert_eq!(turn(&mut queues), Weight::Light);
        // ...but while light writes keep coming, heavy ones get every other turn.
        assert_eq!(turn(&mut queues), Weight::Heavy);
        assert_eq!(turn(&mut queues), Weight::Light);
        queues.light.clear();
        assert_eq!(turn(&mut queues), Weight::Heavy);
        assert_eq!(turn(&mut queues), Weight::Heavy, "nothing light waiting");
    }
}
