//! The schema of the `workers` table (migration 8); its reads and writes are
//! `crate::workers::sqlite`'s.

/// Schema migration 8: the workers' last heartbeats, and the next attempt a retrying
/// outcome announces.
pub(crate) const MIGRATION: &str = r#"
-- The last heartbeat of each worker (the receiver has no Redis): who it is, where it runs,
-- the partitions it holds. `seq` orders one process's heartbeats; `received_at` is the
-- receiver's clock, so that "gone quiet" does not depend on the workers' clocks.
CREATE TABLE IF NOT EXISTS workers (
    id                     TEXT PRIMARY KEY,
    tenant                 TEXT NOT NULL,
    host                   TEXT NOT NULL,
    pid                    INTEGER NOT NULL,
    version                TEXT NOT NULL,
    started_at             TEXT NOT NULL,
    sent_at                TEXT NOT NULL,
    seq                    INTEGER NOT NULL,
    run                    TEXT NOT NULL,          -- running | stopped
    partitions             TEXT NOT NULL,          -- JSON array
    rate_limit_per_minute  REAL,
    rate_limit_share_per_minute REAL,
    rate_limit_state       TEXT,                   -- why: full_share | reduced_after_429 | ...
    interval_secs          REAL NOT NULL,
    received_at            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS workers_received ON workers(received_at);
-- When the worker tries a transiently failed job again (retrying outcomes only).
ALTER TABLE audit_events ADD COLUMN next_attempt_at TEXT;
"#;
