//! What the worker's own integration tests share: a worker process with its log at hand,
//! queue counts, and reading the worker's HTTP endpoints.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use splashsync_protocol::topology::Topology;
use splashsync_test_support::{amqp_url, redis_url};

/// A fresh prefix for one test's queues and Redis keys.
pub(crate) fn prefix(stem: &str) -> String {
    format!(
        "{stem}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Deletes a test's queues, exchanges and Redis keys when dropped, after a panic too (the
/// broker wedges under leftover quorum queues).
#[derive(Debug)]
pub(crate) struct Cleanup(pub(crate) Topology);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let topology = self.0.clone();
        // Its own runtime on its own thread: a test's runtime cannot be blocked on.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(delete_everything(&topology));
            }
        })
        .join();
    }
}

/// Deletes every queue and exchange of `topology`, each on a fresh channel (a failed
/// delete closes its channel, and must not keep the others alive), and its Redis keys.
async fn delete_everything(topology: &Topology) {
    if let Ok(conn) = splashsync_protocol::amqp::connect(&amqp_url(), "worker-test-cleanup").await {
        let mut queues = topology.partition_queues();
        queues.extend([
            topology.dead_letter_queue(),
            topology.events_queue(),
            topology.tenant_queue(),
        ]);
        for queue in queues {
            if let Ok(channel) = conn.create_channel().await {
                let options = QueueDeleteOptions::default();
                if let Err(e) = channel.queue_delete(queue.as_str().into(), options).await {
                    eprintln!("cleanup: deleting {queue} failed: {e}");
                }
                let _ = channel.close(200, "done".into()).await;
            }
        }
        for exchange in [
            topology.jobs_exchange(),
            topology.dead_exchange(),
            topology.events_exchange(),
        ] {
            if let Ok(channel) = conn.create_channel().await {
                let options = ExchangeDeleteOptions::default();
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), options)
                    .await;
                let _ = channel.close(200, "done".into()).await;
            }
        }
        let _ = conn.close(200, "done".into()).await;
    }
    if let Ok(store) = splashsync_worker::store::Store::new(&redis_url(), topology.prefix()) {
        let _ = store.delete_all().await;
    }
}

/// A queue's ready (not delivered) messages and its consumers; `None` if it is missing.
pub(crate) async fn counts(channel: &lapin::Channel, queue: &str) -> Option<(u32, u32)> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .ok()
        .map(|q| (q.message_count(), q.consumer_count()))
}

/// `GET url`: the status and the body.
pub(crate) async fn get(url: &str) -> Result<(u16, String), String> {
    splashsync_test_support::install_crypto();
    let response = reqwest::get(url).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, body))
}

/// The real `splashsync-worker` binary, its standard output and error kept line by line.
#[derive(Debug)]
pub(crate) struct WorkerProcess {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl WorkerProcess {
    /// Starts the worker with `env` on top of a minimal environment (no inherited
    /// `SPLASHSYNC_*` setting can leak in).
    pub(crate) fn start(env: &[(&str, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_splashsync-worker"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("SPLASHSYNC_WORKER_LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("the worker binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        for out in [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let lines = lines.clone();
            readers.push(std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            }));
        }
        Self {
            child,
            lines,
            readers,
        }
    }

    /// Everything it printed so far.
    pub(crate) fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// `http://<addr>` of its health and metrics listener, once it has logged it.
    pub(crate) fn url(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        let line = lines.iter().find(|l| l.contains("metrics listening"))?;
        let addr = line.split("addr=").nth(1)?.split_whitespace().next()?;
        Some(format!("http://{addr}"))
    }

    /// Sends SIGTERM; false if it could not be sent.
    pub(crate) fn term(&self) -> bool {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits for the process to exit, at most `within`; kills it and answers `None` past
    /// that.
    pub(crate) async fn exit_within(mut self, within: Duration) -> (Option<ExitStatus>, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The readers end at the end of the output, which the exit closed.
        let readers = std::mem::take(&mut self.readers);
        let _ = tokio::task::spawn_blocking(move || {
            for reader in readers {
                let _ = reader.join();
            }
        })
        .await;
        (status, self.output())
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
