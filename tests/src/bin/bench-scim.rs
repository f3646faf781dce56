//! Load benchmark of the receiver: POST /Users with unique userNames from N concurrent
//! connections for D seconds, against the real receiver binary (SQLite, synchronous=FULL)
//! with its relay publishing to the real RabbitMQ. Prints req/s, latency percentiles and
//! the receiver's peak RSS. It measures; it asserts nothing.
//!
//! ```text
//! cargo build --release -p splashsync-receiver -p splashsync-tests --bins
//! target/release/bench-scim [--connections 64] [--seconds 10] [--phases creates,groups]
//!     [--receiver PATH] [--callgrind DIR]
//! ```
//!
//! `--receiver` runs another build of the receiver (a baseline, beside this one in the
//! same minutes). `--callgrind DIR` runs the receiver under valgrind's callgrind with
//! instrumentation off until each phase starts, dumps one profile per phase into `DIR`
//! and prints its instruction count per request: stable on a busy machine, where the
//! wall-clock figures are not (`callgrind_annotate DIR/callgrind.out.*` shows where).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use splashsync_test_support::eventually;

#[path = "bench_scim/callgrind.rs"]
mod callgrind;
use callgrind::Callgrind;

const TOKEN: &str = "bench-scim-token-0123456789";

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used, from /proc.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name; 100 Hz.
    (ticks(11) + ticks(12)) / 100.0
}

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// PATCH group membership, 100 members per request: each connection owns a group and
/// 100 users, and alternates adding and removing all 100 in one PATCH.
async fn group_patch_phase(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    seconds: u64,
    callgrind: Option<&Callgrind>,
) -> anyhow::Result<()> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut setups = Vec::new();
    for c in 0..connections {
        let mut members = Vec::new();
        for i in 0..100 {
            let r = client
                .post(format!("{base}/Users"))
                .bearer_auth(TOKEN)
                .json(&json!({"userName": format!("g{c}-{i}-{run}@bench.example.com"), "active": true}))
                .send()
                .await?;
            let body: serde_json::Value = r.json().await?;
            members.push(json!({"value": body["id"]}));
        }
        let r = client
            .post(format!("{base}/Groups"))
            .bearer_auth(TOKEN)
            .json(&json!({"displayName": format!("bench-{c}-{run}")}))
            .send()
            .await?;
        let body: serde_json::Value = r.json().await?;
        let id = body["id"].as_str().unwrap_or_default().to_string();
        setups.push((id, members));
    }
    if let Some(cg) = callgrind {
        cg.start()?;
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (group, members) in setups {
        let client = client.clone();
        let url = format!("{base}/Groups/{group}");
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut add = true;
            while Instant::now() < deadline {
                let op = if add {
                    json!({"op": "add", "path": "members", "value": members})
                } else {
                    json!({"op": "remove", "path": "members", "value": members})
                };
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [op]});
                let t = Instant::now();
                match client.patch(&url).bearer_auth(TOKEN).json(&body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
                add = !add;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    all.sort();
    println!(
        "PATCH /Groups/{{id}} with 100 member changes, {connections} connections, {seconds} s"
    );
    if let Some(cg) = callgrind {
        cg.finish("groups", all.len())?;
    }
    println!(
        "  patches      {} ({} member changes, {} user jobs written)",
        all.len(),
        all.len() * 100,
        all.len() * 100
    );
    println!("  errors       {errors}");
    println!(
        "  throughput   {:.0} patches/s",
        all.len() as f64 / seconds as f64
    );
    println!(
        "  latency p50  {:.2} ms",
        percentile(&all, 0.50).as_secs_f64() * 1000.0
    );
    println!(
        "  latency p99  {:.2} ms",
        percentile(&all, 0.99).as_secs_f64() * 1000.0
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let connections = arg("--connections", 64) as usize;
    let seconds = arg("--seconds", 10);
    let phases = arg_str("--phases").unwrap_or_else(|| "creates,groups".into());
    let callgrind_dir = arg_str("--callgrind").map(std::path::PathBuf::from);
    splashsync_test_support::install_crypto();
    let dir = tempfile::tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let bin = match arg_str("--receiver") {
        Some(path) => path.into(),
        None => std::env::current_exe()?.with_file_name("splashsync-receiver"),
    };
    let mut command = match &callgrind_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let mut c = Command::new("valgrind");
            c.arg("--tool=callgrind")
                .arg("--instr-atstart=no")
                .arg(format!(
                    "--callgrind-out-file={}/callgrind.out.%p",
                    dir.display()
                ))
                .arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let child = command
        .env("SPLASHSYNC_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "SPLASHSYNC_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        )
        .env("SPLASHSYNC_AMQP_URL", splashsync_test_support::amqp_url())
        .env("SPLASHSYNC_AMQP_PREFIX", &prefix)
        .env("SPLASHSYNC_PARTITIONS", "4")
        .env("SPLASHSYNC_SCIM_TOKEN", TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(if callgrind_dir.is_some() {
            Stdio::null()
        } else {
            Stdio::inherit()
        })
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot start {}: {e} (build it with --release first)",
                bin.display()
            )
        })?;
    let receiver = Receiver(child);
    let pid = receiver.0.id();
    let callgrind = callgrind_dir.map(|dir| Callgrind { dir, pid });
    let base = format!("http://127.0.0.1:{port}/scim/v2");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    eventually(
        Duration::from_secs(120),
        "the receiver to start",
        || async { client.get(&healthz).send().await.map(drop) },
    )
    .await;

    if phases.contains("creates") {
        creates_phase(
            &client,
            &base,
            pid,
            connections,
            seconds,
            callgrind.as_ref(),
        )
        .await?;
    }
    if phases.contains("groups") {
        group_patch_phase(
            &client,
            &base,
            connections.min(16),
            seconds,
            callgrind.as_ref(),
        )
        .await?;
        println!(
            "  receiver peak RSS after both phases {} MiB",
            rss_kib(pid) / 1024
        );
    }
    drop(receiver);
    splashsync_test_support::delete_topology(&splashsync_protocol::topology::Topology::new(
        prefix, 4,
    ))
    .await;
    Ok(())
}

/// POST /Users with unique userNames from `connections` connections for `seconds`.
async fn creates_phase(
    client: &reqwest::Client,
    base: &str,
    pid: u32,
    connections: usize,
    seconds: u64,
    callgrind: Option<&Callgrind>,
) -> anyhow::Result<()> {
    if let Some(cg) = callgrind {
        cg.start()?;
    }
    let cpu_before = cpu_secs(pid);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        let url = format!("{base}/Users");
        let run_id = run_id.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut i = 0u64;
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
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    // The relay's work for these creates is part of their cost: wait until it published
    // them all before reading the CPU clock.
    let ended = Instant::now();
    let metrics = format!("{}/metrics", base.trim_end_matches("/scim/v2"));
    eventually(
        Duration::from_secs(600),
        "the relay to drain the outbox",
        || async {
            let text = client.get(&metrics).send().await?.text().await?;
            let pending = text
                .lines()
                .find_map(|l| l.strip_prefix("splashsync_outbox_pending_jobs "))
                .unwrap_or("?")
                .trim()
                .to_string();
            if pending == "0" {
                Ok(())
            } else {
                Err(anyhow::anyhow!("{pending} jobs pending"))
            }
        },
    )
    .await;
    let drained = ended.elapsed();
    let elapsed = seconds as f64;
    let cpu = cpu_secs(pid) - cpu_before;
    all.sort();
    println!("POST /Users, {connections} connections, {seconds} s, SQLite synchronous=FULL, relay to RabbitMQ");
    println!("  created      {}", all.len());
    println!("  errors       {errors}");
    println!("  throughput   {:.0} creates/s", all.len() as f64 / elapsed);
    println!(
        "  latency p50  {:.2} ms",
        percentile(&all, 0.50).as_secs_f64() * 1000.0
    );
    println!(
        "  latency p99  {:.2} ms",
        percentile(&all, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "  latency max  {:.2} ms",
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
    println!(
        "  outbox drained {} ms after the last answer",
        drained.as_millis()
    );
    println!(
        "  receiver CPU {:.1} s ({:.0} µs per create, relay included)",
        cpu,
        cpu * 1e6 / all.len().max(1) as f64
    );
    println!("  receiver peak RSS {} MiB", rss_kib(pid) / 1024);
    if let Some(cg) = callgrind {
        cg.finish("creates", all.len())?;
    }
    Ok(())
}
