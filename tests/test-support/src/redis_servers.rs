//! Private Redis servers and sentinels, for the tests that flush, lose or fail over a Redis
//! (never the shared one): each `redis-server` on a free loopback port, in its own
//! directory, without persistence, killed (`SIGKILL`) when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::poll::eventually;

/// One `redis-server` process (a server or a sentinel) this test started.
#[derive(Debug)]
pub struct RedisProcess {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisProcess {
    /// A master on a free port.
    pub async fn master() -> Self {
        Self::spawn(&[]).await
    }

    /// A replica of the server at `master` (`127.0.0.1:<port>`; a proxy, to cut the link).
    pub async fn replica_of(master: u16) -> Self {
        Self::spawn(&["--replicaof", "127.0.0.1", &master.to_string()]).await
    }

    /// A sentinel monitoring `master` as `service`, quorum 1, that calls a master down
    /// after a second without answers.
    pub async fn sentinel(master: u16, service: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {dir}\n\
             sentinel monitor {service} 127.0.0.1 {master} 1\n\
             sentinel down-after-milliseconds {service} 1000\n\
             sentinel failover-timeout {service} 10000\n",
            dir = dir.path().display()
        );
        std::fs::write(&conf, text).expect("sentinel.conf written");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel starts");
        Self::answering(child, port, dir).await
    }

    async fn spawn(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        Self::answering(child, port, dir).await
    }

    /// The process started as `child`, once it answers on `port`.
    async fn answering(child: Child, port: u16, dir: tempfile::TempDir) -> Self {
        let process = Self {
            child,
            port,
            _dir: dir,
        };
        eventually(Duration::from_secs(10), "redis-server answers", || async {
            process.cmd::<String>(&redis::cmd("PING")).await.is_ok()
        })
        .await;
        process
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command on it.
    pub async fn cmd<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        cmd.query_async(&mut conn).await
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
