//! The SQLite directory: WAL, `synchronous=FULL`, one writer with group commit, a small
//! pool of readers.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqliteConnection};
use tokio::sync::Notify;

use super::writer::Writer;
use super::{Directory, NewUser, PendingJob, StoreError, UserQuery, UserRecord};

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
            // Every commit is fsynced: a 201 means the user survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .disable_statement_logging();
        let mut conn: SqliteConnection = options.connect().await?;
        super::migrations::run(&mut conn).await?;
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

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let resource: String = row.try_get("resource")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        user_name: row.try_get("user_name")?,
        resource: serde_json::from_str(&resource)
            .map_err(|e| StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e)))))?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
    })
}

const USER_COLUMNS: &str = "id, user_name, resource, version, created, last_modified";

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

impl Directory for SqliteDirectory {
    fn create_user(&self, user: NewUser) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        Box::pin(async move {
            let NewUser { record, job } = user;
            self.writer
                .write(Box::new(move |conn| {
                    Box::pin(async move {
                        let inserted = sqlx::query(
                            "INSERT INTO users (id, user_name, user_name_key, resource, version, created, last_modified) \
                             VALUES (?, ?, ?, ?, ?, ?, ?)",
                        )
                        .bind(&record.id)
                        .bind(&record.user_name)
                        .bind(record.user_name.to_lowercase())
                        .bind(record.resource.to_string())
                        .bind(record.version)
                        .bind(&record.created)
                        .bind(&record.last_modified)
                        .execute(&mut *conn)
                        .await;
                        match inserted {
                            Err(e) if is_unique_violation(&e) => {
                                return Err(StoreError::Conflict(format!(
                                    "userName {:?} already exists (userName is case-insensitive)",
                                    record.user_name
                                )))
                            }
                            other => other?,
                        };
                        insert_job(conn, &job).await?;
                        Ok(record)
                    })
                }))
                .await
        })
    }

    fn get_user<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        Box::pin(async move {
            let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
                .bind(id)
                .fetch_optional(&self.readers)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    fn list_users(
        &self,
        query: UserQuery,
    ) -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>> {
        Box::pin(async move {
            let (filter, arg) = match &query.user_name {
                Some(name) => ("WHERE user_name_key = ?", Some(name.to_lowercase())),
                None => ("", None),
            };
            let count_sql = format!("SELECT COUNT(*) AS n FROM users {filter}");
            let mut count = sqlx::query(&count_sql);
            if let Some(a) = &arg {
                count = count.bind(a);
            }
            let total: i64 = count.fetch_one(&self.readers).await?.try_get("n")?;
            if query.limit == 0 {
                return Ok((Vec::new(), total as u64));
            }
            let page_sql =
                format!("SELECT {USER_COLUMNS} FROM users {filter} ORDER BY row LIMIT ? OFFSET ?");
            let mut page = sqlx::query(&page_sql);
            if let Some(a) = &arg {
                page = page.bind(a);
            }
            let rows = page
                .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(query.offset).unwrap_or(i64::MAX))
                .fetch_all(&self.readers)
                .await?;
            let users = rows.iter().map(user_from_row).collect::<Result<_, _>>()?;
            Ok((users, total as u64))
        })
    }

    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT seq, job_id, key, kind, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
            )
            .bind(limit)
            .fetch_all(&self.readers)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(PendingJob {
                        seq: r.try_get("seq")?,
                        job_id: r.try_get("job_id")?,
                        key: r.try_get("key")?,
                        kind: r.try_get("kind")?,
                        payload: r.try_get("payload")?,
                    })
                })
                .collect()
        })
    }

    fn mark_sent(&self, seqs: Vec<i64>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if seqs.is_empty() {
                return Ok(());
            }
            self.writer
                .write(Box::new(move |conn| {
                    Box::pin(async move {
                        let now = splashsync_shared::scim::now_rfc3339();
                        // Chunks keep each statement under SQLite's bound-parameter limit.
                        for chunk in seqs.chunks(500) {
                            let marks = vec!["?"; chunk.len()].join(",");
                            let sql =
                                format!("UPDATE outbox SET sent_at = ? WHERE seq IN ({marks})");
                            let mut q = sqlx::query(&sql).bind(&now);
                            for s in chunk {
                                q = q.bind(s);
                            }
                            q.execute(&mut *conn).await?;
                        }
                        Ok(())
                    })
                }))
                .await
        })
    }

    fn outbox_changed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.committed.notified())
    }
}

/// Inserts a job into the outbox inside the caller's transaction.
async fn insert_job(
    conn: &mut SqliteConnection,
    job: &splashsync_shared::job::Job,
) -> Result<(), StoreError> {
    let meta = job.meta();
    let payload = serde_json::to_string(job)
        .map_err(|e| StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e)))))?;
    let kind = match job {
        splashsync_shared::job::Job::UserV1(_) => "UserV1",
        splashsync_shared::job::Job::GroupV1(_) => "GroupV1",
    };
    sqlx::query(
        "INSERT INTO outbox (job_id, key, kind, version, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&meta.job_id)
    .bind(&meta.key)
    .bind(kind)
    .bind(meta.version)
    .bind(payload)
    .bind(&meta.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
