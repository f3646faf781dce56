//! What the benchmark binaries (`tests/src/bin/bench-*`) share: their flags, the receiver
//! binary started as a child process with the bench's settings, and what `/proc` says of it.
//! Benchmarks measure and print; nothing here asserts a speed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::eventually;

/// The value after `--name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    args.position(|a| a == name)?;
    args.next()
}

/// A numeric flag, or `default` when absent or not a number.
pub fn num(name: &str, default: u64) -> u64 {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Whether a bare `--name` switch is on the command line.
pub fn switch(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// A `/proc/<pid>/status` field (`VmRSS:`, `VmHWM:`, …) in KiB; 0 once the process is gone.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used; 0 once it is gone.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime and stime: fields 14 and 15, the 12th and 13th after the command; 100 Hz.
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) / 100.0
}

/// The `p` quantile (0.0–1.0) of sorted latencies; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let Some(last) = sorted.len().checked_sub(1) else {
        return Duration::ZERO;
    };
    let i = ((last as f64) * p).round() as usize;
    sorted[i.min(last)]
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The receiver binary: `--receiver PATH`, or the `splashsync-receiver` built beside this
/// benchmark.
pub fn receiver_bin() -> anyhow::Result<PathBuf> {
    match arg("--receiver") {
        Some(path) => Ok(path.into()),
        None => Ok(std::env::current_exe()?.with_file_name("splashsync-receiver")),
    }
}

/// A port free at the moment of asking, for a child process to listen on.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A receiver process started by a benchmark, killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct ReceiverProcess {
    child: Child,
    port: u16,
}

impl ReceiverProcess {
    /// Starts `bin` on a free port of 127.0.0.1 with the database, AMQP prefix, partition
    /// count and SCIM token given, the test broker, `RUST_LOG=warn`, and any `extra`
    /// variables; stdout discarded.
    pub fn spawn(
        bin: &Path,
        database_url: &str,
        prefix: &str,
        partitions: u16,
        token: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new(bin);
        command
            .env("SPLASHSYNC_LISTEN", format!("127.0.0.1:{port}"))
            .env("SPLASHSYNC_DATABASE_URL", database_url)
            .env("SPLASHSYNC_AMQP_URL", crate::amqp_url())
            .env("SPLASHSYNC_AMQP_PREFIX", prefix)
            .env("SPLASHSYNC_PARTITIONS", partitions.to_string())
            .env("SPLASHSYNC_SCIM_TOKEN", token)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null());
        for (name, value) in extra {
            command.env(name, value);
        }
        let child = command.spawn().map_err(|e| {
            anyhow::anyhow!(
                "cannot start {}: {e} (build it first, with --release for release figures)",
                bin.display()
            )
        })?;
        Ok(Self { child, port })
    }

    /// Waits (up to a minute) until it answers `/healthz`.
    pub async fn healthy(self) -> Self {
        let client = reqwest::Client::new();
        let healthz = format!("{}/healthz", self.base());
        eventually(Duration::from_secs(60), "the receiver to start", || async {
            client.get(&healthz).send().await.map(drop)
        })
        .await;
        self
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reaped.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_sorted_latencies() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&sorted, 1.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn this_process_has_a_resident_size_and_a_gone_one_has_none() {
        assert!(status_kib(std::process::id(), "VmRSS:") > 0);
        assert_eq!(status_kib(u32::MAX, "VmRSS:"), 0);
        assert_eq!(cpu_secs(u32::MAX), 0.0);
    }
}
