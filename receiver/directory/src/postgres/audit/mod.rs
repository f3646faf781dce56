//! The audit store on PostgreSQL ([`AuditStore`]): outcome events, dead letters and
//! provisioning states in the directory's database, each write its own transaction.
//!
//! # Layout
//! - [`intake`]: storing outcome events and dead letters, moving key states forward.
//! - [`replay`]: a replay job from the key's current directory state.
//! - [`timeline`]: a key's timeline.

pub(crate) mod intake;
pub(crate) mod replay;
pub(crate) mod timeline;

use futures_util::future::BoxFuture;
use splashsync_protocol::events::OutcomeEvent;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::status::statuses;
use super::PgDirectory;
use crate::audit::{
    fixed, now_fixed, Attempt, AuditStore, DeadLetter, DeadLetterFilter, NewDeadLetter,
    OutboxStats, ProvisioningStatus, Replayed, TimelineEntry,
};
use crate::error::StoreError;
use crate::model::WriteCtx;

/// The audit tables of a [`PgDirectory`]'s database.
#[derive(Debug, Clone)]
pub struct PgAudit {
    directory: PgDirectory,
}

impl PgAudit {
    /// The audit store sharing `directory`'s connections.
    pub fn new(directory: &PgDirectory) -> Self {
        Self {
            directory: directory.clone(),
        }
    }

    fn pool(&self) -> &PgPool {
        self.directory.pool()
    }
}

const DL_COLUMNS: &str = "d.id, d.job_id, d.tenant, d.key, d.kind, d.version, d.reason, d.http_status, d.error_code, \
    d.error_body, d.attempts, d.first_attempt, d.last_attempt, d.received_at, d.state, d.resolved_at, d.note, \
    d.replay_job_id, o.origin, d.payload";

fn dead_letter_from_row(row: &PgRow, with_job: bool) -> Result<DeadLetter, StoreError> {
    let payload: String = row.try_get("payload")?;
    Ok(DeadLetter {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        tenant: row.try_get("tenant")?,
        key: row.try_get("key")?,
        kind: row.try_get("kind")?,
        version: row.try_get("version")?,
        reason: row.try_get("reason")?,
        http_status: row.try_get("http_status")?,
        error_code: row.try_get("error_code")?,
        error_body: row.try_get("error_body")?,
        attempts: row.try_get("attempts")?,
        first_attempt: row.try_get("first_attempt")?,
        last_attempt: row.try_get("last_attempt")?,
        received_at: row.try_get("received_at")?,
        state: row.try_get("state")?,
        resolved_at: row.try_get("resolved_at")?,
        note: row.try_get("note")?,
        replay_job_id: row.try_get("replay_job_id")?,
        origin: row.try_get("origin")?,
        job: with_job
            .then(|| serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload))),
    })
}

/// The WHERE clause (numbered parameters) and its arguments for `filter`.
fn filter_clause(f: &DeadLetterFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    let mut push = |column: &str, op: &str, value: String| {
        args.push(value);
        clauses.push(format!("{column} {op} ${}", args.len()));
    };
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        s => push("d.state", "=", s.to_string()),
    }
    for (column, value) in [
        ("d.reason", &f.reason),
        ("d.tenant", &f.tenant),
        ("d.key", &f.key),
    ] {
        if let Some(v) = value {
            push(column, "=", v.clone());
        }
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        push("d.received_at", "<=", fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        push("d.received_at", ">=", fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

impl PgAudit {
    async fn list(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let (clause, args) = filter_clause(&filter);
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let sql = format!(
            "SELECT {DL_COLUMNS} FROM dead_letters d LEFT JOIN outbox o ON o.job_id = d.job_id \
             {clause} ORDER BY d.id DESC LIMIT {limit}"
        );
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| dead_letter_from_row(r, false))
            .collect()
    }

    async fn discard_open(&self, id: i64, note: String) -> Result<(), StoreError> {
        self.directory
            .write(Box::new(move |conn| {
                Box::pin(async move {
                    let current: Option<String> =
                        sqlx::query_scalar("SELECT state FROM dead_letters WHERE id = $1 FOR UPDATE")
                            .bind(id)
                            .fetch_optional(&mut *conn)
                            .await?;
                    match current.as_deref() {
                        None => return Err(StoreError::NotFound(format!("dead letter {id}"))),
                        Some("open") => {}
                        Some(other) => {
                            return Err(StoreError::AlreadyResolved {
                                id,
                                state: other.to_string(),
                            })
                        }
                    }
                    sqlx::query(
                        "UPDATE dead_letters SET state = 'discarded', resolved_at = $1, note = $2 WHERE id = $3",
                    )
                    .bind(now_fixed())
                    .bind(note)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            }))
            .await
    }

    async fn stats(&self) -> Result<OutboxStats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) AS pending, \
             (SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1) AS oldest, \
             (SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL) AS sent",
        )
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<String> = row.try_get("oldest")?;
        let age = oldest
            .and_then(|t| {
                time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
            })
            .map(|t| {
                (time::OffsetDateTime::now_utc() - t)
                    .as_seconds_f64()
                    .max(0.0)
            })
            .unwrap_or(0.0);
        Ok(OutboxStats {
            pending: row.try_get("pending")?,
            oldest_pending_age_seconds: age,
            sent: row.try_get("sent")?,
        })
    }
}

impl AuditStore for PgAudit {
    fn record_outcome(&self, event: OutcomeEvent) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { intake::insert_outcome(conn, &event).await })
        })))
    }

    fn record_dead_letter(&self, dl: NewDeadLetter) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { intake::insert_dead_letter(conn, &dl).await })
        })))
    }

    fn dead_letters(
        &self,
        filter: DeadLetterFilter,
    ) -> BoxFuture<'_, Result<Vec<DeadLetter>, StoreError>> {
        Box::pin(self.list(filter))
    }

    fn dead_letter(&self, id: i64) -> BoxFuture<'_, Result<Option<DeadLetter>, StoreError>> {
        Box::pin(async move {
            let sql = format!(
                "SELECT {DL_COLUMNS} FROM dead_letters d LEFT JOIN outbox o ON o.job_id = d.job_id WHERE d.id = $1"
            );
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
            row.map(|r| dead_letter_from_row(&r, true)).transpose()
        })
    }

    fn attempts(&self, job_id: String) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT job_id, attempt, at, status, detail, http_status, error_code, worker FROM audit_events \
                 WHERE job_id = $1 ORDER BY attempt, at",
            )
            .bind(job_id)
            .fetch_all(self.pool())
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Attempt {
                        job_id: r.try_get("job_id")?,
                        attempt: r.try_get("attempt")?,
                        at: r.try_get("at")?,
                        status: r.try_get("status")?,
                        detail: r.try_get("detail")?,
                        http_status: r.try_get("http_status")?,
                        error_code: r.try_get("error_code")?,
                        worker: r.try_get("worker")?,
                    })
                })
                .collect()
        })
    }

    fn replay(&self, cx: WriteCtx, id: i64) -> BoxFuture<'_, Result<Replayed, StoreError>> {
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { replay::replay(conn, &cx, id).await })
        })))
    }

    fn discard(&self, id: i64, note: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.discard_open(id, note))
    }

    fn status(&self, key: String) -> BoxFuture<'_, Result<Option<ProvisioningStatus>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.pool().acquire().await?;
            let keys = [key];
            Ok(statuses(&mut conn, &keys).await?.remove(&keys[0]))
        })
    }

    fn timeline(&self, key: String) -> BoxFuture<'_, Result<Vec<TimelineEntry>, StoreError>> {
        Box::pin(async move { timeline::timeline(self.pool(), &key).await })
    }

    fn user_id_by_name(
        &self,
        user_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT id FROM users WHERE user_name_key = $1")
                    .bind(user_name.to_lowercase())
                    .fetch_optional(self.pool())
                    .await?,
            )
        })
    }

    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        Box::pin(self.stats())
    }

    fn open_by_reason(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT reason, COUNT(*) AS n FROM dead_letters WHERE state = 'open' GROUP BY reason ORDER BY n DESC",
            )
            .fetch_all(self.pool())
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("reason")?, r.try_get("n")?)))
                .collect()
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(self.pool()).await?;
            Ok(())
        })
    }
}
