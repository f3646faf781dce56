//! The schema of drift reconciliation's runs (migration 7); the reads and writes of the
//! table are `crate::reconcile::table`'s.

/// Schema migration 7.
pub(crate) const MIGRATION: &str = r#"
-- Drift reconciliation runs: what a run read (pages: its cost in Splashtop calls), what
-- it found and what it did, the items as JSON.
CREATE TABLE IF NOT EXISTS reconcile_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger     TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    prune       INTEGER NOT NULL,
    state       TEXT NOT NULL,                 -- running | done | failed
    started     TEXT NOT NULL,
    finished    TEXT,
    pages_read  INTEGER NOT NULL DEFAULT 0,
    team_users  INTEGER NOT NULL DEFAULT 0,
    team_groups INTEGER NOT NULL DEFAULT 0,
    found       INTEGER NOT NULL DEFAULT 0,
    fixed       INTEGER NOT NULL DEFAULT 0,
    pending     INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    items       TEXT NOT NULL DEFAULT '[]'
);
"#;
