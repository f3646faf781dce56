//! This worker's heartbeat to the receiver: who it is (id, host, pid, version), which
//! partitions it holds and its rate limiter's effective rate, published on the events
//! exchange (AMQP `type` [`HEARTBEAT_TYPE`]) every few seconds, at once when its
//! partitions change, and a last one when it stops gracefully. The receiver has no Redis,
//! where the workers keep their own live set: this is how its workers page knows them.
//!
//! A heartbeat is a snapshot; losing one costs nothing (the next comes within the
//! interval), so a failed publish is logged at debug and never retried.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use lapin::{BasicProperties, Channel};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::workers::{WorkerHeartbeat, WorkerRun, HEARTBEAT_TYPE};
use splashsync_scim::now_rfc3339;
use tokio::time::Instant;

use crate::limiter::RateLimiter;
use crate::metrics::RateReading;

/// How often a worker tells the receiver it is alive (and on every partition change).
pub const DEFAULT_PRESENCE_EVERY: Duration = Duration::from_secs(5);

/// How long a publish (with its confirm) may take before the heartbeat is given up.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// A heartbeat not consumed within this many intervals is stale: the broker drops it.
const TTL_INTERVALS: u32 = 12;

/// This worker as its heartbeats describe it.
#[derive(Debug)]
pub(crate) struct Presence {
    id: String,
    tenant: String,
    host: String,
    pid: u32,
    started_at: String,
    every: Duration,
    seq: AtomicU64,
    /// When the last heartbeat went out and what it said.
    last: Mutex<Option<(Instant, Vec<u16>)>>,
}

impl Presence {
    /// The presence of worker `id` of `tenant`, beating every `every`.
    pub(crate) fn new(id: &str, tenant: &str, every: Duration) -> Self {
        Self {
            id: id.to_string(),
            tenant: tenant.to_string(),
            host: host_name(),
            pid: std::process::id(),
            started_at: now_rfc3339(),
            every,
            seq: AtomicU64::new(0),
            last: Mutex::default(),
        }
    }

    /// Sends a heartbeat naming `partitions` if they changed since the last one or the
    /// interval has passed; `rate` is the limiter's rate in calls per second.
    pub(crate) async fn beat(
        &self,
        channel: &Channel,
        topology: &Topology,
        partitions: Vec<u16>,
        rate: RateReading,
    ) {
        let due = {
            let last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            match last.as_ref() {
                Some((at, sent)) => *sent != partitions || at.elapsed() >= self.every,
                None => true,
            }
        };
        if !due {
            return;
        }
        let hb = self.heartbeat(WorkerRun::Running, partitions.clone(), rate);
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), partitions));
        self.publish(channel, topology, &hb).await;
    }

    /// Sends the last heartbeat: stopped, no partitions.
    pub(crate) async fn stopped(&self, channel: &Channel, topology: &Topology, rate: RateReading) {
        let hb = self.heartbeat(WorkerRun::Stopped, Vec::new(), rate);
        self.publish(channel, topology, &hb).await;
    }

    fn heartbeat(
        &self,
        run: WorkerRun,
        partitions: Vec<u16>,
        rate: RateReading,
    ) -> WorkerHeartbeat {
        // Per minute, as operators read rate limits; none when it is off.
        let per_minute = |r: f64| r.is_finite().then_some(r * 60.0);
        WorkerHeartbeat {
            id: self.id.clone(),
            tenant: self.tenant.clone(),
            host: self.host.clone(),
            pid: self.pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: self.started_at.clone(),
            at: now_rfc3339(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            run,
            partitions,
            rate_limit_per_minute: per_minute(rate.effective),
            rate_limit_share_per_minute: per_minute(rate.share),
            rate_limit_state: Some(rate.state().to_string()),
            interval_secs: self.every.as_secs_f64(),
        }
    }

    async fn publish(&self, channel: &Channel, topology: &Topology, hb: &WorkerHeartbeat) {
        let Ok(payload) = serde_json::to_vec(hb) else {
            return;
        };
        let ttl = self.every.saturating_mul(TTL_INTERVALS).as_millis();
        let props = BasicProperties::default()
            .with_type(HEARTBEAT_TYPE.into())
            .with_content_type("application/json".into())
            .with_expiration(ttl.to_string().as_str().into());
        let sent = tokio::time::timeout(
            PUBLISH_TIMEOUT,
            crate::outcome::to_events(channel, topology, &payload, props),
        )
        .await;
        match sent {
            Ok(Ok(confirm)) if confirm.is_ack() => {}
            Ok(Ok(_)) => tracing::debug!("the broker refused a worker heartbeat"),
            Ok(Err(e)) => tracing::debug!(error = %e, "cannot publish a worker heartbeat"),
            Err(_) => tracing::debug!("publishing a worker heartbeat timed out"),
        }
    }
}

/// `limiter` as it stands now.
pub(crate) fn reading(limiter: &RateLimiter) -> RateReading {
    RateReading {
        effective: limiter.rate(),
        share: limiter.share(),
        paused: limiter.throttled_for().map_or(0.0, |d| d.as_secs_f64()),
    }
}

/// The host's name: `HOSTNAME`, else the kernel's, else `unknown`.
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_count_up_and_say_the_rate_per_minute() {
        let p = Presence::new("w1", "default", Duration::from_secs(5));
        let halved = RateReading {
            effective: 2.0,
            share: 4.0,
            paused: 0.0,
        };
        let off = RateReading {
            effective: f64::INFINITY,
            share: f64::INFINITY,
            paused: 0.0,
        };
        let a = p.heartbeat(WorkerRun::Running, vec![1, 2], halved);
        let b = p.heartbeat(WorkerRun::Stopped, vec![], off);
        assert!(b.seq > a.seq);
        assert_eq!(a.rate_limit_per_minute, Some(120.0));
        assert_eq!(a.rate_limit_share_per_minute, Some(240.0));
        assert_eq!(a.rate_limit_state.as_deref(), Some("reduced_after_429"));
        assert_eq!(b.rate_limit_per_minute, None);
        assert_eq!(b.rate_limit_state.as_deref(), Some("unlimited"));
        assert_eq!((a.pid, a.interval_secs), (std::process::id(), 5.0));
        assert!(!a.host.is_empty());
    }
}
