//! Helpers for splashsync's end-to-end tests: start the Splashtop simulator, a receiver
//! and a worker in-process, each on port 0 with its own SQLite file and its own AMQP
//! prefix, and clean the broker up afterwards.

pub mod operators;
pub mod workers;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde_json::Value;
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_worker::config::DeactivateMode;
use splashsync_worker::consumer::Worker;
use splashsync_worker::splashtop::HttpTeamApi;
use splashtop_sim::{SimConfig, SimHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The broker every test uses (override with `SPLASHSYNC_TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The SCIM token test receivers accept.
pub const SCIM_TOKEN: &str = "test-scim-token-0123456789";

/// The admin token test receivers accept (admin API and console are on in tests).
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A process-like component running in the background.
#[derive(Debug)]
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
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
    /// This test's topology (unique prefix, 2 partitions).
    pub topology: Topology,
    /// An HTTP client.
    pub http: reqwest::Client,
    db_path: PathBuf,
    receiver: Option<Running>,
    worker: Option<Running>,
    _dir: tempfile::TempDir,
}

/// Start-up options.
#[derive(Debug, Clone)]
pub struct Options {
    /// The AMQP URL the receiver's relay uses (a wrong one simulates an outage).
    pub receiver_amqp_url: String,
    /// Whether to start a worker.
    pub worker: bool,
    /// Simulator configuration.
    pub sim: SimConfig,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            receiver_amqp_url: amqp_url(),
            worker: true,
            sim: SimConfig::default(),
        }
    }
}

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
        let topology = Topology::new(prefix, 2);
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
        app.start_receiver(&options.receiver_amqp_url).await;
        if options.worker {
            app.start_worker().await;
        }
        app
    }

    /// (Re)starts the receiver on the same database with `amqp_url` for its relay.
    pub async fn start_receiver(&mut self, amqp_url: &str) {
        if let Some(r) = self.receiver.take() {
            r.stop().await;
        }
        let db = format!("sqlite://{}", self.db_path.display());
        let settings = splashsync_receiver::config::Settings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            database_url: db,
            amqp_url: amqp_url.to_string(),
            amqp_prefix: self.topology.prefix().to_string(),
            partitions: self.topology.partitions(),
            scim_token: SecretString::from(SCIM_TOKEN),
            tenant: "default".into(),
            public_url: None,
            page_size: 100,
            max_page_size: 1000,
            group_policy: Default::default(),
            admin_token: Some(SecretString::from(ADMIN_TOKEN)),
            sample_interval_secs: 1,
            log_format: splashsync_runtime::telemetry::LogFormat::Text,
        };
        let app = Application::build(settings).await.expect("receiver builds");
        self.scim_url = format!("http://{}/scim/v2", app.addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        self.receiver = Some(Running { stop, task });
    }

    /// Starts a worker against the simulator.
    pub async fn start_worker(&mut self) {
        let api = HttpTeamApi::new(
            &self.sim.base_url(),
            self.sim.team_id(),
            SecretString::from(self.sim.token().to_string()),
            Duration::from_secs(5),
        )
        .expect("client builds");
        let worker = Worker::new(
            std::sync::Arc::new(api),
            self.topology.clone(),
            amqp_url(),
            DeactivateMode::Remove,
        )
        .with_retry_budget(Duration::from_secs(20));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        self.worker = Some(Running { stop, task });
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

    /// Polls the simulator's state until `done` holds or `timeout` passes; returns the
    /// last state either way.
    pub async fn wait_for_sim(&self, timeout: Duration, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.sim.snapshot();
            if done(&state) || Instant::now() > deadline {
                return state;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the worker and receiver, and deletes this test's queues and exchanges.
    pub async fn shutdown(mut self) {
        if let Some(w) = self.worker.take() {
            w.stop().await;
        }
        if let Some(r) = self.receiver.take() {
            r.stop().await;
        }
        delete_topology(&self.topology).await;
        // The worker keeps its applied versions in Redis under the same prefix.
        if let Ok(store) = splashsync_worker::store::Store::new(
            splashsync_worker::consumer::DEFAULT_REDIS_URL,
            self.topology.prefix(),
        ) {
            let _ = store.delete_all().await;
        }
    }
}

/// Whether the simulator's team holds a user with `email`.
pub fn sim_has_user(state: &Value, email: &str) -> bool {
    state["users"].as_array().is_some_and(|users| {
        users.iter().any(|u| {
            u["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        })
    })
}

/// Deletes every queue and exchange of `topology`.
pub async fn delete_topology(topology: &Topology) {
    if let Ok(conn) =
        splashsync_protocol::amqp::connect(&amqp_url(), "splashsync-test-cleanup").await
    {
        if let Ok(channel) = conn.create_channel().await {
            if let Err(e) = topology.delete(&channel).await {
                eprintln!("cleanup of {} failed: {e}", topology.prefix());
            }
        }
        let _ = conn.close(200, "done".into()).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that panicked never reached `shutdown`: still leave no queues behind.
        if self.receiver.is_some() || self.worker.is_some() {
            let topology = self.topology.clone();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        delete_topology(&topology).await;
                        if let Ok(store) = splashsync_worker::store::Store::new(
                            splashsync_worker::consumer::DEFAULT_REDIS_URL,
                            topology.prefix(),
                        ) {
                            let _ = store.delete_all().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// A further worker on a [`TestApp`]'s topology, simulator and Redis prefix, configured
/// apart from the app's own (e.g. several workers, or no rate limit). Stop it before
/// [`TestApp::shutdown`]; dropping it stops it too, in the background.
#[derive(Debug)]
pub struct ExtraWorker(Running);

impl ExtraWorker {
    /// Graceful stop: in-flight jobs finish and are acked.
    pub async fn stop(self) {
        self.0.stop().await;
    }
}

impl TestApp {
    /// Starts one more worker with the team rate limit `rate_limit_per_minute` (0: none).
    pub fn start_extra_worker(&self, rate_limit_per_minute: u32) -> ExtraWorker {
        let api = HttpTeamApi::new(
            &self.sim.base_url(),
            self.sim.team_id(),
            SecretString::from(self.sim.token().to_string()),
            Duration::from_secs(5),
        )
        .expect("client builds");
        let worker = Worker::new(
            std::sync::Arc::new(api),
            self.topology.clone(),
            amqp_url(),
            DeactivateMode::Remove,
        )
        .with_retry_budget(Duration::from_secs(60))
        .with_rate_limit(rate_limit_per_minute)
        .with_heartbeat(Duration::from_millis(500));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        ExtraWorker(Running { stop, task })
    }
}
