//! Schema migrations, applied in order at start-up inside one transaction each.

use sqlx::{Connection, Row, SqliteConnection};

/// (version, SQL) pairs; append only once released, never edit an applied one.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    r#"
CREATE TABLE users (
    row            INTEGER PRIMARY KEY,           -- creation order, for stable paging
    id             TEXT NOT NULL UNIQUE,
    user_name      TEXT NOT NULL,
    user_name_key  TEXT NOT NULL UNIQUE,          -- lower-cased: userName is case-insensitive
    external_id    TEXT,
    display_name   TEXT,
    resource       TEXT NOT NULL,                 -- the SCIM body without id/meta/password/groups
    version        INTEGER NOT NULL,
    created        TEXT NOT NULL,
    last_modified  TEXT NOT NULL
);
CREATE INDEX users_external_id ON users(external_id);
CREATE TABLE groups (
    row               INTEGER PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    display_name      TEXT NOT NULL,
    display_name_key  TEXT NOT NULL UNIQUE,       -- group names are unique, case-insensitively
    external_id       TEXT,
    resource          TEXT NOT NULL,              -- the SCIM body without id/meta/members
    former_names      TEXT NOT NULL DEFAULT '[]', -- JSON array, newest first, for renames in flight
    version           INTEGER NOT NULL,
    created           TEXT NOT NULL,
    last_modified     TEXT NOT NULL
);
CREATE INDEX groups_external_id ON groups(external_id);
CREATE TABLE memberships (
    group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,                   -- order of joining: the group policy reads it
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id, seq);
CREATE TABLE group_conflicts (
    at         TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    other_group_id TEXT NOT NULL,
    policy     TEXT NOT NULL,
    outcome    TEXT NOT NULL
);
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- commit order; never reused
    job_id      TEXT NOT NULL UNIQUE,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    origin      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_key ON outbox(key, seq);
"#,
)];

/// Applies every migration newer than the database's version.
pub async fn run(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?
        .try_get("v")?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}
