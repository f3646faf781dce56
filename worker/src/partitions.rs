//! The partitions this worker consumes: which ones (its share of the live workers',
//! recomputed every heartbeat, [`crate::rebalance`]), each consumed by a task of its own,
//! its jobs one at a time, in order, each acked only after it was handled.
//!
//! Every partition queue has single active consumer on, so across all worker processes
//! at most one consumer receives a partition's jobs. A new worker takes its share within
//! a heartbeat; a killed worker's heartbeat expires after [`HEARTBEAT_TTL_FACTOR`]
//! heartbeats and its partitions move to the survivors (its unacked jobs come back from
//! RabbitMQ when its connection drops). A partition given up, or the whole session
//! stopping, stops each task between jobs, or while its job waits for a retry.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::handle::Runtime;

/// A worker is dead once this many heartbeats were missed.
pub const HEARTBEAT_TTL_FACTOR: u32 = 3;

/// Who this worker is among the live ones.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    /// Its id in the live set.
    pub(crate) id: String,
    /// Its connection name, the prefix of its consumer tags.
    pub(crate) name: String,
    /// How often it renews its heartbeat and rebalances.
    pub(crate) heartbeat: Duration,
}

/// Consumes this worker's share of the partitions on `conn` until `stop` turns true (then
/// lets each in-flight job finish and leaves the live set) or a partition's consumer
/// fails.
pub(crate) async fn session(
    rt: &Arc<Runtime>,
    me: &Member,
    conn: &Connection,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let setup = conn.create_channel().await?;
    rt.topology.declare(&setup).await?;
    let dead = conn.create_channel().await?;
    dead.confirm_select(ConfirmSelectOptions::default()).await?;
    let dead = Arc::new(dead);
    let mut owned: BTreeMap<u16, PartitionTask> = BTreeMap::new();
    let mut draining: Vec<(u16, PartitionTask)> = Vec::new();
    let mut tick = tokio::time::interval(me.heartbeat);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        for task in owned.values_mut() {
            if task.task.is_finished() {
                (&mut task.task).await??;
                anyhow::bail!("a partition consumer ended");
            }
        }
        draining.retain(|(_, t)| !t.task.is_finished());
        let mine = my_partitions(rt, me).await;
        let released: Vec<u16> = owned
            .keys()
            .copied()
            .filter(|p| !mine.contains(p))
            .collect();
        for p in released {
            if let Some(task) = owned.remove(&p) {
                // Finishes its in-flight job and acks it before closing its channel.
                let _ = task.stop.send(true);
                draining.push((p, task));
            }
        }
        for &p in &mine {
            if owned.contains_key(&p) || draining.iter().any(|(d, _)| *d == p) {
                continue;
            }
            let queue = rt.topology.partition_queue(p);
            let tag = format!("{}-p{p:03}", me.name);
            owned.insert(
                p,
                PartitionTask::start(rt, conn, &queue, &tag, &dead).await?,
            );
            tracing::info!(partition = p, "consuming partition");
        }
        rt.metrics.set_partitions_held(owned.len());
        tracing::debug!(partitions = ?owned.keys().collect::<Vec<_>>(), "owned partitions");
    }
    for task in owned.values().chain(draining.iter().map(|(_, t)| t)) {
        let _ = task.stop.send(true);
    }
    for mut task in owned
        .into_values()
        .chain(draining.into_iter().map(|(_, t)| t))
    {
        let _ = (&mut task.task).await;
    }
    rt.metrics.set_partitions_held(0);
    if let Err(e) = rt.store.leave(&me.id).await {
        tracing::warn!(error = %e, "could not leave the live set; it expires on its own");
    }
    Ok(())
}

/// The partitions this worker should own now, renewing its heartbeat.
async fn my_partitions(rt: &Runtime, me: &Member) -> Vec<u16> {
    let ttl = me.heartbeat * HEARTBEAT_TTL_FACTOR;
    let mut live = match rt.store.heartbeat(&me.id, ttl).await {
        Ok(live) => live,
        Err(e) => {
            // Without Redis nobody can agree on shares: take every partition and let
            // single active consumer keep one consumer active per partition.
            tracing::warn!(error = %e, "heartbeat failed; consuming every partition");
            vec![me.id.clone()]
        }
    };
    if !live.contains(&me.id) {
        live.push(me.id.clone());
        live.sort();
    }
    rt.limiter.set_workers(live.len());
    rt.metrics.set_live_workers(live.len());
    crate::rebalance::assign(&live, rt.topology.partitions(), &me.id)
}

/// One partition being consumed by a task; dropping it aborts the task.
#[derive(Debug)]
struct PartitionTask {
    /// Set to true to stop between jobs (or while a job waits for a retry).
    stop: watch::Sender<bool>,
    /// The consuming task; it ends after its in-flight job is acked or handed back.
    task: JoinHandle<anyhow::Result<()>>,
}

impl Drop for PartitionTask {
    fn drop(&mut self) {
        // Only reached without a graceful stop (the worker itself was aborted).
        self.task.abort();
    }
}

impl PartitionTask {
    /// Starts consuming `queue` on a channel of its own, as consumer `tag`.
    async fn start(
        rt: &Arc<Runtime>,
        conn: &Connection,
        queue: &str,
        tag: &str,
        dead: &Arc<Channel>,
    ) -> anyhow::Result<Self> {
        let channel = conn.create_channel().await?;
        // One job at a time per partition: order first.
        channel.basic_qos(1, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(consume(
            rt.clone(),
            channel,
            consumer,
            dead.clone(),
            stop_rx,
        ));
        Ok(Self { stop, task })
    }
}

async fn consume(
    rt: Arc<Runtime>,
    channel: Channel,
    mut consumer: lapin::Consumer,
    dead: Arc<Channel>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let delivery = tokio::select! {
            // Stop only between jobs: the in-flight one finishes and is acked.
            biased;
            _ = stop.wait_for(|s| *s) => None,
            d = consumer.next() => d,
        };
        let Some(delivery) = delivery else {
            // Closing the channel returns a prefetched or unfinished job to its queue.
            let _ = channel.close(200, "partition released".into()).await;
            return if *stop.borrow() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("consumer ended"))
            };
        };
        rt.handle(&delivery?, &dead, &stop).await?;
    }
}
