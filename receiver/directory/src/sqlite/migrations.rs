//! Schema migrations, applied in order at start-up inside one transaction each.

use sqlx::{Connection, Row, SqliteConnection};

/// (version, SQL) pairs; append only once released, never edit an applied one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
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
    ),
    (
        2,
        r#"
-- Every outcome event a worker sent, once: the event id makes intake idempotent.
CREATE TABLE audit_events (
    event_id      TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    key           TEXT NOT NULL,
    version       INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    at            TEXT NOT NULL,
    status        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    http_status   INTEGER,
    error_code    TEXT,
    reason        TEXT,
    splashtop_id  TEXT,
    worker        TEXT NOT NULL,
    received_at   TEXT NOT NULL
);
CREATE INDEX audit_events_key ON audit_events(key, at);
CREATE INDEX audit_events_job ON audit_events(job_id);
-- Jobs taken from the dead-letter queue: an operator's to-do list.
CREATE TABLE dead_letters (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id    TEXT NOT NULL UNIQUE,          -- job id + last attempt: a redelivered dead letter is stored once
    job_id         TEXT NOT NULL,
    tenant         TEXT NOT NULL,
    key            TEXT NOT NULL,
    kind           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    http_status    INTEGER,
    error_code     TEXT,
    error_body     TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    first_attempt  TEXT,
    last_attempt   TEXT,
    payload        TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'open', -- open | replayed | discarded
    resolved_at    TEXT,
    note           TEXT,
    replay_job_id  TEXT
);
CREATE INDEX dead_letters_open ON dead_letters(state, received_at);
CREATE INDEX dead_letters_key ON dead_letters(key);
-- The provisioning state of each key as the last outcome or dead letter left it.
CREATE TABLE provisioning_status (
    key           TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,                 -- pending | applied | retrying | dead-lettered
    version       INTEGER NOT NULL,
    last_error    TEXT,
    splashtop_id  TEXT,
    updated       TEXT NOT NULL
);
"#,
    ),
    (
        3,
        r#"
-- The partition key of each job: a user's jobs follow its Splashtop account (email), so a
-- user re-created with the same userName queues behind its deleted predecessor.
ALTER TABLE outbox ADD COLUMN route TEXT NOT NULL DEFAULT '';
"#,
    ),
    (
        4,
        r#"
-- Group members the identity provider named that are no user of this directory: kept as
-- written and shown as warnings, never provisioned. Their seq comes from the same counter
-- as the memberships', so a group lists both in the order they were written. Ids are
-- server-assigned, so no later create gives such an id a user.
CREATE TABLE IF NOT EXISTS unresolved_members (
    group_id   TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    added      TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX IF NOT EXISTS unresolved_members_seq ON unresolved_members(seq);
-- Every membership write reads the counter (MAX(seq)): one index step instead of a scan.
CREATE INDEX IF NOT EXISTS memberships_seq ON memberships(seq);
"#,
    ),
    (6, super::reconcile_runs::MIGRATION),
];

/// Applies every migration newer than the database's version.
pub(crate) async fn run(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
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
