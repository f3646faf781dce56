//! Worker heartbeats: each worker says who it is and which partitions it holds on the
//! events exchange, so that the receiver (which has no Redis) can show operators the
//! workers an attempt names (the console's workers page, `GET /admin/workers`).
//!
//! A heartbeat travels beside the outcome events, told apart by the AMQP `type`
//! property ([`HEARTBEAT_TYPE`]); it is a snapshot, so only the newest one of a worker
//! matters (`seq` orders them, whatever order they arrive in).

use serde::{Deserialize, Serialize};

/// The AMQP `type` property of a heartbeat message on the events exchange.
pub const HEARTBEAT_TYPE: &str = "splashsync.worker-heartbeat.v1";

/// A heartbeat is worth this many intervals: a worker not heard from for longer has
/// gone quiet (killed, cut off from the broker, or hung).
pub const QUIET_AFTER_INTERVALS: f64 = 3.0;

/// Whether a worker is running or has stopped gracefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerRun {
    /// Running: it consumes the partitions it names.
    Running,
    /// It stopped on SIGTERM and released its partitions; nothing more will come.
    Stopped,
}

impl WorkerRun {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerRun::Running => "running",
            WorkerRun::Stopped => "stopped",
        }
    }
}

/// One heartbeat of one worker process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerHeartbeat {
    /// The worker's id, as outcome events and attempts name it.
    pub id: String,
    /// The tenant it works for.
    pub tenant: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Its build version.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When this heartbeat was sent (RFC 3339, the worker's clock).
    pub at: String,
    /// Grows with every heartbeat of this process: the newest one wins.
    pub seq: u64,
    /// Running or stopped.
    pub run: WorkerRun,
    /// The partitions it consumes now, ascending.
    pub partitions: Vec<u16>,
    /// The rate limiter's effective rate in calls per minute (its share, halved after a
    /// 429); `None` when the rate limit is off.
    #[serde(default)]
    pub rate_limit_per_minute: Option<f64>,
    /// Its share of the team's rate limit in calls per minute (`None`: no rate limit).
    #[serde(default)]
    pub rate_limit_share_per_minute: Option<f64>,
    /// Why the rate is what it is: `full_share`, `reduced_after_429` (halved by a 429, climbing
    /// back with each success), `paused_after_429` (a Retry-After running) or `unlimited`.
    #[serde(default)]
    pub rate_limit_state: Option<String>,
    /// How often it sends a heartbeat, in seconds (how soon silence means trouble).
    pub interval_secs: f64,
}

/// How a worker looks from its last heartbeat, `age_secs` old.
pub fn worker_state(run: &str, age_secs: f64, interval_secs: f64) -> &'static str {
    if run == WorkerRun::Stopped.as_str() {
        "stopped"
    } else if age_secs > interval_secs.max(1.0) * QUIET_AFTER_INTERVALS {
        "quiet"
    } else {
        "live"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heartbeat_round_trips() {
        let hb = WorkerHeartbeat {
            id: "w1".into(),
            tenant: "default".into(),
            host: "host-a".into(),
            pid: 42,
            version: "0.1.0".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            at: "2026-01-01T00:00:05Z".into(),
            seq: 3,
            run: WorkerRun::Running,
            partitions: vec![0, 3],
            rate_limit_per_minute: Some(100.0),
            rate_limit_share_per_minute: Some(200.0),
            rate_limit_state: Some("reduced_after_429".into()),
            interval_secs: 5.0,
        };
        let wire = serde_json::to_value(&hb).unwrap();
        assert_eq!(wire["run"], "running");
        assert_eq!(serde_json::from_value::<WorkerHeartbeat>(wire).unwrap(), hb);
    }

    #[test]
    fn silence_longer_than_three_intervals_is_quiet_and_a_stop_is_a_stop() {
        assert_eq!(worker_state("running", 4.0, 5.0), "live");
        assert_eq!(worker_state("running", 16.0, 5.0), "quiet");
        assert_eq!(worker_state("stopped", 0.0, 5.0), "stopped");
        assert_eq!(worker_state("stopped", 600.0, 5.0), "stopped");
    }
}
