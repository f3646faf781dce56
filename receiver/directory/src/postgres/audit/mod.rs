//! The audit store on PostgreSQL ([`AuditStore`]): outcome events, dead letters and
//! provisioning states in the directory's database, each write its own transaction.
//!
//! # Layout
//! - [`dead_letters`]: dead letters read.
//! - [`incidents`]: incidents written (filed, resolved, discarded); [`incident_read`]: read.
//! - [`intake`]: storing outcome events and dead letters, moving key states forward.
//! - [`replay`]: a replay job from the key's current directory state.
//! - [`timeline`]: a key's timeline.

pub(crate) mod dead_letters;
pub(crate) mod incident_read;
pub(crate) mod incidents;
pub(crate) mod intake;
pub(crate) mod replay;
pub(crate) mod timeline;

use futures_util::future::BoxFuture;
use splashsync_protocol::events::OutcomeEvent;
use sqlx::{PgPool, Row};

use super::status::statuses;
use super::PgDirectory;
use crate::audit::dead_letter_rows::{
    attempt, discardable, reason_count, ATTEMPTS, DISCARD, OPEN_BY_REASON,
};
use crate::audit::incident_rows::waiting_age;
use crate::audit::{
    now_fixed, Attempt, AuditStore, CauseCount, DeadLetter, DeadLetterFilter, IncidentDetail,
    IncidentDiscarded, IncidentFilter, IncidentPage, IncidentReplayed, NewDeadLetter, OutboxStats,
    ProvisioningStatus, Replayed, RetryingKey, TimelineEntry, UserMatch,
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

impl PgAudit {
    async fn discard_open(&self, id: i64, note: String) -> Result<(), StoreError> {
        self.directory
            .write(Box::new(move |conn| {
                Box::pin(async move {
                    let current: Option<String> = sqlx::query_scalar(
                        "SELECT state FROM dead_letters WHERE id = $1 FOR UPDATE",
                    )
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
        let age = waiting_age(oldest).unwrap_or(0.0);
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
        Box::pin(async move { dead_letters::list(self.pool(), &filter).await })
    }

    fn dead_letter(&self, id: i64) -> BoxFuture<'_, Result<Option<DeadLetter>, StoreError>> {
        Box::pin(dead_letters::one(self.pool(), id))
    }

    fn attempts(&self, job_id: String) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        Box::pin(async move {
            let found = sqlx::query(ATTEMPTS)
                .bind(job_id)
                .fetch_all(self.pool())
                .await?;
            found.iter().map(attempt).collect()
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

    fn group_id_by_name(
        &self,
        display_name: String,
    ) -> BoxFuture<'_, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT id FROM groups WHERE display_name_key = $1")
                    .bind(display_name.to_lowercase())
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
            let found = sqlx::query(OPEN_BY_REASON).fetch_all(self.pool()).await?;
            found.iter().map(reason_count).collect()
        })
    }

    fn count_dead_letters(
        &self,
        filter: DeadLetterFilter,
    ) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move { dead_letters::count(self.pool(), &filter).await })
    }

    fn incidents(&self, filter: IncidentFilter) -> BoxFuture<'_, Result<IncidentPage, StoreError>> {
        Box::pin(async move { incident_read::list(self.pool(), &filter).await })
    }

    fn incident(&self, id: i64) -> BoxFuture<'_, Result<Option<IncidentDetail>, StoreError>> {
        Box::pin(async move {
            let Some(incident) = incident_read::one(self.pool(), id).await? else {
                return Ok(None);
            };
            let dead_letters = dead_letters::of_incident(self.pool(), id).await?;
            let timeline = timeline::timeline(self.pool(), &incident.key).await?;
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
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { replay::replay_incident(conn, &cx, id).await })
        })))
    }

    fn discard_incident(
        &self,
        id: i64,
        note: String,
        by: String,
    ) -> BoxFuture<'_, Result<IncidentDiscarded, StoreError>> {
        Box::pin(self.directory.write(Box::new(move |conn| {
            Box::pin(async move { incidents::discard(conn, id, note, by).await })
        })))
    }

    fn open_incidents_by_cause(&self) -> BoxFuture<'_, Result<Vec<CauseCount>, StoreError>> {
        Box::pin(incident_read::by_cause(self.pool()))
    }

    fn retrying_now(&self, limit: u32) -> BoxFuture<'_, Result<Vec<RetryingKey>, StoreError>> {
        Box::pin(incident_read::retrying(self.pool(), limit))
    }

    fn oldest_waiting_age(&self) -> BoxFuture<'_, Result<Option<f64>, StoreError>> {
        Box::pin(incident_read::oldest_waiting(self.pool()))
    }

    fn find_users(
        &self,
        prefix: String,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<UserMatch>, StoreError>> {
        Box::pin(async move { incident_read::find_users(self.pool(), &prefix, limit).await })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(self.pool()).await?;
            Ok(())
        })
    }
}

/// `sql` with its `?` placeholders (outside quoted text) numbered `$1`, `$2`, … in order:
/// for SQL assembled from clauses, as SQLite's incident filter is.
pub(crate) fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let (mut n, mut quoted) = (0, false);
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                out.push_str(&format!("${n}"));
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            super::numbered("a = ? AND b LIKE ? ESCAPE '?' OR c = ?"),
            "a = $1 AND b LIKE $2 ESCAPE '?' OR c = $3"
        );
    }
}
