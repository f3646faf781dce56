//! The schema of the `workers` table (migration 4); its reads and writes are
//! `crate::workers::postgres`'s.

/// PostgreSQL schema migration 4: the workers' last heartbeats, and the next attempt a
/// retrying outcome announces (as SQLite's migration 8).
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE IF NOT EXISTS workers (
    id                     TEXT PRIMARY KEY,
    tenant                 TEXT NOT NULL,
    host                   TEXT NOT NULL,
    pid                    BIGINT NOT NULL,
    version                TEXT NOT NULL,
    started_at             TEXT NOT NULL,
    sent_at                TEXT NOT NULL,
    seq                    BIGINT NOT NULL,
    run                    TEXT NOT NULL,
    partitions             TEXT NOT NULL,
    rate_limit_per_minute  DOUBLE PRECISION,
    rate_limit_share_per_minute DOUBLE PRECISION,
    rate_limit_state       TEXT,
    interval_secs          DOUBLE PRECISION NOT NULL,
    received_at            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workers_received ON workers(received_at);
ALTER TABLE audit_events ADD COLUMN IF NOT EXISTS next_attempt_at TEXT;
"#;
