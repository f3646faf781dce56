//! The partitions this worker consumes: which ones (its share of the live workers',
//! recomputed every heartbeat by [`heartbeat`], [`crate::rebalance`]), each consumed by a
//! task of its own ([`session`]), its jobs one at a time, in order, each acked only after
//! it was handled ([`consume`]); RabbitMQ delivers up to the prefetch ahead, the window in
//! which a job superseded by a newer one of its key is acked unapplied ([`window`]).
//!
//! Every partition queue has single active consumer on, so across all worker processes
//! at most one consumer receives a partition's jobs. A new worker takes its share within
//! a heartbeat; a killed worker's heartbeat expires after [`HEARTBEAT_TTL_FACTOR`]
//! heartbeats and its partitions move to the survivors (its unacked jobs come back from
//! RabbitMQ when its connection drops). A worker heartbeats only while it holds a
//! RabbitMQ connection, so one cut off from the broker lets its share go the same way. A
//! partition given up, or the whole session stopping, stops each task between jobs, or
//! while its job waits (for a retry or for a rate-limiter slot).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::handle::Runtime;
use crate::ops::BrokerLink;
use crate::presence::{self, Presence};
use consume::{consume, Ended, Mode};

mod consume;
mod window;

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
    /// Its heartbeat to the receiver (the workers page).
    pub(crate) presence: Arc<Presence>,
}

/// The partitions this worker should consume, as its last heartbeat computed them; `None`
/// while it has no broker connection (or has not heartbeaten since it got one).
pub(crate) type Assignment = watch::Sender<Option<Vec<u16>>>;

/// Renews this worker's heartbeat every interval while `link` is up, and publishes the
/// partitions it should consume into `assignment`, until `stop` fires. While the link is
/// down it skips its heartbeats (so they lapse and others take its share) and withdraws
/// the assignment, which the next session then waits for afresh.
pub(crate) async fn heartbeat(
    rt: Arc<Runtime>,
    me: Member,
    link: Arc<BrokerLink>,
    assignment: Arc<Assignment>,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut link_changed = link.watch();
    let mut tick = tokio::time::interval(me.heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = tick.tick() => {}
            // Heartbeat at once when a session starts: it waits for its assignment.
            changed = link_changed.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
        }
        if !link.is_up() {
            assignment.send_if_modified(|a| a.take().is_some());
            continue;
        }
        let mine = my_partitions(&rt, &me).await;
        assignment.send_if_modified(|a| {
            let changed = a.as_ref() != Some(&mine);
            *a = Some(mine);
            changed
        });
    }
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

/// Consumes the partitions `assignment` names on `conn` (whose topology is declared),
/// following its changes, until `stop` fires or something fails (a partition's consumer
/// ends, the connection drops). Either way each in-flight job finishes (or, waiting,
/// goes back to its queue) and every channel is closed before it returns.
pub(crate) async fn session(
    rt: &Arc<Runtime>,
    me: &Member,
    conn: &Connection,
    assignment: watch::Receiver<Option<Vec<u16>>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let dead = conn.create_channel().await?;
    dead.confirm_select(ConfirmSelectOptions::default()).await?;
    let dead = Arc::new(dead);
    let mut held = Held::default();
    let result = follow(rt, me, conn, &dead, assignment, stop, &mut held).await;
    held.stop_all().await;
    rt.metrics.set_partitions_held(0);
    if stop.is_cancelled() {
        // A graceful stop: the receiver shows this worker stopped, not gone quiet.
        me.presence
            .stopped(&dead, &rt.topology, presence::reading(&rt.limiter))
            .await;
    }
    // Closed, not dropped, like every channel of the session (see `consumer::session`).
    let _ = dead.close(200, "session ended".into()).await;
    result
}

/// The partition tasks of a session: those it owns, and those given up that are still
/// finishing their in-flight job.
#[derive(Debug, Default)]
struct Held {
    owned: BTreeMap<u16, PartitionTask>,
    draining: Vec<(u16, PartitionTask)>,
}

impl Held {
    /// Stops every task between jobs and waits for each.
    async fn stop_all(&mut self) {
        if !self.owned.is_empty() {
            let partitions: Vec<u16> = self.owned.keys().copied().collect();
            tracing::info!(partitions = ?partitions, "partitions released: the session is ending");
        }
        let tasks: Vec<(u16, PartitionTask)> = std::mem::take(&mut self.owned)
            .into_iter()
            .chain(std::mem::take(&mut self.draining))
            .collect();
        for (_, task) in &tasks {
            let _ = task.stop.send(true);
        }
        for (p, mut task) in tasks {
            match (&mut task.task).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::debug!(partition = p, error = %e, "partition ended with an error")
                }
                Err(e) => tracing::warn!(partition = p, error = %e, "partition task failed"),
            }
        }
    }
}

/// The session's loop: follows the assignment and watches over the partition tasks.
async fn follow(
    rt: &Arc<Runtime>,
    me: &Member,
    conn: &Connection,
    dead: &Arc<Channel>,
    mut assignment: watch::Receiver<Option<Vec<u16>>>,
    stop: &CancellationToken,
    held: &mut Held,
) -> anyhow::Result<()> {
    let mut check = tokio::time::interval(me.heartbeat);
    check.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = check.tick() => {}
            changed = assignment.changed() => {
                if changed.is_err() {
                    anyhow::bail!("the heartbeat's assignment is gone");
                }
            }
        }
        if !conn.status().connected() {
            anyhow::bail!("lost the RabbitMQ connection");
        }
        let finished = held.owned.iter().find(|(_, t)| t.task.is_finished());
        if let Some(p) = finished.map(|(p, _)| *p) {
            // Out of `held` first: a finished task's handle cannot be awaited twice.
            if let Some(mut task) = held.owned.remove(&p) {
                let ended = match (&mut task.task).await {
                    Ok(Ok(Ended::HandedBack { jobs })) => {
                        // Its jobs are back in the queue: catch up on them, one at a time.
                        let mode = Mode::CatchUp(jobs);
                        let task = start_partition(rt, me, conn, dead, p, mode).await?;
                        held.owned.insert(p, task);
                        continue;
                    }
                    Ok(Ok(Ended::CaughtUp)) => {
                        let task = start_partition(rt, me, conn, dead, p, Mode::Window).await?;
                        held.owned.insert(p, task);
                        continue;
                    }
                    Ok(Ok(Ended::Stopped)) => "ended".to_string(),
                    Ok(Err(e)) => format!("failed: {e:#}"),
                    Err(e) => format!("panicked or was cancelled: {e}"),
                };
                anyhow::bail!("the consumer of partition {p} {ended}");
            }
        }
        held.draining.retain(|(_, t)| !t.task.is_finished());
        let Some(mine) = assignment.borrow_and_update().clone() else {
            beat(rt, me, dead, held).await;
            continue;
        };
        let released: Vec<u16> = held
            .owned
            .keys()
            .copied()
            .filter(|p| !mine.contains(p))
            .collect();
        if !released.is_empty() {
            tracing::info!(partitions = ?released, "partitions lost to another worker; finishing their in-flight jobs");
        }
        for p in released {
            if let Some(task) = held.owned.remove(&p) {
                // Finishes its in-flight job and acks it before closing its channel.
                let _ = task.stop.send(true);
                held.draining.push((p, task));
            }
        }
        let mut gained = Vec::new();
        for &p in &mine {
            if held.owned.contains_key(&p) || held.draining.iter().any(|(d, _)| *d == p) {
                continue;
            }
            let task = start_partition(rt, me, conn, dead, p, Mode::Window).await?;
            held.owned.insert(p, task);
            gained.push(p);
        }
        if !gained.is_empty() {
            tracing::info!(partitions = ?gained, "partitions gained");
        }
        rt.metrics.set_partitions_held(held.owned.len());
        beat(rt, me, dead, held).await;
    }
}

/// Tells the receiver which partitions this worker holds, when they changed or the
/// heartbeat is due.
async fn beat(rt: &Runtime, me: &Member, channel: &Channel, held: &Held) {
    let owned: Vec<u16> = held.owned.keys().copied().collect();
    me.presence
        .beat(channel, &rt.topology, owned, presence::reading(&rt.limiter))
        .await;
}

/// Starts consuming partition `p` in `mode`.
async fn start_partition(
    rt: &Arc<Runtime>,
    me: &Member,
    conn: &Connection,
    dead: &Arc<Channel>,
    p: u16,
    mode: Mode,
) -> anyhow::Result<PartitionTask> {
    let queue = rt.topology.partition_queue(p);
    let tag = format!("{}-p{p:03}", me.name);
    PartitionTask::start(rt, conn, (&queue, &tag), dead, mode).await
}

/// One partition being consumed by a task; dropping it aborts the task.
#[derive(Debug)]
struct PartitionTask {
    /// Set to true to stop between jobs (or while a job waits).
    stop: watch::Sender<bool>,
    /// The consuming task; it ends after its in-flight job is acked or handed back.
    task: JoinHandle<anyhow::Result<Ended>>,
}

impl Drop for PartitionTask {
    fn drop(&mut self) {
        // Only reached without a graceful stop (the worker itself was aborted).
        self.task.abort();
    }
}

impl PartitionTask {
    /// Starts consuming `queue` on a channel of its own, as consumer `tag`, in `mode`.
    async fn start(
        rt: &Arc<Runtime>,
        conn: &Connection,
        (queue, tag): (&str, &str),
        dead: &Arc<Channel>,
        mode: Mode,
    ) -> anyhow::Result<Self> {
        let channel = conn.create_channel().await?;
        // Jobs are handled one at a time, in order; the prefetch is the window in which a
        // job may be superseded by a newer one of its key (`window`), one while catching up.
        channel
            .basic_qos(mode.prefetch(rt.prefetch), BasicQosOptions::default())
            .await?;
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
            mode,
        ));
        Ok(Self { stop, task })
    }
}
