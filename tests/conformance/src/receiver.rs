//! A real receiver, in-process, for one suite run: port 0, a fresh SQLite file (the suites
//! assert exact counts, so the directory starts empty), its own AMQP prefix with two
//! partitions. Its relay publishes to the local RabbitMQ; the prefix's queues and
//! exchanges are deleted afterwards, even when the test panics, because the broker wedges
//! after a few hundred leftover quorum queues.

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The SCIM token the receiver accepts.
pub const SCIM_TOKEN: &str = "conformance-scim-token-0123456789";

/// Partition queues of the test topology: few, they only collect the jobs nobody consumes.
const PARTITIONS: u16 = 2;

/// How long a stopping receiver may take to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The broker (override with `SPLASHSYNC_TEST_AMQP_URL`).
pub fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A running receiver. Call [`TestReceiver::shutdown`]; dropping it cleans up too.
#[derive(Debug)]
pub struct TestReceiver {
    addr: SocketAddr,
    topology: Topology,
    running: Option<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
    _dir: tempfile::TempDir,
}

impl TestReceiver {
    /// Starts a receiver on 127.0.0.1 with an empty directory.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        // `t-` is the prefix CI sweeps for leftovers of killed test processes.
        let prefix = format!(
            "t-conf-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let topology = Topology::new(prefix, PARTITIONS);
        let settings = Settings {
            listen: "127.0.0.1:0".parse()?,
            database_url: format!("sqlite://{}", dir.path().join("directory.db").display()),
            amqp_url: amqp_url(),
            amqp_prefix: topology.prefix().to_string(),
            partitions: topology.partitions(),
            scim_token: SecretString::from(SCIM_TOKEN),
            tenant: "default".into(),
            public_url: None,
            page_size: 100,
            max_page_size: 1000,
            filter_scan_limit: 10_000,
            group_policy: Default::default(),
            rename_policy: Default::default(),
            admin_token: None,
            sample_interval_secs: 15,
            log_format: splashsync_runtime::telemetry::LogFormat::Text,
            limits: Default::default(),
            reconcile: Default::default(),
        };
        let app = Application::build(settings).await?;
        let addr = app.addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            topology,
            running: Some((stop, task)),
            _dir: dir,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its AMQP prefix.
    pub fn prefix(&self) -> &str {
        self.topology.prefix()
    }

    /// Stops the receiver, then deletes its queues and exchanges (after the stop, so the
    /// relay cannot declare them again).
    pub async fn shutdown(mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
        }
        delete_topology(&self.topology).await;
    }
}

impl Drop for TestReceiver {
    fn drop(&mut self) {
        // Reached with the receiver still running only when the test panicked before
        // `shutdown`: stop it and clean up on a thread of its own, since this thread may be
        // the runtime's and cannot block on it.
        let Some((stop, task)) = self.running.take() else {
            return;
        };
        let _ = stop.send(());
        let topology = self.topology.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::time::timeout(STOP_TIMEOUT, task).await;
                    delete_topology(&topology).await;
                });
            }
        })
        .join();
    }
}

/// Deletes every queue and exchange of `topology`; reports rather than panics.
pub async fn delete_topology(topology: &Topology) {
    match splashsync_protocol::amqp::connect(&amqp_url(), "splashsync-conformance-cleanup").await {
        Ok(conn) => {
            match conn.create_channel().await {
                Ok(channel) => {
                    if let Err(e) = topology.delete(&channel).await {
                        eprintln!("deleting {}'s queues failed: {e}", topology.prefix());
                    }
                }
                Err(e) => eprintln!("no channel to delete {}'s queues: {e}", topology.prefix()),
            }
            let _ = conn.close(200, "done".into()).await;
        }
        Err(e) => eprintln!(
            "cannot reach RabbitMQ to delete {}'s queues: {e}",
            topology.prefix()
        ),
    }
}
