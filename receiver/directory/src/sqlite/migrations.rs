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
    (
        5,
        r#"
-- The incarnation under which a user holds its Splashtop account: a UUIDv7 minted when a
-- userName change moved it to a new account (rename policy `reinvite`); NULL while it holds
-- the account it was created with (its id stands for it). Workers compare incarnations so
-- that a job of an earlier holder of an account never acts on it after a later one's.
ALTER TABLE users ADD COLUMN incarnation TEXT;
"#,
    ),
    (
        6,
        r#"
-- Incidents: one per key that failed, with its current cause (the latest failure), so that
-- operators handle people and groups, not attempts. At most one is active (open or being
-- replayed) per key; it resolves itself when a later job for the key is applied.
CREATE TABLE incidents (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant           TEXT NOT NULL,
    key              TEXT NOT NULL,
    kind             TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    name             TEXT,                         -- userName or group displayName
    email            TEXT,
    state            TEXT NOT NULL DEFAULT 'open', -- open | replaying | resolved | discarded
    cause            TEXT NOT NULL,                -- Splashtop code, else the reason
    reason           TEXT NOT NULL,
    error_code       TEXT,
    http_status      INTEGER,
    message          TEXT NOT NULL,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    attempts         INTEGER NOT NULL,
    dead_letters     INTEGER NOT NULL,
    last_job_id      TEXT NOT NULL,
    last_version     INTEGER NOT NULL,
    reopened         INTEGER NOT NULL DEFAULT 0,
    closed_at        TEXT,
    resolved_by_job  TEXT,
    replay_job_id    TEXT,
    replayed_at      TEXT,
    note             TEXT,
    discarded_by     TEXT
);
CREATE UNIQUE INDEX incidents_active_key ON incidents(key) WHERE state IN ('open', 'replaying');
CREATE INDEX incidents_state ON incidents(state, last_seen);
CREATE INDEX incidents_key ON incidents(key, id);
ALTER TABLE dead_letters ADD COLUMN incident_id INTEGER REFERENCES incidents(id);
CREATE INDEX dead_letters_incident ON dead_letters(incident_id);
-- Backfill: one open incident per key from the open dead letters, its cause the latest.
INSERT INTO incidents (tenant, key, kind, object_id, name, email, state, cause, reason, error_code,
    http_status, message, first_seen, last_seen, attempts, dead_letters, last_job_id, last_version)
SELECT d.tenant,
       CASE WHEN d.key = '' THEN 'unknown/' || d.job_id ELSE d.key END,
       d.kind,
       CASE WHEN d.key = '' THEN d.job_id ELSE substr(d.key, instr(substr(d.key, instr(d.key, '/') + 1), '/') + instr(d.key, '/') + 1) END,
       CASE WHEN json_valid(d.payload) THEN COALESCE(json_extract(d.payload, '$.state.user_name'), json_extract(d.payload, '$.state.display_name')) END,
       CASE WHEN json_valid(d.payload) THEN json_extract(d.payload, '$.state.email') END,
       'open',
       COALESCE(NULLIF(d.error_code, ''), d.reason), d.reason, d.error_code, d.http_status, d.error_body,
       (SELECT MIN(x.received_at) FROM dead_letters x WHERE x.key = d.key AND x.state = 'open'),
       d.received_at,
       (SELECT SUM(x.attempts) FROM dead_letters x WHERE x.key = d.key AND x.state = 'open'),
       (SELECT COUNT(*) FROM dead_letters x WHERE x.key = d.key AND x.state = 'open'),
       d.job_id, d.version
FROM dead_letters d
WHERE d.state = 'open'
  AND (d.key = '' OR d.id = (SELECT MAX(y.id) FROM dead_letters y WHERE y.key = d.key AND y.state = 'open'));
UPDATE dead_letters SET incident_id = (
    SELECT i.id FROM incidents i
    WHERE i.key = CASE WHEN dead_letters.key = '' THEN 'unknown/' || dead_letters.job_id ELSE dead_letters.key END)
WHERE state = 'open';
-- Keys applied since at the failed version or later were fixed: resolved, by the job that did it.
UPDATE incidents SET state = 'resolved',
    closed_at = (SELECT p.updated FROM provisioning_status p WHERE p.key = incidents.key),
    resolved_by_job = (SELECT e.job_id FROM audit_events e WHERE e.key = incidents.key
                       AND e.status = 'applied' ORDER BY e.version DESC, e.at DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM provisioning_status p WHERE p.key = incidents.key
              AND p.state = 'applied' AND p.version >= incidents.last_version);
UPDATE dead_letters SET state = 'resolved',
    resolved_at = (SELECT i.closed_at FROM incidents i WHERE i.id = dead_letters.incident_id)
WHERE state = 'open'
  AND incident_id IN (SELECT id FROM incidents WHERE state = 'resolved');
"#,
    ),
    (7, super::reconcile_runs::MIGRATION),
    (8, super::workers_schema::MIGRATION),
    (9, crate::query::indexes::SQLITE),
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
