//! The workers the receiver has heard from: each one's last heartbeat, kept in the
//! `workers` table so that the console, the admin API and the CLI can say which workers
//! are live, gone quiet or stopped, and which partitions each holds (the receiver has no
//! Redis, where the workers keep their own live set).
//!
//! # Layout
//! - this module: the [`WorkerStore`] trait and the pure reading of a stored heartbeat.
//! - [`sqlite`]: the table on SQLite (schema migration 8), written by the single writer.
//! - [`postgres`]: the table on PostgreSQL (schema migration 4).

/// Binds a heartbeat's values to an upsert of [`upsert_sql`], in [`COLUMNS`] order (a
/// macro: SQLite's and PostgreSQL's queries are different types).
macro_rules! bind_heartbeat {
    ($query:expr, $hb:expr) => {
        $query
            .bind(&$hb.id)
            .bind(&$hb.tenant)
            .bind(&$hb.host)
            .bind(i64::from($hb.pid))
            .bind(&$hb.version)
            .bind(&$hb.started_at)
            .bind(&$hb.at)
            .bind(i64::try_from($hb.seq).unwrap_or(i64::MAX))
            .bind($hb.run.as_str())
            .bind($crate::workers::partitions_json($hb))
            .bind($hb.rate_limit_per_minute)
            .bind($hb.rate_limit_share_per_minute)
            .bind(&$hb.rate_limit_state)
            .bind($hb.interval_secs)
            .bind($crate::audit::now_fixed())
    };
}

/// A [`WorkerRow`] from a row of [`SELECT`], either engine's.
macro_rules! worker_row {
    ($r:expr) => {
        $crate::workers::WorkerRow {
            id: $r.try_get("id")?,
            tenant: $r.try_get("tenant")?,
            host: $r.try_get("host")?,
            pid: $r.try_get("pid")?,
            version: $r.try_get("version")?,
            started_at: $r.try_get("started_at")?,
            run: $r.try_get("run")?,
            partitions: $r.try_get("partitions")?,
            rate_limit_per_minute: $r.try_get("rate_limit_per_minute")?,
            rate_limit_share_per_minute: $r.try_get("rate_limit_share_per_minute")?,
            rate_limit_state: $r.try_get("rate_limit_state")?,
            interval_secs: $r.try_get("interval_secs")?,
            received_at: $r.try_get("received_at")?,
        }
    };
}

pub mod postgres;
pub mod sqlite;

use futures_util::future::BoxFuture;
use splashsync_protocol::admin::{WorkerInfo, WorkerList};
use splashsync_protocol::workers::{worker_state, WorkerHeartbeat};

use crate::error::StoreError;

/// A worker not heard from for this long is forgotten (its row deleted).
pub const FORGET_AFTER: time::Duration = time::Duration::days(7);

/// The workers' last heartbeats.
pub trait WorkerStore: Send + Sync + 'static {
    /// Keeps `hb` as its worker's last heartbeat, unless a newer one (a higher `seq`) is
    /// already kept; `false` then. Forgets workers silent for [`FORGET_AFTER`].
    fn record_heartbeat(&self, hb: WorkerHeartbeat) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Every worker kept, live first.
    fn workers(&self) -> BoxFuture<'_, Result<WorkerList, StoreError>>;
}

impl std::fmt::Debug for dyn WorkerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WorkerStore")
    }
}

/// A `workers` row as read, before its state is judged.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WorkerRow {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) host: String,
    pub(crate) pid: i64,
    pub(crate) version: String,
    pub(crate) started_at: String,
    pub(crate) run: String,
    pub(crate) partitions: String,
    pub(crate) rate_limit_per_minute: Option<f64>,
    pub(crate) rate_limit_share_per_minute: Option<f64>,
    pub(crate) rate_limit_state: Option<String>,
    pub(crate) interval_secs: f64,
    pub(crate) received_at: String,
}

/// The list of `rows` as operators read it at `now`: each worker's state from its age,
/// live ones first, then quiet, then stopped, the latest heartbeat first in each.
pub(crate) fn list(rows: Vec<WorkerRow>, now: time::OffsetDateTime) -> WorkerList {
    let mut workers: Vec<WorkerInfo> = rows.into_iter().map(|r| info(r, now)).collect();
    let rank = |state: &str| match state {
        "live" => 0,
        "quiet" => 1,
        _ => 2,
    };
    workers.sort_by(|a, b| {
        rank(&a.state)
            .cmp(&rank(&b.state))
            .then_with(|| b.last_heartbeat.cmp(&a.last_heartbeat))
            .then_with(|| a.id.cmp(&b.id))
    });
    let live: Vec<&WorkerInfo> = workers.iter().filter(|w| w.state == "live").collect();
    WorkerList {
        total: workers.len(),
        live: live.len(),
        partitions_held: live.iter().map(|w| w.partitions.len()).sum(),
        workers,
    }
}

fn info(r: WorkerRow, now: time::OffsetDateTime) -> WorkerInfo {
    let received = time::OffsetDateTime::parse(
        &r.received_at,
        &time::format_description::well_known::Rfc3339,
    );
    // An unreadable time is as good as no heartbeat: quiet, never live.
    let age = received.map_or(f64::INFINITY, |at| (now - at).as_seconds_f64().max(0.0));
    WorkerInfo {
        state: worker_state(&r.run, age, r.interval_secs).to_string(),
        partitions: serde_json::from_str(&r.partitions).unwrap_or_default(),
        last_heartbeat_age_seconds: if age.is_finite() { age } else { -1.0 },
        id: r.id,
        tenant: r.tenant,
        host: r.host,
        pid: r.pid,
        version: r.version,
        started_at: r.started_at,
        last_heartbeat: r.received_at,
        rate_limit_per_minute: r.rate_limit_per_minute,
        rate_limit_share_per_minute: r.rate_limit_share_per_minute,
        rate_limit_state: r.rate_limit_state,
    }
}

/// The columns a heartbeat writes, in the order [`bind_heartbeat`] binds them.
const COLUMNS: [&str; 15] = [
    "id",
    "tenant",
    "host",
    "pid",
    "version",
    "started_at",
    "sent_at",
    "seq",
    "run",
    "partitions",
    "rate_limit_per_minute",
    "rate_limit_share_per_minute",
    "rate_limit_state",
    "interval_secs",
    "received_at",
];

/// Every kept worker, for [`worker_row`].
pub(crate) const SELECT: &str = "SELECT id, tenant, host, pid, version, started_at, run, partitions, \
     rate_limit_per_minute, rate_limit_share_per_minute, rate_limit_state, interval_secs, received_at \
     FROM workers";

/// The upsert of one heartbeat, kept only when its `seq` is newer; `placeholder(n)` is the
/// engine's n-th parameter (`?` or `$n`).
pub(crate) fn upsert_sql(placeholder: impl Fn(usize) -> String) -> String {
    let values: Vec<String> = (1..=COLUMNS.len()).map(placeholder).collect();
    let set: Vec<String> = COLUMNS[1..]
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO workers ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {} \
         WHERE excluded.seq > workers.seq",
        COLUMNS.join(", "),
        values.join(", "),
        set.join(", ")
    )
}

/// Before which `received_at` a worker is forgotten, now.
pub(crate) fn forget_before() -> String {
    crate::audit::fixed(time::OffsetDateTime::now_utc() - FORGET_AFTER)
}

/// The partitions of `hb` as stored (a JSON array).
pub(crate) fn partitions_json(hb: &WorkerHeartbeat) -> String {
    serde_json::to_string(&hb.partitions).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, run: &str, received_at: &str) -> WorkerRow {
        WorkerRow {
            id: id.into(),
            tenant: "default".into(),
            host: "h".into(),
            pid: 1,
            version: "0.1.0".into(),
            started_at: "2026-01-01T00:00:00.000Z".into(),
            run: run.into(),
            partitions: "[1,2]".into(),
            rate_limit_per_minute: Some(200.0),
            rate_limit_share_per_minute: Some(200.0),
            rate_limit_state: Some("full_share".into()),
            interval_secs: 5.0,
            received_at: received_at.into(),
        }
    }

    #[test]
    fn the_upsert_names_each_column_once_and_keeps_only_newer_heartbeats() {
        let sql = upsert_sql(|n| format!("${n}"));
        assert!(sql.contains("VALUES ($1, $2, $3"), "{sql}");
        assert!(sql.contains("$15)"), "{sql}");
        assert!(!sql.contains("$16"), "{sql}");
        assert!(sql.ends_with("WHERE excluded.seq > workers.seq"), "{sql}");
        assert!(
            !sql.contains("id = excluded.id"),
            "the key is never updated: {sql}"
        );
    }

    #[test]
    fn live_workers_come_first_and_only_they_count_partitions() {
        let now = time::macros::datetime!(2026-01-01 00:10:00 UTC);
        let list = list(
            vec![
                row("stopped", "stopped", "2026-01-01T00:09:59.000Z"),
                row("quiet", "running", "2026-01-01T00:09:00.000Z"),
                row("live", "running", "2026-01-01T00:09:58.000Z"),
                row("garbled", "running", ""),
            ],
            now,
        );
        let states: Vec<(&str, &str)> = list
            .workers
            .iter()
            .map(|w| (w.id.as_str(), w.state.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                ("live", "live"),
                ("quiet", "quiet"),
                ("garbled", "quiet"),
                ("stopped", "stopped")
            ]
        );
        assert_eq!((list.total, list.live, list.partitions_held), (4, 1, 2));
        assert_eq!(list.workers[0].partitions, [1, 2]);
        assert!((list.workers[0].last_heartbeat_age_seconds - 2.0).abs() < 1e-9);
    }
}
