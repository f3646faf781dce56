//! The SQLite audit store: intake writes through the directory's single writer, reads
//! from its reader pool.

use futures_util::future::BoxFuture;
use splashsync_protocol::events::OutcomeEvent;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::Row;

use super::incident_read;
use super::intake::{insert_dead_letter, insert_outcome};
use super::{
    fixed, now_fixed, Attempt, AuditStore, CauseCount, DeadLetter, DeadLetterFilter,
    IncidentDetail, IncidentDiscarded, IncidentFilter, IncidentPage, IncidentReplayed,
    NewDeadLetter, OutboxStats, ProvisioningStatus, Replayed, RetryingKey, TimelineEntry,
    UserMatch,
};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::sqlite::status::statuses;
use crate::sqlite::writer::Writer;
use crate::sqlite::SqliteDirectory;

/// The audit tables of a [`SqliteDirectory`]'s file.
#[derive(Debug, Clone)]
pub struct SqliteAudit {
    writer: Writer,
    readers: SqlitePool,
}

impl SqliteAudit {
    /// The audit store sharing `directory`'s writer and readers.
    pub fn new(directory: &SqliteDirectory) -> Self {
        let (writer, readers) = directory.parts();
        Self { writer, readers }
    }
}

const DL_COLUMNS: &str = "d.id, d.job_id, d.tenant, d.key, d.kind, d.version, d.reason, d.http_status, d.error_code, \
    d.error_body, d.attempts, d.first_attempt, d.last_attempt, d.received_at, d.state, d.resolved_at, d.note, \
    d.replay_job_id, o.origin, d.payload, d.incident_id, i.name, i.email";

/// Dead letters with the SCIM call that caused their job and their incident's names.
const DL_FROM: &str = "FROM dead_letters d LEFT JOIN outbox o ON o.job_id = d.job_id \
    LEFT JOIN incidents i ON i.id = d.incident_id";

fn dead_letter_from_row(row: &SqliteRow, with_job: bool) -> Result<DeadLetter, StoreError> {
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
        incident_id: row.try_get("incident_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        job: with_job
            .then(|| serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload))),
    })
}

/// The WHERE clause and its arguments for `filter`.
fn filter_clause(f: &DeadLetterFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        s => {
            clauses.push("d.state = ?");
            args.push(s.to_string());
        }
    }
    for (clause, value) in [
        ("d.reason = ?", &f.reason),
        ("d.tenant = ?", &f.tenant),
        ("d.key = ?", &f.key),
    ] {
        if let Some(v) = value {
            clauses.push(clause);
            args.push(v.clone());
        }
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        clauses.push("d.received_at <= ?");
        args.push(fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        clauses.push("d.received_at >= ?");
        args.push(fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

/// The dead letters of incident `id`, newest first (the latest 500).
async fn dead_letters_of_incident(
    readers: &SqlitePool,
    id: i64,
) -> Result<Vec<DeadLetter>, StoreError> {
    let sql = format!(
        "SELECT {DL_COLUMNS} {DL_FROM} WHERE d.incident_id = ? ORDER BY d.id DESC LIMIT 500"
    );
    let rows = sqlx::query(&sql).bind(id).fetch_all(readers).await?;
    rows.iter()
        .map(|r| dead_letter_from_row(r, false))
        .collect()
}

impl SqliteAudit {
    async fn count(&self, filter: DeadLetterFilter) -> Result<i64, StoreError> {
        let (clause, args) = filter_clause(&filter);
        let sql = format!("SELECT COUNT(*) FROM dead_letters d {clause}");
        let mut q = sqlx::query_scalar(&sql);
        for a in &args {
            q = q.bind(a);
        }
        Ok(q.fetch_one(&self.readers).await?)
    }

    async fn list(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let (clause, args) = filter_clause(&filter);
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        let offset = filter.offset.unwrap_or(0);
        let sql = format!(
            "SELECT {DL_COLUMNS} {DL_FROM} {clause} ORDER BY d.id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let rows = q.fetch_all(&self.readers).await?;
        rows.iter()
            .map(|r| dead_letter_from_row(r, false))
            .collect()
    }

    async fn read_status(&self, key: String) -> Result<Option<ProvisioningStatus>, StoreError> {
        let mut conn = self.readers.acquire().await?;
        let keys = [key];
        Ok(statuses(&mut conn, &keys).await?.remove(&keys[0]))
    }
}

impl AuditStore for SqliteAudit {
    fn record_outcome(&self, event: OutcomeEvent) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { insert_outcome(conn, &event).await })
        })))
    }

    fn record_dead_letter(&self, dl: NewDeadLetter) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { insert_dead_letter(conn, &dl).await })
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
            let sql = format!("SELECT {DL_COLUMNS} {DL_FROM} WHERE d.id = ?");
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
            row.map(|r| dead_letter_from_row(&r, true)).transpose()
        })
    }

    fn attempts(&self, job_id: String) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT job_id, attempt, at, status, detail, http_status, error_code, worker FROM audit_events \
                 WHERE job_id = ? ORDER BY attempt, at",
            )
            .bind(job_id)
            .fetch_all(&self.readers)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(Attempt {
                        job_id: r.try_get("job_id")?,
                        attempt: r.try_get("attempt")?,
                        at: r.try_get("at")?,
                        status: r.try_get("status")?,
                        detail: super::humane::detail(&r.try_get::<String, _>("detail")?),
                        http_status: r.try_get("http_status")?,
                        error_code: r.try_get("error_code")?,
                        worker: r.try_get("worker")?,
                    })
                })
                .collect()
        })
    }

    fn replay(&self, cx: WriteCtx, id: i64) -> BoxFuture<'_, Result<Replayed, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { super::replay::replay(conn, &cx, id).await })
        })))
    }

    fn discard(&self, id: i64, note: String) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move {
                let current: Option<String> =
                    sqlx::query_scalar("SELECT state FROM dead_letters WHERE id = ?")
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
                    "UPDATE dead_letters SET state = 'discarded', resolved_at = ?, note = ? WHERE id = ?",
                )
                .bind(now_fixed())
                .bind(note)
                .bind(id)
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })))
    }

    fn status(&self, key: String) -> BoxFuture<'_, Result<Option<ProvisioningStatus>, StoreError>> {
        Box::pin(self.read_status(key))
    }

    fn timeline(&self, key: String) -> BoxFuture<'_, Result<Vec<TimelineEntry>, StoreError>> {
        Box::pin(async move { super::timeline::timeline(&self.readers, &key).await })
    }

    fn user_id_by_name(
        &self,
        user_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT id FROM users WHERE user_name_key = ?")
                    .bind(user_name.to_lowercase())
                    .fetch_optional(&self.readers)
                    .await?,
            )
        })
    }

    fn group_id_by_name(
        &self,
        display_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT id FROM groups WHERE display_name_key = ?")
                    .bind(display_name.to_lowercase())
                    .fetch_optional(&self.readers)
                    .await?,
            )
        })
    }

    fn outbox_stats(&self) -> BoxFuture<'_, Result<OutboxStats, StoreError>> {
        Box::pin(async move {
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                    .fetch_one(&self.readers)
                    .await?;
            let oldest: Option<String> = sqlx::query_scalar(
                "SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1",
            )
            .fetch_optional(&self.readers)
            .await?;
            // The outbox is append-only, so its last sequence number counts every job.
            let total: Option<i64> =
                sqlx::query_scalar("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
                    .fetch_optional(&self.readers)
                    .await?;
            let age = oldest
                .and_then(|t| {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .map(|t| {
                    (time::OffsetDateTime::now_utc() - t)
                        .as_seconds_f64()
                        .max(0.0)
                })
                .unwrap_or(0.0);
            Ok(OutboxStats {
                pending,
                oldest_pending_age_seconds: age,
                sent: total.unwrap_or(0) - pending,
            })
        })
    }

    fn open_by_reason(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT reason, COUNT(*) AS n FROM dead_letters WHERE state = 'open' GROUP BY reason ORDER BY n DESC",
            )
            .fetch_all(&self.readers)
            .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("reason")?, r.try_get("n")?)))
                .collect()
        })
    }

    fn count_dead_letters(
        &self,
        filter: DeadLetterFilter,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(self.count(filter))
    }

    fn incidents(&self, filter: IncidentFilter) -> BoxFuture<'_, Result<IncidentPage, StoreError>> {
        Box::pin(async move { incident_read::list(&self.readers, &filter).await })
    }

    fn incident(&self, id: i64) -> BoxFuture<'_, Result<Option<IncidentDetail>, StoreError>> {
        Box::pin(async move {
            let Some(incident) = incident_read::one(&self.readers, id).await? else {
                return Ok(None);
            };
            let dead_letters = dead_letters_of_incident(&self.readers, id).await?;
            let timeline = super::timeline::timeline(&self.readers, &incident.key).await?;
            Ok(Some(IncidentDetail {
                incident,
                dead_letters,
                timeline,
            }))
        })
    }

    fn replay_incident(
        &self,
        cx: WriteCtx,
        id: i64,
    ) -> BoxFuture<'_, Result<IncidentReplayed, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { super::replay::replay_incident(conn, &cx, id).await })
        })))
    }

    fn discard_incident(
        &self,
        id: i64,
        note: String,
        by: String,
    ) -> BoxFuture<'_, Result<IncidentDiscarded, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { super::incidents::discard(conn, id, note, by).await })
        })))
    }

    fn open_incidents_by_cause(&self) -> BoxFuture<'_, Result<Vec<CauseCount>, StoreError>> {
        Box::pin(incident_read::by_cause(&self.readers))
    }

    fn retrying_now(&self, limit: u32) -> BoxFuture<'_, Result<Vec<RetryingKey>, StoreError>> {
        Box::pin(incident_read::retrying(&self.readers, limit))
    }

    fn oldest_waiting_age(&self) -> BoxFuture<'_, Result<Option<f64>, StoreError>> {
        Box::pin(incident_read::oldest_waiting(&self.readers))
    }

    fn find_users(
        &self,
        prefix: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<UserMatch>, StoreError>> {
        Box::pin(async move { incident_read::find_users(&self.readers, &prefix, limit).await })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.readers).await?;
            Ok(())
        })
    }
}
