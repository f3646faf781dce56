//! PostgreSQL schema migrations: the same tables and meaning as SQLite's
//! ([`crate::sqlite::migrations`]), in PostgreSQL's types (resource bodies in `jsonb`,
//! counters `bigint`). Applied at start-up, each in its own transaction, under an advisory
//! lock so that receivers starting together apply each migration once.

use sqlx::{Connection, PgConnection};

/// (version, SQL) pairs; append only once released, never edit an applied one.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"
CREATE TABLE users (
    row            BIGSERIAL PRIMARY KEY,          -- creation order, for stable paging
    id             TEXT NOT NULL UNIQUE,
    user_name      TEXT NOT NULL,
    user_name_key  TEXT NOT NULL UNIQUE,           -- lower-cased: userName is case-insensitive
    external_id    TEXT,
    display_name   TEXT,
    resource       JSONB NOT NULL,                 -- the SCIM body without id/meta/password/groups
    version        BIGINT NOT NULL,
    created        TEXT NOT NULL,
    last_modified  TEXT NOT NULL
);
CREATE INDEX users_external_id ON users(external_id);
CREATE TABLE groups (
    row               BIGSERIAL PRIMARY KEY,
    id                TEXT NOT NULL UNIQUE,
    display_name      TEXT NOT NULL,
    display_name_key  TEXT NOT NULL UNIQUE,        -- group names are unique, case-insensitively
    external_id       TEXT,
    resource          JSONB NOT NULL,              -- the SCIM body without id/meta/members
    former_names      JSONB NOT NULL DEFAULT '[]', -- newest first, for renames in flight
    version           BIGINT NOT NULL,
    created           TEXT NOT NULL,
    last_modified     TEXT NOT NULL
);
CREATE INDEX groups_external_id ON groups(external_id);
-- One counter for memberships and unresolved members: a group lists both in the order
-- written, and a user's groups in the order joined (the one-group policy reads it).
CREATE SEQUENCE member_seq;
CREATE TABLE memberships (
    group_id  TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id, seq);
CREATE TABLE unresolved_members (
    group_id   TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    added      TEXT NOT NULL,
    PRIMARY KEY (group_id, member_id)
);
CREATE TABLE group_conflicts (
    row             BIGSERIAL PRIMARY KEY,
    at              TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    other_group_id  TEXT NOT NULL,
    policy          TEXT NOT NULL,
    outcome         TEXT NOT NULL
);
CREATE TABLE outbox (
    seq         BIGSERIAL PRIMARY KEY,             -- write order; never reused
    job_id      TEXT NOT NULL UNIQUE,
    key         TEXT NOT NULL,
    route       TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    payload     TEXT NOT NULL,                     -- the AMQP body, byte for byte
    origin      TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX outbox_pending ON outbox(seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_key ON outbox(key, seq);
CREATE TABLE audit_events (
    event_id      TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    key           TEXT NOT NULL,
    version       BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    attempt       BIGINT NOT NULL,
    at            TEXT NOT NULL,
    status        TEXT NOT NULL,
    detail        TEXT NOT NULL,
    http_status   BIGINT,
    error_code    TEXT,
    reason        TEXT,
    splashtop_id  TEXT,
    worker        TEXT NOT NULL,
    received_at   TEXT NOT NULL
);
CREATE INDEX audit_events_key ON audit_events(key, at);
CREATE INDEX audit_events_job ON audit_events(job_id);
CREATE TABLE dead_letters (
    id             BIGSERIAL PRIMARY KEY,
    delivery_id    TEXT NOT NULL UNIQUE,
    job_id         TEXT NOT NULL,
    tenant         TEXT NOT NULL,
    key            TEXT NOT NULL,
    kind           TEXT NOT NULL,
    version        BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    http_status    BIGINT,
    error_code     TEXT,
    error_body     TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    first_attempt  TEXT,
    last_attempt   TEXT,
    payload        TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'open',
    resolved_at    TEXT,
    note           TEXT,
    replay_job_id  TEXT
);
CREATE INDEX dead_letters_open ON dead_letters(state, received_at);
CREATE INDEX dead_letters_key ON dead_letters(key);
CREATE TABLE provisioning_status (
    key           TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    version       BIGINT NOT NULL,
    last_error    TEXT,
    splashtop_id  TEXT,
    updated       TEXT NOT NULL
);
"#,
    ),
    (
        2,
        // SQLite's migration 5: the incarnation under which a renamed user holds its
        // Splashtop account (NULL: since its create).
        "ALTER TABLE users ADD COLUMN incarnation TEXT;",
    ),
    (
        3,
        // SQLite's migration 6: incidents, one per key that failed; a database migrated
        // from 2 files its open dead letters under incidents, resolved when applied since
        // (names are left empty: SQLite's backfill reads them from the job bodies).
        r#"
CREATE TABLE incidents (
    id               BIGSERIAL PRIMARY KEY,
    tenant           TEXT NOT NULL,
    key              TEXT NOT NULL,
    kind             TEXT NOT NULL,
    object_id        TEXT NOT NULL,
    name             TEXT,
    email            TEXT,
    state            TEXT NOT NULL DEFAULT 'open',
    cause            TEXT NOT NULL,
    reason           TEXT NOT NULL,
    error_code       TEXT,
    http_status      BIGINT,
    message          TEXT NOT NULL,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    dead_letters     BIGINT NOT NULL,
    last_job_id      TEXT NOT NULL,
    last_version     BIGINT NOT NULL,
    reopened         BIGINT NOT NULL DEFAULT 0,
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
ALTER TABLE dead_letters ADD COLUMN incident_id BIGINT REFERENCES incidents(id);
CREATE INDEX dead_letters_incident ON dead_letters(incident_id);
INSERT INTO incidents (tenant, key, kind, object_id, name, email, state, cause, reason, error_code,
    http_status, message, first_seen, last_seen, attempts, dead_letters, last_job_id, last_version)
SELECT d.tenant,
       CASE WHEN d.key = '' THEN 'unknown/' || d.job_id ELSE d.key END,
       d.kind,
       CASE WHEN d.key = '' THEN d.job_id ELSE split_part(d.key, '/', 3) END,
       NULL, NULL, 'open',
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
    (4, super::workers_schema::MIGRATION),
    (5, crate::query::indexes::POSTGRES),
];

/// The advisory lock migrations run under (another one than the relay lease's).
const MIGRATION_LOCK: i64 = 0x5350_4d49_4752; // "SPMIGR"

/// Applies every migration newer than the database's version.
pub(crate) async fn run(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let applied = apply(conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    applied.and(unlocked.map(drop))
}

async fn apply(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations")
            .fetch_one(&mut *conn)
            .await?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now()::text)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    Ok(())
}
