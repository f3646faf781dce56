//! Load benchmark of one or several receivers on one database: POST /Users with unique
//! userNames from N connections spread over the receivers for D seconds, against the
//! real receiver binary, its relay (the outbox lease holder's, on PostgreSQL) publishing
//! to the real RabbitMQ. Prints creates/s, latency percentiles, the receivers' CPU and
//! RSS, and how long the outbox took to drain after the load. It measures; it asserts
//! nothing.
//!
//! ```text
//! cargo build --release -p splashsync-receiver -p splashsync-tests --bins
//! target/release/bench-receivers --engine sqlite                   # one receiver, SQLite
//! target/release/bench-receivers --engine postgres --receivers 1   # PostgreSQL
//! target/release/bench-receivers --engine postgres --receivers 3
//! target/release/bench-receivers --engine postgres --receivers 3 --kill   # failover
//! ```
//! (`--connections 64 --seconds 10` by default; PostgreSQL at `SPLASHSYNC_TEST_PG_URL`,
//! default `postgres://postgres@127.0.0.1:5432`, in a fresh database dropped afterwards;
//! `--receiver PATH` runs that receiver binary instead of the one next to this one.)
//! `--kill`: `kill -9` of the lease holder half-way, timed and checked (`kill.rs`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use splashsync_test_support::{eventually, PgDatabase};

#[path = "bench_receivers/kill.rs"]
mod kill;

const TOKEN: &str = "bench-receivers-token-0123456789";

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn num(name: &str, default: u64) -> u64 {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A /proc/<pid>/status field in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
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

/// CPU seconds (user + system) the process has used.
fn cpu_secs(pid: u32) -> f64 {
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

struct Receiver(Child);

impl Receiver {
    /// SIGKILL, and reaped.
    fn kill_now(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill_now();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let i = ((last as f64) * p).round() as usize;
    sorted[i.min(last)].as_secs_f64() * 1000.0
}

/// The receiver binary: `--receiver PATH`, or the one next to this binary.
fn receiver_bin() -> anyhow::Result<std::path::PathBuf> {
    match arg("--receiver") {
        Some(path) => Ok(path.into()),
        None => Ok(std::env::current_exe()?.with_file_name("splashsync-receiver")),
    }
}

fn spawn_receiver(
    bin: &std::path::Path,
    database_url: &str,
    prefix: &str,
) -> anyhow::Result<(Receiver, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(bin)
        .env("SPLASHSYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env("SPLASHSYNC_DATABASE_URL", database_url)
        .env("SPLASHSYNC_AMQP_URL", splashsync_test_support::amqp_url())
        .env("SPLASHSYNC_AMQP_PREFIX", prefix)
        .env("SPLASHSYNC_PARTITIONS", "4")
        .env("SPLASHSYNC_SCIM_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start {}: {e} (build it with --release first)",
                bin.display()
            )
        })?;
    Ok((Receiver(child), port))
}

/// Waits until the receiver on `port` answers `/healthz`.
async fn wait_healthy(port: u16) {
    let client = reqwest::Client::new();
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    eventually(Duration::from_secs(30), "the receiver to start", || async {
        client.get(&healthz).send().await.map(drop)
    })
    .await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let engine = arg("--engine").unwrap_or_else(|| "postgres".into());
    let receivers = num("--receivers", 1).max(1) as usize;
    let connections = num("--connections", 64) as usize;
    let seconds = num("--seconds", 10);
    splashsync_test_support::install_crypto();
    let dir = tempfile::tempdir()?;
    let (database_url, pg) = match engine.as_str() {
        "sqlite" if receivers == 1 => (
            format!("sqlite://{}", dir.path().join("bench.db").display()),
            None,
        ),
        "sqlite" => anyhow::bail!("SQLite serves one receiver: use --engine postgres for several"),
        "postgres" => {
            let db = PgDatabase::create().await;
            (db.url(), Some(db))
        }
        other => anyhow::bail!("--engine {other}: use sqlite or postgres"),
    };
    let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let bin = receiver_bin()?;
    if std::env::args().any(|a| a == "--kill") {
        anyhow::ensure!(pg.is_some(), "--kill measures the PostgreSQL outbox lease");
        let topology = splashsync_protocol::topology::Topology::new(prefix, 4);
        let outcome = kill::run(kill::KillRun {
            bin: &bin,
            database_url: &database_url,
            topology: &topology,
            receivers,
            connections,
            seconds,
        })
        .await;
        splashsync_test_support::delete_topology(&topology).await;
        drop(pg);
        return outcome;
    }
    let mut running = Vec::new();
    for _ in 0..receivers {
        running.push(spawn_receiver(&bin, &database_url, &prefix)?);
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    for (_, port) in &running {
        wait_healthy(*port).await;
    }
    let pids: Vec<u32> = running.iter().map(|(r, _)| r.0.id()).collect();
    let cpu_before: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        // Connections spread round robin over the receivers.
        let url = format!(
            "http://127.0.0.1:{}/scim/v2/Users",
            running[c % receivers].1
        );
        let run_id = run_id.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors, mut i) = (Vec::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                i += 1;
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("u{c}-{i}-{run_id}@bench.example.com"),
                    "name": {"givenName": "Bench", "familyName": format!("User{i}")},
                    "emails": [{"primary": true, "type": "work", "value": format!("u{c}-{i}@bench.example.com")}],
                    "displayName": "Bench User", "active": true, "password": "random-okta-password"
                });
                let t = Instant::now();
                match client.post(&url).bearer_auth(TOKEN).json(&body).send().await {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let loaded = Instant::now();
    let cpu = pids.iter().map(|p| cpu_secs(*p)).sum::<f64>() - cpu_before;
    all.sort();
    println!("POST /Users, {connections} connections over {receivers} receiver(s), {seconds} s, {engine}, relay to RabbitMQ");
    println!("  created      {}", all.len());
    println!("  errors       {errors}");
    println!(
        "  throughput   {:.0} creates/s",
        all.len() as f64 / seconds as f64
    );
    println!("  latency p50  {:.2} ms", percentile(&all, 0.50));
    println!("  latency p99  {:.2} ms", percentile(&all, 0.99));
    println!("  latency max  {:.2} ms", percentile(&all, 1.0));
    println!(
        "  receivers' CPU {cpu:.1} s ({:.0} µs per create, relay included)",
        cpu * 1e6 / all.len().max(1) as f64
    );
    for pid in &pids {
        println!(
            "  receiver {pid} peak RSS {} MiB",
            status_kib(*pid, "VmHWM:") / 1024
        );
    }
    if let Some(db) = &pg {
        let pool = sqlx::PgPool::connect(&db.url()).await?;
        eventually(Duration::from_secs(120), "the outbox to drain", || {
            let pool = pool.clone();
            async move {
                let pending = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL",
                )
                .fetch_one(&pool)
                .await;
                matches!(pending, Ok(0))
            }
        })
        .await;
        println!(
            "  outbox drained {:.2} s after the load",
            loaded.elapsed().as_secs_f64()
        );
        pool.close().await;
    }
    drop(running);
    splashsync_test_support::delete_topology(&splashsync_protocol::topology::Topology::new(
        prefix, 4,
    ))
    .await;
    drop(pg);
    Ok(())
}
