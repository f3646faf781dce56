//! The outbox lease: of all the receivers on one PostgreSQL database, one relay at a time
//! publishes the outbox, so jobs reach RabbitMQ in `seq` order whichever receiver
//! committed them (docs/DESIGN.md, "PostgreSQL: several receivers").
//!
//! The lease is a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated
//! connection. PostgreSQL releases it the moment that connection ends: the receiver
//! exits, is killed (`kill -9` closes its sockets), or the connection is cut. Every
//! receiver's lease task tries to take it every [`TRY_EVERY`]; the holder checks its
//! connection as often, bounded by [`CHECK_TIMEOUT`], and stops publishing (gives up the
//! lease) as soon as a check fails. A relay learns whether it may publish from
//! [`Lease::held`] before each batch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::task::JoinHandle;

/// The advisory lock key of the outbox lease ("SPOUTB").
pub const OUTBOX_LEASE: i64 = 0x5350_4f55_5442;

/// How often a receiver tries to take the lease, and the holder checks it still has it.
const TRY_EVERY: Duration = Duration::from_millis(500);

/// A check slower than this counts as a lost connection: the lease is given up.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether this receiver holds the outbox lease; the task keeping it ends with the last
/// clone.
#[derive(Debug, Clone)]
pub struct Lease {
    held: Arc<AtomicBool>,
    _task: Arc<AbortOnDrop>,
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Lease {
    /// Starts trying to take the lease on connections made from `options`.
    pub(crate) fn spawn(options: PgConnectOptions) -> Self {
        let held = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(keep(options, held.clone()));
        Self {
            held,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Whether this receiver holds the lease now.
    pub fn held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }
}

async fn keep(options: PgConnectOptions, held: Arc<AtomicBool>) {
    let options = options.application_name("splashsync-outbox-lease");
    loop {
        match options.connect().await {
            Ok(conn) => {
                hold(conn, &held).await;
                held.store(false, Ordering::Release);
            }
            Err(err) => tracing::warn!(error = %err, "outbox lease: cannot connect to PostgreSQL"),
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}

/// Takes or keeps the lease on `conn` until the connection fails.
async fn hold(mut conn: PgConnection, held: &AtomicBool) {
    loop {
        let check = async {
            if held.load(Ordering::Acquire) {
                // The lock lives as long as the session: a working connection still has it.
                conn.ping().await.map(|()| true)
            } else {
                sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                    .bind(OUTBOX_LEASE)
                    .fetch_one(&mut conn)
                    .await
            }
        };
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(Ok(now)) => {
                if now && !held.swap(true, Ordering::AcqRel) {
                    tracing::info!(
                        "outbox lease taken: this receiver's relay publishes the outbox"
                    );
                }
            }
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "outbox lease connection failed; lease given up");
                return;
            }
            Err(_) => {
                tracing::warn!("outbox lease check timed out; lease given up");
                return;
            }
        }
        tokio::time::sleep(TRY_EVERY).await;
    }
}
