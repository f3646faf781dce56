//! Worker heartbeats taken from the events queue into the workers table: the newest of
//! each worker is kept (the store ignores an older `seq`), and a heartbeat that cannot be
//! read is dropped (requeueing cannot make it readable; the next one comes in seconds).

use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use splashsync_directory::workers::WorkerStore;
use splashsync_protocol::workers::{WorkerHeartbeat, HEARTBEAT_TYPE};

/// Whether `delivery` is a worker heartbeat rather than an outcome event.
pub(super) fn is_heartbeat(delivery: &Delivery) -> bool {
    delivery
        .properties
        .kind()
        .as_ref()
        .is_some_and(|k| k.as_str() == HEARTBEAT_TYPE)
}

/// Stores a heartbeat, then acks it; `false` when the store failed (the caller sends it
/// back to the queue).
pub(super) async fn take(workers: &dyn WorkerStore, delivery: &Delivery) -> bool {
    let hb: WorkerHeartbeat = match serde_json::from_slice(&delivery.data) {
        Ok(hb) => hb,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable worker heartbeat dropped");
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            return true;
        }
    };
    let (worker, run, held) = (hb.id.clone(), hb.run, hb.partitions.len());
    match workers.record_heartbeat(hb).await {
        Ok(fresh) => {
            tracing::debug!(%worker, run = run.as_str(), partitions = held, fresh, "worker heartbeat");
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            true
        }
        Err(e) => {
            tracing::warn!(%worker, error = %e, "cannot store a worker heartbeat");
            false
        }
    }
}
