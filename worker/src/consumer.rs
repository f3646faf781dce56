//! The worker process: its settings ([`Worker`]), its connection to RabbitMQ (kept up,
//! reconnecting when the broker goes away), and its operations listener. What it consumes
//! is `partitions`'s business: one consumer per owned partition queue, jobs of a partition
//! applied one at a time, in order, and acked only after Splashtop answered. SIGTERM stops
//! each partition between jobs: the in-flight job finishes and is acked (or, if it is
//! waiting for a retry, goes back to its queue), then the worker leaves the live set and
//! closes.
//!
//! With a listen address, a [`BoundWorker`] also serves `/healthz`, `/readyz` and
//! `/metrics` from before it first reaches RabbitMQ until it has stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use splashsync_protocol::topology::Topology;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::config::{DeactivateMode, Settings};
use crate::handle::Runtime;
use crate::limiter::{RateLimitedApi, RateLimiter};
use crate::metrics::Metrics;
use crate::ops::{Health, Ops};
pub use crate::partitions::HEARTBEAT_TTL_FACTOR;
use crate::partitions::{self, Member};
use crate::retry::RetryPolicy;
use crate::state::{RedisStore, StateStore};
use splashtop_api::{HttpTeamApi, TeamApi};

/// Default interval between heartbeats (and rebalances).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
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
        let me = Member {
            id: self.id.clone(),
            name: self.name.clone(),
            heartbeat: self.heartbeat,
        };
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
            let session = partitions::session(rt, &me, &conn, stop_rx);
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
        let store: Arc<dyn StateStore> = Arc::new(RedisStore::new(&w.redis_url, &w.redis_prefix)?);
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
            api: Arc::new(RateLimitedApi::new(w.api.clone(), limiter.clone())),
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
