//! Starting in-process workers against a simulator and one test's topology, and stopping
//! them gracefully (SIGTERM) or not at all (`kill -9`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use splashsync_protocol::topology::Topology;
use splashsync_worker::config::DeactivateMode;
use splashsync_worker::consumer::Worker;
use splashsync_worker::floors::AdminFloors;
use splashsync_worker::splashtop::HttpTeamApi;
use splashtop_sim::SimHandle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::env::{amqp_url, redis_url};

/// How a test worker is set up.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Team rate limit in calls per minute (0: unlimited).
    pub rate_limit_per_minute: u32,
    /// The part of that limit left to the receiver's reconciler (0: none).
    pub reconcile_reserve_per_minute: u32,
    /// Retry budget per job.
    pub retry_budget: Duration,
    /// Deactivation mode.
    pub mode: DeactivateMode,
    /// Where to serve `/healthz`, `/readyz` and `/metrics` (`None`: nowhere).
    pub listen: Option<SocketAddr>,
    /// The broker this worker uses instead of the test broker (a wrong one simulates an outage).
    pub amqp_url: Option<String>,
    /// How often it heartbeats (`None`: the worker's default).
    pub heartbeat: Option<Duration>,
    /// Coalescing (`SPLASHSYNC_COALESCE`): on unless a test compares without it.
    pub coalesce: bool,
    /// Each partition consumer's prefetch (`None`: the worker's default).
    pub prefetch: Option<u16>,
    /// How long a partition's window may hold a job (`None`: the worker's default).
    pub window_hold: Option<Duration>,
    /// The Redis this worker uses instead of the test Redis (a private server, or a
    /// `redis+sentinel://` URL).
    pub redis_url: Option<String>,
    /// The receiver (base URL, admin token) whose directory it checks jobs committed
    /// before a Redis loss against (`None`: none).
    pub floors: Option<(String, String)>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: 0,
            reconcile_reserve_per_minute: 0,
            retry_budget: Duration::from_secs(60),
            mode: DeactivateMode::Remove,
            listen: None,
            amqp_url: None,
            // Fast, so that workers joining and leaving rebalance within a test's patience.
            heartbeat: Some(Duration::from_millis(500)),
            coalesce: true,
            prefetch: None,
            window_hold: None,
            redis_url: None,
            floors: None,
        }
    }
}

/// A worker running as a task.
#[derive(Debug)]
pub(crate) struct RunningWorker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
    /// Its health and metrics listener, if it has one.
    pub(crate) addr: Option<SocketAddr>,
}

impl RunningWorker {
    /// Starts a worker on `topology` against `sim`, its Redis state under the topology's
    /// prefix.
    pub(crate) async fn start(
        sim: &SimHandle,
        topology: &Topology,
        options: WorkerOptions,
    ) -> Self {
        let api = HttpTeamApi::new(
            &sim.base_url(),
            sim.team_id(),
            SecretString::from(sim.token().to_string()),
            Duration::from_secs(5),
        )
        .expect("client builds");
        let mut worker = Worker::new(
            Arc::new(api),
            topology.clone(),
            options.amqp_url.unwrap_or_else(amqp_url),
            options.mode,
        )
        .with_redis(
            options.redis_url.as_deref().unwrap_or(&redis_url()),
            topology.prefix(),
        )
        .with_retry_budget(options.retry_budget)
        .with_rate_limit(options.rate_limit_per_minute)
        .with_reconcile_reserve(options.reconcile_reserve_per_minute)
        .with_coalesce(options.coalesce);
        if let Some(hold) = options.window_hold {
            worker = worker.with_window_hold(hold);
        }
        if let Some(prefetch) = options.prefetch {
            worker = worker.with_prefetch(prefetch);
        }
        if let Some(every) = options.heartbeat {
            worker = worker.with_heartbeat(every);
        }
        if let Some((url, token)) = options.floors {
            let floors = AdminFloors::new(&url, SecretString::from(token)).expect("client builds");
            worker = worker.with_floors(Arc::new(floors));
        }
        if let Some(listen) = options.listen {
            worker = worker.with_listen(listen);
        }
        let worker = worker.bind().await.expect("worker listener binds");
        let addr = worker.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        Self { stop, task, addr }
    }

    /// SIGTERM: the worker finishes its in-flight jobs, acks them and closes.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(60), self.task).await;
    }

    /// `kill -9`: the task is aborted mid-job; nothing is acked any more, its connection
    /// drops (RabbitMQ requeues its unacked jobs) and its heartbeat lapses.
    pub(crate) async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Aborts the task without waiting (for `Drop`).
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

/// A further worker on a `TestApp`'s topology, simulator and Redis prefix, configured apart
/// from the app's own. Stop it before `TestApp::shutdown`; dropping it stops it too, in
/// the background.
#[derive(Debug)]
pub struct ExtraWorker(pub(crate) RunningWorker);

impl ExtraWorker {
    /// `http://<addr>` of its health and metrics listener, if it has one.
    pub fn url(&self) -> Option<String> {
        self.0.addr.map(|addr| format!("http://{addr}"))
    }

    /// Graceful stop: in-flight jobs finish and are acked.
    pub async fn stop(self) {
        self.0.stop().await;
    }
}
