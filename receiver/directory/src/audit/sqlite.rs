//! The SQLite audit store: intake writes through the directory's single writer, reads
//! from its reader pool.

use futures_util::future::BoxFuture;
use splashsync_protocol::events::OutcomeEvent;
use sqlx::sqlite::SqlitePool;

use super::dead_letter_rows::{
    attempt, count_sql, dead_letter, discardable, filter_clause, of_incident_sql, one_sql,
    page_sql, reason_count, ATTEMPTS, DISCARD, OPEN_BY_REASON,
};
use super::incident_read;
use super::incident_rows::waiting_age;
use super::intake::{insert_dead_letter, insert_outcome};
use super::{
    now_fixed, Attempt, AuditStore, CauseCount, DeadLetter, DeadLetterFilter, IncidentDetail,
    IncidentDiscarded, IncidentFilter, IncidentPage, IncidentReplayed, NewDeadLetter, OutboxStats,
    ProvisioningStatus, Replayed, RetryingKey, TimelineEntry, UserMatch,
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

/// The dead letters of incident `id`, newest first (the latest 500).
async fn dead_letters_of_incident(
    readers: &SqlitePool,
    id: i64,
) -> Result<Vec<DeadLetter>, StoreError> {
    let found = sqlx::query(&of_incident_sql())
        .bind(id)
        .fetch_all(readers)
        .await?;
    found.iter().map(|r| dead_letter(r, false)).collect()
}

impl SqliteAudit {
    async fn count(&self, filter: DeadLetterFilter) -> Result<i64, StoreError> {
        let (clause, args) = filter_clause(&filter);
        let sql = count_sql(&clause);
        let mut q = sqlx::query_scalar(&sql);
        for a in &args {
            q = q.bind(a);
        }
        Ok(q.fetch_one(&self.readers).await?)
    }

    async fn list(&self, filter: DeadLetterFilter) -> Result<Vec<DeadLetter>, StoreError> {
        let (clause, args) = filter_clause(&filter);
        let sql = page_sql(&clause, &filter);
        let mut q = sqlx::query(&sql);
        for a in &args {
            q = q.bind(a);
        }
        let found = q.fetch_all(&self.readers).await?;
        found.iter().map(|r| dead_letter(r, false)).collect()
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
            let row = sqlx::query(&one_sql())
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
            row.map(|r| dead_letter(&r, true)).transpose()
        })
    }

    fn attempts(&self, job_id: String) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        Box::pin(async move {
            let found = sqlx::query(ATTEMPTS)
                .bind(job_id)
                .fetch_all(&self.readers)
                .await?;
            found.iter().map(attempt).collect()
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
                discardable(id, current)?;
                sqlx::query(DISCARD)
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
            let age = waiting_age(oldest).unwrap_or(0.0);
            Ok(OutboxStats {
                pending,
                oldest_pending_age_seconds: age,
                sent: total.unwrap_or(0) - pending,
            })
        })
    }

    fn open_by_reason(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, StoreError>> {
        Box::pin(async move {
            let found = sqlx::query(OPEN_BY_REASON).fetch_all(&self.readers).await?;
            found.iter().map(reason_count).collect()
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
