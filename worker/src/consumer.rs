//! The worker process: one consumer per owned partition queue, jobs of a partition
//! applied one at a time, in order, and acked only after Splashtop answered.
//!
//! Every partition queue has single active consumer on, so across all worker processes
//! at most one consumer receives a partition's jobs. On top of that each worker consumes
//! only its share of the partitions ([`crate::rebalance`]), recomputed every heartbeat
//! from the live workers in Redis: a new worker takes its share within a heartbeat, a
//! killed worker's heartbeat expires after [`HEARTBEAT_TTL_FACTOR`] heartbeats and its
//! partitions move to the survivors (its unacked jobs come back from RabbitMQ when its
//! connection drops). SIGTERM stops each partition between jobs: the in-flight job
//! finishes and is acked, then the worker leaves the live set and closes.
//!
//! With a listen address, a [`BoundWorker`] also serves `/healthz`, `/readyz` and
//! `/metrics` from before it first reaches RabbitMQ until it has stopped.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use splashsync_protocol::topology::Topology;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::config::{DeactivateMode, Settings};
use crate::handle::Runtime;
use crate::limiter::{RateLimitedApi, RateLimiter};
use crate::metrics::Metrics;
use crate::ops::{Health, Ops};
use crate::partition::PartitionTask;
use crate::retry::RetryPolicy;
use crate::splashtop::{HttpTeamApi, TeamApi};
use crate::store::Store;

/// Default interval between heartbeats (and rebalances).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// A worker is dead once this many heartbeats were missed.
pub const HEARTBEAT_TTL_FACTOR: u32 = 3;
/// The Redis every worker shares unless configured otherwise.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A worker: the API client, the topology it consumes and its policies.
#[derive(Clone)]
pub struct Worker {
    api: Arc<dyn TeamApi>,
    topology: Topology,
    amqp_url: String,
    mode: DeactivateMode,
    retry: RetryPolicy,
    rate_limit_per_minute: u32,
    redis_url: String,
    redis_prefix: String,
    heartbeat: Duration,
    listen: Option<SocketAddr>,
    name: String,
    id: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("topology", &self.topology)
            .field("id", &self.id)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker from validated settings.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let api = HttpTeamApi::new(
            &settings.splashtop_api_url,
            &settings.splashtop_team_id,
            settings.splashtop_api_token.clone(),
            Duration::from_secs(settings.api_timeout_secs),
        )?;
        let worker = Self::new(
            Arc::new(api),
            Topology::new(settings.amqp_prefix.clone(), settings.partitions),
            settings.amqp_url.clone(),
            settings.deactivate_mode,
        )
        .with_retry_budget(Duration::from_secs(settings.retry_budget_secs))
        .with_rate_limit(settings.rate_limit_per_minute);
        let prefix = settings
            .redis_prefix
            .clone()
            .unwrap_or_else(|| settings.amqp_prefix.clone());
        Ok(worker
            .with_redis(&settings.redis_url, &prefix)
            .with_listen(settings.listen))
    }

    /// A worker over any [`TeamApi`], with Redis keys under the topology's prefix and no
    /// operations listener.
    pub fn new(
        api: Arc<dyn TeamApi>,
        topology: Topology,
        amqp_url: String,
        mode: DeactivateMode,
    ) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            api,
            redis_prefix: topology.prefix().to_string(),
            topology,
            amqp_url,
            mode,
            retry: RetryPolicy::default(),
            rate_limit_per_minute: 200,
            redis_url: DEFAULT_REDIS_URL.to_string(),
            heartbeat: DEFAULT_HEARTBEAT,
            listen: None,
            name: format!("splashsync-worker-{}-{}", std::process::id(), &id[..8]),
            id,
        }
    }

    /// Overrides the retry budget.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry.budget = budget;
        self
    }

    /// Overrides the team's rate limit in calls per minute (0: unlimited).
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit_per_minute = per_minute;
        self
    }

    /// Overrides the shared Redis and its key prefix.
    pub fn with_redis(mut self, url: &str, prefix: &str) -> Self {
        self.redis_url = url.to_string();
        self.redis_prefix = prefix.to_string();
        self
    }

    /// Overrides the heartbeat interval.
    pub fn with_heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }

    /// Serves `/healthz`, `/readyz` and `/metrics` on `addr` (port 0 picks a free port).
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// This worker's id in the live set.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Binds the operations listener, if one is configured; [`BoundWorker::addr`] then
    /// tells where it listens.
    pub async fn bind(self) -> anyhow::Result<BoundWorker> {
        let listener = match self.listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok(BoundWorker {
            worker: self,
            listener,
        })
    }

    /// Binds, then runs until `shutdown` resolves (see [`BoundWorker::run`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        self.bind().await?.run(shutdown).await
    }

    /// Consumes its partitions until `shutdown` resolves, reconnecting when the broker
    /// goes away. On shutdown the in-flight jobs finish and are acked first.
    async fn consume_until(
        &self,
        rt: &Arc<Runtime>,
        health: &Health,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let Some(conn) = splashsync_protocol::amqp::connect_with_retry(
                &self.amqp_url,
                &self.name,
                &mut shutdown,
            )
            .await
            else {
                return Ok(());
            };
            health.connected(conn.status());
            let (stop_tx, stop_rx) = watch::channel(false);
            let session = self.session(rt, &conn, stop_rx);
            let mut session = std::pin::pin!(session);
            let stopping = tokio::select! {
                r = &mut session => {
                    if let Err(e) = r { tracing::warn!(error = %e, "lost RabbitMQ; reconnecting"); }
                    false
                }
                () = &mut shutdown => true,
            };
            if stopping {
                let _ = stop_tx.send(true);
                let _ = session.await;
                health.disconnected();
                let _ = conn.close(200, "worker shutting down".into()).await;
                tracing::info!("worker stopped");
                return Ok(());
            }
            health.disconnected();
            let _ = conn.close(200, "worker reconnecting".into()).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// The partitions this worker should own now, renewing its heartbeat.
    async fn my_partitions(&self, rt: &Runtime) -> Vec<u16> {
        let ttl = self.heartbeat * HEARTBEAT_TTL_FACTOR;
        let mut live = match rt.store.heartbeat(&self.id, ttl).await {
            Ok(live) => live,
            Err(e) => {
                // Without Redis nobody can agree on shares: take every partition and let
                // single active consumer keep one consumer active per partition.
                tracing::warn!(error = %e, "heartbeat failed; consuming every partition");
                vec![self.id.clone()]
            }
        };
        if !live.contains(&self.id) {
            live.push(self.id.clone());
            live.sort();
        }
        rt.limiter.set_workers(live.len());
        rt.metrics.set_live_workers(live.len());
        crate::rebalance::assign(&live, self.topology.partitions(), &self.id)
    }

    async fn session(
        &self,
        rt: &Arc<Runtime>,
        conn: &Connection,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let setup = conn.create_channel().await?;
        self.topology.declare(&setup).await?;
        let dead = conn.create_channel().await?;
        dead.confirm_select(ConfirmSelectOptions::default()).await?;
        let dead = Arc::new(dead);
        let mut owned: BTreeMap<u16, PartitionTask> = BTreeMap::new();
        let mut draining: Vec<(u16, PartitionTask)> = Vec::new();
        let mut tick = tokio::time::interval(self.heartbeat);
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
            let mine = self.my_partitions(rt).await;
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
                owned.insert(p, self.start_partition(rt, conn, p, &dead).await?);
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
        if let Err(e) = rt.store.leave(&self.id).await {
            tracing::warn!(error = %e, "could not leave the live set; it expires on its own");
        }
        Ok(())
    }

    async fn start_partition(
        &self,
        rt: &Arc<Runtime>,
        conn: &Connection,
        p: u16,
        dead: &Arc<Channel>,
    ) -> anyhow::Result<PartitionTask> {
        let queue = self.topology.partition_queue(p);
        let tag = format!("{}-p{p:03}", self.name);
        let task = PartitionTask::start(rt, conn, &queue, &tag, dead).await?;
        tracing::info!(partition = p, "consuming partition");
        Ok(task)
    }
}

/// A worker whose operations listener is bound, ready to run.
#[derive(Debug)]
pub struct BoundWorker {
    worker: Worker,
    listener: Option<TcpListener>,
}

impl BoundWorker {
    /// Where `/healthz`, `/readyz` and `/metrics` are served, if anywhere.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves the operations endpoints and consumes the partitions until `shutdown`
    /// resolves; the endpoints keep answering while the in-flight jobs finish, and stop
    /// with the worker.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let w = self.worker;
        let store = Store::new(&w.redis_url, &w.redis_prefix)?;
        let metrics = Arc::new(Metrics::new());
        let limiter = Arc::new(RateLimiter::new(
            w.rate_limit_per_minute,
            metrics.limiter_wait(),
        ));
        w.api.observe_calls(Arc::new(metrics.api_calls()));
        let health = Arc::new(Health::default());
        let ops = Ops {
            metrics: metrics.clone(),
            health: health.clone(),
            store: store.clone(),
        };
        let rt = Arc::new(Runtime {
            api: RateLimitedApi::new(w.api.clone(), limiter.clone()),
            limiter,
            metrics,
            store,
            topology: w.topology.clone(),
            mode: w.mode,
            retry: w.retry,
            worker: w.id.clone(),
        });
        let server = self.listener.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "worker health and metrics listening");
            }
            let (stop, stopped) = oneshot::channel::<()>();
            let serving = crate::ops::serve(listener, ops, async move {
                let _ = stopped.await;
            });
            (stop, tokio::spawn(serving))
        });
        let result = w.consume_until(&rt, &health, shutdown).await;
        if let Some((stop, task)) = server {
            let _ = stop.send(());
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the health and metrics listener failed"),
                Err(e) => tracing::warn!(error = %e, "the health and metrics listener panicked"),
            }
        }
        result
    }
}
