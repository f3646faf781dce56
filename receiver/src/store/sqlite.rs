//! The SQLite directory: WAL, `synchronous=FULL`, one writer with group commit, a small
//! pool of readers.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Row, SqliteConnection};
use tokio::sync::Notify;

use super::writer::Writer;
use super::{
    sqlite_groups, sqlite_users, Directory, GroupConflict, GroupEdit, GroupLink, GroupRecord,
    Indexed, Member, PendingJob, Query, StoreError, UserEdit, UserRecord, WriteCtx,
};

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
            // Every commit is fsynced: a 2xx means the change survives a power cut.
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

impl SqliteDirectory {
    /// The single writer and the reader pool, for the audit store that shares this file
    /// (its writes must go through the same writer: SQLite has one writer at a time).
    pub(crate) fn parts(&self) -> (Writer, SqlitePool) {
        (self.writer.clone(), self.readers.clone())
    }
}

fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e))))
}

const USER_COLUMNS: &str = "id, user_name, resource, version, created, last_modified";
const GROUP_COLUMNS: &str = "id, display_name, resource, version, created, last_modified";

/// A user record from a row of [`USER_COLUMNS`] (groups not loaded).
pub(crate) fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let resource: String = row.try_get("resource")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        user_name: row.try_get("user_name")?,
        resource: serde_json::from_str(&resource).map_err(decode_error)?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        groups: Vec::new(),
    })
}

fn group_from_row(row: &SqliteRow) -> Result<GroupRecord, StoreError> {
    let resource: String = row.try_get("resource")?;
    Ok(GroupRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        resource: serde_json::from_str(&resource).map_err(decode_error)?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        members: Vec::new(),
    })
}

/// The indexed columns of a user body: (externalId, displayName).
pub(crate) fn user_columns_of(resource: &Value) -> (Option<String>, Option<String>) {
    let s = |k: &str| resource.get(k).and_then(Value::as_str).map(str::to_string);
    (s("externalId"), s("displayName"))
}

async fn load_links(
    conn: &mut SqliteConnection,
    users: &mut [UserRecord],
) -> Result<(), StoreError> {
    for chunk in users.chunks_mut(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id IN ({marks}) ORDER BY m.seq"
        );
        let mut q = sqlx::query(&sql);
        for u in chunk.iter() {
            q = q.bind(&u.id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let user_id: String = row.try_get("user_id")?;
            if let Some(u) = chunk.iter_mut().find(|u| u.id == user_id) {
                u.groups.push(GroupLink {
                    group_id: row.try_get("id")?,
                    display_name: row.try_get("display_name")?,
                });
            }
        }
    }
    Ok(())
}

async fn load_members(
    conn: &mut SqliteConnection,
    groups: &mut [GroupRecord],
) -> Result<(), StoreError> {
    for chunk in groups.chunks_mut(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT m.group_id, u.id, COALESCE(u.display_name, u.user_name) AS display FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.group_id IN ({marks}) ORDER BY m.seq"
        );
        let mut q = sqlx::query(&sql);
        for g in chunk.iter() {
            q = q.bind(&g.id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let group_id: String = row.try_get("group_id")?;
            if let Some(g) = chunk.iter_mut().find(|g| g.id == group_id) {
                g.members.push(Member {
                    user_id: row.try_get("id")?,
                    display: row.try_get("display")?,
                });
            }
        }
    }
    Ok(())
}

/// One user with its groups.
pub(crate) async fn load_user(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = [user_from_row(&row)?];
    load_links(conn, &mut users).await?;
    let [user] = users;
    Ok(Some(user))
}

/// One group, with its members unless `with_members` is false.
pub(crate) async fn load_group(
    conn: &mut SqliteConnection,
    id: &str,
    with_members: bool,
) -> Result<Option<GroupRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = [group_from_row(&row)?];
    if with_members {
        load_members(conn, &mut groups).await?;
    }
    let [group] = groups;
    Ok(Some(group))
}

/// A WHERE clause and its argument for an index lookup.
fn lookup_clause(lookup: &Option<(Indexed, String)>, name_key: &str) -> (String, Option<String>) {
    match lookup {
        None => (String::new(), None),
        Some((Indexed::Id, v)) => ("WHERE id = ?".into(), Some(v.clone())),
        Some((Indexed::ExternalId, v)) => ("WHERE external_id = ?".into(), Some(v.clone())),
        Some((Indexed::Name, v)) => (format!("WHERE {name_key} = ?"), Some(v.to_lowercase())),
    }
}

async fn query_rows(
    readers: &SqlitePool,
    table: &str,
    columns: &str,
    name_key: &str,
    query: &Query,
) -> Result<(Vec<SqliteRow>, u64), StoreError> {
    let (clause, arg) = lookup_clause(&query.lookup, name_key);
    let count_sql = format!("SELECT COUNT(*) FROM {table} {clause}");
    let mut count_q = sqlx::query_scalar::<_, i64>(&count_sql);
    if let Some(a) = &arg {
        count_q = count_q.bind(a);
    }
    let total = count_q.fetch_one(readers).await? as u64;
    if !query.all && query.limit == 0 {
        return Ok((Vec::new(), total));
    }
    let page = if query.all {
        String::new()
    } else {
        "LIMIT ? OFFSET ?".into()
    };
    let sql = format!("SELECT {columns} FROM {table} {clause} ORDER BY row {page}");
    let mut q = sqlx::query(&sql);
    if let Some(a) = &arg {
        q = q.bind(a);
    }
    if !query.all {
        q = q
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
    }
    Ok((q.fetch_all(readers).await?, total))
}

impl Directory for SqliteDirectory {
    fn create_user(
        &self,
        cx: WriteCtx,
        record: UserRecord,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        // The user INSERT is the only statement that can fail (a taken userName) and it
        // comes first: no savepoint needed.
        Box::pin(self.writer.write_unit(Box::new(move |conn| {
            Box::pin(async move { sqlite_users::create(conn, &cx, record).await })
        })))
    }

    fn update_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: UserEdit,
    ) -> BoxFuture<'_, Result<UserRecord, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_users::update(conn, &cx, &id, if_match, edit).await })
        })))
    }

    fn delete_user(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_users::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_user<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserRecord>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.readers.acquire().await?;
            load_user(&mut conn, id).await
        })
    }

    fn list_users(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<UserRecord>, u64), StoreError>> {
        Box::pin(async move {
            let (rows, total) = query_rows(
                &self.readers,
                "users",
                USER_COLUMNS,
                "user_name_key",
                &query,
            )
            .await?;
            let mut users = rows
                .iter()
                .map(user_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let mut conn = self.readers.acquire().await?;
            load_links(&mut conn, &mut users).await?;
            Ok((users, total))
        })
    }

    fn create_group(
        &self,
        cx: WriteCtx,
        record: GroupRecord,
        members: Vec<String>,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_groups::create(conn, &cx, record, members).await })
        })))
    }

    fn update_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
        edit: GroupEdit,
    ) -> BoxFuture<'_, Result<GroupRecord, StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_groups::update(conn, &cx, &id, if_match, edit).await })
        })))
    }

    fn delete_group(
        &self,
        cx: WriteCtx,
        id: String,
        if_match: Option<i64>,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_groups::delete(conn, &cx, &id, if_match).await })
        })))
    }

    fn get_group<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<GroupRecord>, StoreError>> {
        Box::pin(async move {
            let mut conn = self.readers.acquire().await?;
            load_group(&mut conn, id, true).await
        })
    }

    fn list_groups(
        &self,
        query: Query,
    ) -> BoxFuture<'_, Result<(Vec<GroupRecord>, u64), StoreError>> {
        Box::pin(async move {
            let (rows, total) = query_rows(
                &self.readers,
                "groups",
                GROUP_COLUMNS,
                "display_name_key",
                &query,
            )
            .await?;
            let mut groups = rows
                .iter()
                .map(group_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if !query.without_members {
                let mut conn = self.readers.acquire().await?;
                load_members(&mut conn, &mut groups).await?;
            }
            Ok((groups, total))
        })
    }

    fn record_conflict(&self, conflict: GroupConflict) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.writer.write(Box::new(move |conn| {
            Box::pin(async move { sqlite_groups::record_conflict(conn, &conflict).await })
        })))
    }

    fn pending_jobs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<PendingJob>, StoreError>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT seq, job_id, key, route, kind, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?",
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
                        route: r.try_get("route")?,
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
                        let now = splashsync_scim::now_rfc3339();
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
