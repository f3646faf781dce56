//! The workers page on the wire (`GET /admin/workers`): each worker as its last heartbeat
//! described it, and whether it is live, gone quiet or stopped.

use serde::{Deserialize, Serialize};

/// One worker process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WorkerInfo {
    /// The worker's id, as attempts name it.
    pub id: String,
    /// The tenant it works for.
    pub tenant: String,
    /// `live`, `quiet` (no heartbeat for three intervals: killed, cut off or hung) or
    /// `stopped` (it stopped gracefully).
    pub state: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: i64,
    /// Its build version.
    pub version: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When its last heartbeat was received (RFC 3339, the receiver's clock).
    pub last_heartbeat: String,
    /// Seconds since then.
    pub last_heartbeat_age_seconds: f64,
    /// The partitions it held at its last heartbeat.
    pub partitions: Vec<u16>,
    /// The rate limiter's effective rate at its last heartbeat, in calls per minute
    /// (`None`: no rate limit).
    pub rate_limit_per_minute: Option<f64>,
    /// Its share of the team's limit then, in calls per minute.
    pub rate_limit_share_per_minute: Option<f64>,
    /// Why the rate is what it is: `full_share`, `reduced_after_429`, `paused_after_429` or
    /// `unlimited`.
    pub rate_limit_state: Option<String>,
}

/// `GET /admin/workers`: every worker heard from in the last week, live ones first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WorkerList {
    /// Workers listed.
    pub total: usize,
    /// Workers whose heartbeat is current.
    pub live: usize,
    /// Partitions held by live workers, all together.
    pub partitions_held: usize,
    /// The workers: live, then quiet, then stopped; the latest heartbeat first in each.
    pub workers: Vec<WorkerInfo>,
}
