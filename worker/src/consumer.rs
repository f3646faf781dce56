//! The worker process: its settings ([`Worker`]), its supervised tasks, and its operations
//! listener. Two long-running tasks run under [`supervise`], which logs, counts and
//! restarts (with backoff) whichever fails or panics, and reports it not ready in
//! `/readyz` meanwhile:
//! - `session` (`consumer/session.rs`): a RabbitMQ connection (reconnecting when the
//!   broker goes away), the prefix claimed for this worker's tenant, the topology
//!   declared, and the partitions the heartbeat assigns, each consumed a job at a time,
//!   in order, acked only after Splashtop answered, or unapplied when a newer job of its
//!   key is already delivered behind it (`partitions`);
//! - `heartbeat`: this worker's place in the live set, and its share of the partitions.
//!
//! SIGTERM stops each partition between jobs: the in-flight job finishes and is acked (or,
//! if it is waiting for a retry or a rate-limiter slot, goes back to its queue), then the
//! worker leaves the live set and closes. A prefix that belongs to another tenant stops
//! the worker with an error: that is a configuration mistake, not an outage.
//!
//! With a listen address, a [`BoundWorker`] also serves `/healthz`, `/readyz` and
//! `/metrics` from before it first reaches RabbitMQ until it has stopped.

mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;
use splashsync_runtime::http::Limits;
use splashsync_runtime::supervisor::{supervise, Health, RestartPolicy};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use crate::config::DEFAULT_PREFETCH;
use crate::config::{DeactivateMode, Settings};
use crate::floors::{AdminFloors, FloorSource};
use crate::handle::Runtime;
use crate::limiter::{RateLimitedApi, RateLimiter, DEFAULT_MAX_RETRY_AFTER};
use crate::metrics::Metrics;
use crate::ops::{BrokerLink, Ops};
pub use crate::partitions::HEARTBEAT_TTL_FACTOR;
use crate::partitions::{self, Member};
use crate::presence::Presence;
pub use crate::presence::DEFAULT_PRESENCE_EVERY;
use crate::retry::RetryPolicy;
use crate::state::{RedisStore, StateStore};
use session::Session;
use splashtop_api::{HttpTeamApi, TeamApi};

/// Default interval between heartbeats (and rebalances).
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// The Redis every worker shares unless configured otherwise.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// How long leaving the live set may take at shutdown before it is left to expire.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A worker: the API client, the topology it consumes and its policies.
#[derive(Clone)]
pub struct Worker {
    api: Arc<dyn TeamApi>,
    topology: Topology,
    tenant: Tenant,
    amqp_url: String,
    mode: DeactivateMode,
    retry: RetryPolicy,
    max_retry_after: Duration,
    rate_limit_per_minute: u32,
    reconcile_reserve: u32,
    redis_url: String,
    redis_prefix: String,
    heartbeat: Duration,
    presence_every: Duration,
    prefetch: u16,
    coalesce: bool,
    window_hold: Option<Duration>,
    floors: Option<Arc<dyn FloorSource>>,
    listen: Option<SocketAddr>,
    ops_limits: Limits,
    restarts: RestartPolicy,
    name: String,
    id: String,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("topology", &self.topology)
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("reconcile_reserve", &self.reconcile_reserve)
            .field("max_retry_after", &self.max_retry_after)
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
        )?
        .with_max_body_bytes(settings.max_body_bytes);
        let tenant = Tenant::parse(&settings.tenant)
            .ok_or_else(|| anyhow::anyhow!("SPLASHSYNC_TENANT is not a tenant name"))?;
        let worker = Self::new(
            Arc::new(api),
            Topology::new(settings.amqp_prefix.clone(), settings.partitions),
            settings.amqp_url.clone(),
            settings.deactivate_mode,
        )
        .with_tenant(tenant)
        .with_retry_budget(Duration::from_secs(settings.retry_budget_secs))
        .with_max_retry_after(Duration::from_secs(settings.max_retry_after_secs))
        .with_rate_limit(settings.rate_limit_per_minute)
        .with_reconcile_reserve(settings.reconcile_calls_per_minute)
        .with_prefetch(settings.prefetch)
        .with_coalesce(settings.coalesce);
        let prefix = settings
            .redis_prefix
            .clone()
            .unwrap_or_else(|| settings.amqp_prefix.clone());
        let mut worker = worker
            .with_redis(&settings.redis_url, &prefix)
            .with_listen(settings.listen);
        if let (Some(url), Some(token)) = (&settings.receiver_url, &settings.admin_token) {
            worker = worker.with_floors(Arc::new(AdminFloors::new(url, token.clone())?));
        }
        Ok(worker)
    }

    /// A worker over any [`TeamApi`] for the `default` tenant, with Redis keys under the
    /// topology's prefix and no operations listener.
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
            tenant: Tenant::default(),
            amqp_url,
            mode,
            retry: RetryPolicy::default(),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            rate_limit_per_minute: 200,
            reconcile_reserve: 0,
            redis_url: DEFAULT_REDIS_URL.to_string(),
            heartbeat: DEFAULT_HEARTBEAT,
            presence_every: DEFAULT_PRESENCE_EVERY,
            prefetch: DEFAULT_PREFETCH,
            coalesce: true,
            window_hold: None,
            floors: None,
            listen: None,
            ops_limits: crate::ops::LIMITS,
            restarts: RestartPolicy::default(),
            name: format!("splashsync-worker-{}-{}", std::process::id(), &id[..8]),
            id,
        }
    }

    /// Overrides the tenant the AMQP prefix must belong to.
    pub fn with_tenant(mut self, tenant: Tenant) -> Self {
        self.tenant = tenant;
        self
    }

    /// Overrides the retry budget.
    pub fn with_retry_budget(mut self, budget: Duration) -> Self {
        self.retry.budget = budget;
        self
    }

    /// Overrides the longest Retry-After honoured (by the retries and the rate limiter).
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Overrides the team's rate limit in calls per minute (0: unlimited).
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit_per_minute = per_minute;
        self
    }

    /// Leaves `per_minute` calls of the team's limit to the receiver's reconciler (its
    /// `SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE`; 0, the default here, leaves none).
    pub fn with_reconcile_reserve(mut self, per_minute: u32) -> Self {
        self.reconcile_reserve = per_minute;
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

    /// Overrides how often the worker tells the receiver it is alive (its workers page);
    /// it also does on every change of its partitions.
    pub fn with_presence_every(mut self, every: Duration) -> Self {
        self.presence_every = every;
        self
    }

    /// Overrides each partition consumer's prefetch (at least 1), the window in which a
    /// job may be superseded by a newer one of its key.
    pub fn with_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch.max(1);
        self
    }

    /// Turns coalescing on or off: with it off, every job is applied, even one whose key
    /// has a newer job already delivered behind it.
    pub fn with_coalesce(mut self, coalesce: bool) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// Overrides how long a partition's window may hold a job before it is handed back to
    /// its queue (by default: RabbitMQ's 30-minute consumer timeout less the retry budget
    /// and one last attempt). Tests shorten it to see a window handed back.
    pub fn with_window_hold(mut self, hold: Duration) -> Self {
        self.window_hold = Some(hold);
        self
    }

    /// Checks each job committed before the shared state's epoch against `floors` (the
    /// receiver's directory), so that a Redis loss never lets an older job win.
    pub fn with_floors(mut self, floors: Arc<dyn FloorSource>) -> Self {
        self.floors = Some(floors);
        self
    }

    /// Serves `/healthz`, `/readyz` and `/metrics` on `addr` (port 0 picks a free port).
    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Overrides the operations listener's limits.
    pub fn with_ops_limits(mut self, limits: Limits) -> Self {
        self.ops_limits = limits;
        self
    }

    /// Overrides the backoff between restarts of a failed task.
    pub fn with_restart_policy(mut self, policy: RestartPolicy) -> Self {
        self.restarts = policy;
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

    /// Serves the operations endpoints and runs the supervised tasks until `shutdown`
    /// resolves; the endpoints keep answering while the in-flight jobs finish, and stop
    /// with the worker. An error means the worker cannot run as configured (its AMQP
    /// prefix belongs to another tenant).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let w = self.worker;
        let store: Arc<dyn StateStore> = Arc::new(RedisStore::new(&w.redis_url, &w.redis_prefix)?);
        let health = Health::new();
        let metrics = Arc::new(Metrics::with_health(health.clone()));
        let limiter = Arc::new(
            RateLimiter::new(w.rate_limit_per_minute, metrics.limiter_wait())
                .with_reserved(w.reconcile_reserve)
                .with_max_pause(w.max_retry_after)
                .with_instruments(metrics.limiter_waiting(), metrics.retry_after_capped()),
        );
        w.api.observe_calls(Arc::new(metrics.api_calls()));
        let watched = limiter.clone();
        metrics.watch_rate(move || crate::presence::reading(&watched));
        let broker = Arc::new(BrokerLink::default());
        let rt = Arc::new(Runtime {
            api: Arc::new(RateLimitedApi::new(w.api.clone(), limiter.clone())),
            limiter: limiter.clone(),
            metrics: metrics.clone(),
            store: store.clone(),
            topology: w.topology.clone(),
            mode: w.mode,
            retry: w.retry,
            worker: w.id.clone(),
            prefetch: w.prefetch,
            coalesce: w.coalesce,
            window_hold: w.window_hold,
            floors: w.floors.clone(),
        });
        let ops = Ops {
            metrics,
            health: health.clone(),
            broker: broker.clone(),
            store,
            limiter,
        };
        let server_stop = CancellationToken::new();
        let server = self.listener.map(|listener| {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!(%addr, "worker health and metrics listening");
            }
            let stopped = server_stop.clone().cancelled_owned();
            tokio::spawn(crate::ops::serve(listener, ops, w.ops_limits, stopped))
        });

        let stop = CancellationToken::new();
        let me = Member {
            id: w.id.clone(),
            name: w.name.clone(),
            heartbeat: w.heartbeat,
            presence: Arc::new(Presence::new(&w.id, w.tenant.as_str(), w.presence_every)),
        };
        let assignment = Arc::new(watch::channel(None).0);
        let session = Arc::new(Session {
            amqp_url: w.amqp_url.clone(),
            tenant: w.tenant.clone(),
            rt: rt.clone(),
            me: me.clone(),
            broker: broker.clone(),
            assignment: assignment.clone(),
            root: stop.clone(),
            fatal: Mutex::default(),
            last_failure: Mutex::default(),
        });
        let sessions = supervise("session", health.clone(), w.restarts, stop.clone(), {
            let session = session.clone();
            move |stop| session.clone().incarnation(stop)
        });
        let heartbeats = supervise("heartbeat", health, w.restarts, stop.clone(), {
            let (rt, me, broker) = (rt.clone(), me.clone(), broker.clone());
            move |stop| {
                partitions::heartbeat(
                    rt.clone(),
                    me.clone(),
                    broker.clone(),
                    assignment.clone(),
                    stop,
                )
            }
        });
        let work = async {
            tokio::join!(sessions, heartbeats);
        };
        let mut work = std::pin::pin!(work);
        tokio::select! {
            () = shutdown => {
                stop.cancel();
                work.await;
            }
            // Only when a session found the prefix taken: it cancelled `stop` itself.
            () = &mut work => {}
        }
        match tokio::time::timeout(LEAVE_TIMEOUT, rt.store.leave(&me.id)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not leave the live set; it expires on its own");
            }
            Err(_) => tracing::warn!("leaving the live set timed out; it expires on its own"),
        }
        server_stop.cancel();
        if let Some(task) = server {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the health and metrics listener failed"),
                Err(e) => tracing::warn!(error = %e, "the health and metrics listener panicked"),
            }
        }
        let fatal = session
            .fatal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match fatal {
            Some(error) => Err(error),
            None => {
                tracing::info!("worker stopped");
                Ok(())
            }
        }
    }
}
