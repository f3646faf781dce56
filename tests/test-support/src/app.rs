//! A whole splashsync system for one test: the Splashtop simulator, a receiver and a worker
//! in-process, each on port 0, with its own SQLite file, AMQP prefix and Redis prefix; the
//! broker and Redis are cleaned up afterwards, even after a panic.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_worker::store::Store;
use splashtop_sim::{SimConfig, SimHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::broker::{delete_topology, Publisher};
use crate::env::{amqp_url, install_crypto, redis_url};
use crate::workers::{ExtraWorker, RunningWorker, WorkerOptions};

/// The SCIM token test receivers accept.
pub const SCIM_TOKEN: &str = "test-scim-token-0123456789";

/// The admin token test receivers accept (admin API and console are on in tests).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A receiver running as a task.
#[derive(Debug)]
struct RunningReceiver {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningReceiver {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

/// A whole splashsync system for one test.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>/scim/v2`.
    pub scim_url: String,
    /// The simulator.
    pub sim: SimHandle,
    /// This test's topology (unique prefix, `Options::partitions` partitions).
    pub topology: Topology,
    /// An HTTP client.
    pub http: reqwest::Client,
    db_path: PathBuf,
    receiver: Option<RunningReceiver>,
    worker: Option<RunningWorker>,
    _dir: tempfile::TempDir,
}

/// Start-up options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The AMQP URL the receiver uses (through a `TcpProxy`, to take the broker away).
    pub receiver_amqp_url: String,
    /// Whether to start a worker.
    pub worker: bool,
    /// Simulator configuration.
    pub sim: SimConfig,
    /// The receiver's `SPLASHSYNC_RENAME_POLICY`.
    pub rename_policy: splashsync_receiver::directory::model::RenamePolicy,
    /// Partitions of the topology (2 unless a test needs more concurrency).
    pub partitions: u16,
    /// The receiver's `SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE` (the most, 6000, unless a
    /// test paces it).
    pub reconcile_calls_per_minute: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            receiver_amqp_url: amqp_url(),
            worker: true,
            sim: SimConfig::default(),
            rename_policy: Default::default(),
            partitions: 2,
            reconcile_calls_per_minute: 6000,
        }
    }
}

impl TestApp {
    /// Simulator, receiver and worker with default options.
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    /// Simulator, receiver and (optionally) worker.
    pub async fn spawn_with(options: Options) -> Self {
        install_crypto();
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("directory.db");
        let prefix = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let topology = Topology::new(prefix, options.partitions);
        let sim = splashtop_sim::spawn(options.sim.clone())
            .await
            .expect("simulator starts");
        let mut app = Self {
            scim_url: String::new(),
            sim,
            topology,
            http: reqwest::Client::new(),
            db_path,
            receiver: None,
            worker: None,
            _dir: dir,
        };
        app.start_receiver(&options).await;
        if options.worker {
            let main = WorkerOptions {
                retry_budget: Duration::from_secs(20),
                heartbeat: None,
                ..WorkerOptions::default()
            };
            app.worker = Some(RunningWorker::start(&app.sim, &app.topology, main).await);
        }
        app
    }

    /// Starts the receiver on this app's database with the options' AMQP URL for its relay
    /// and intake.
    async fn start_receiver(&mut self, options: &Options) {
        let amqp_url = &options.receiver_amqp_url;
        let settings = splashsync_receiver::config::Settings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: self.database_url(),
            amqp_url: amqp_url.to_string(),
            amqp_prefix: self.topology.prefix().to_string(),
            partitions: self.topology.partitions(),
            scim_token: SecretString::from(SCIM_TOKEN),
            tenant: "default".into(),
            public_url: None,
            page_size: 100,
            max_page_size: 1000,
            filter_scan_limit: 10_000,
            group_policy: Default::default(),
            rename_policy: options.rename_policy,
            admin_token: Some(SecretString::from(ADMIN_TOKEN)),
            sample_interval_secs: 1,
            log_format: splashsync_runtime::telemetry::LogFormat::Text,
            limits: Default::default(),
            // Reconciliation on demand only, against this app's simulator, fast and in
            // small pages so that a test team spans several.
            reconcile: splashsync_receiver::reconcile::settings::ReconcileSettings {
                api_url: Some(self.sim.base_url()),
                api_token: Some(SecretString::from(self.sim.token().to_string())),
                team_id: Some(self.sim.team_id().to_string()),
                interval: Duration::ZERO,
                calls_per_minute: options.reconcile_calls_per_minute,
                page_size: 3,
                ..Default::default()
            },
        };
        let app = Application::build(settings).await.expect("receiver builds");
        self.scim_url = format!("http://{}/scim/v2", app.addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.receiver = Some(RunningReceiver { stop, task });
    }

    /// Starts one more worker with the team rate limit `rate_limit_per_minute` (0: none).
    pub async fn start_extra_worker(&self, rate_limit_per_minute: u32) -> ExtraWorker {
        let options = WorkerOptions {
            rate_limit_per_minute,
            ..WorkerOptions::default()
        };
        ExtraWorker(RunningWorker::start(&self.sim, &self.topology, options).await)
    }

    /// Starts one more worker configured by `options`.
    pub async fn start_worker_with(&self, options: WorkerOptions) -> ExtraWorker {
        ExtraWorker(RunningWorker::start(&self.sim, &self.topology, options).await)
    }

    /// A link to this app's broker topology that publishes jobs past the receiver.
    pub async fn publisher(&self) -> Publisher {
        Publisher::connect(&self.topology, "splashsync-test-publisher").await
    }

    /// The receiver's directory database URL (read it alongside the running receiver).
    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.db_path.display())
    }

    /// A request to the receiver with the right token.
    pub fn scim(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.scim_url, path))
            .bearer_auth(SCIM_TOKEN)
    }

    /// `http://127.0.0.1:<port>`: the receiver's root (admin API, console, metrics).
    pub fn base_url(&self) -> String {
        self.scim_url.trim_end_matches("/scim/v2").to_string()
    }

    /// A request to the receiver's admin API (`path` under `/admin`) with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/admin{}", self.base_url(), path))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// `POST /Users` with `body`.
    pub async fn create_user(&self, body: &Value) -> reqwest::Response {
        self.scim(reqwest::Method::POST, "/Users")
            .json(body)
            .send()
            .await
            .expect("POST /Users")
    }

    /// Stops the worker and receiver, and deletes this test's queues, exchanges and Redis
    /// keys.
    pub async fn shutdown(mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        if let Some(r) = self.receiver.take() {
            r.stop().await;
        }
        clean_up(&self.topology).await;
    }
}

/// Deletes `topology`'s queues and exchanges and the workers' Redis keys under its prefix.
async fn clean_up(topology: &Topology) {
    delete_topology(topology).await;
    if let Ok(store) = Store::new(&redis_url(), topology.prefix()) {
        let _ = store.delete_all().await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked never reached `shutdown`: still leave nothing behind.
        if self.receiver.is_some() || self.worker.is_some() {
            let topology = self.topology.clone();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(clean_up(&topology));
                }
            })
            .join();
        }
    }
}
