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

use std::time::{Duration, Instant};

use serde_json::json;
use splashsync_test_support::bench::{
    arg, cpu_secs, ms, num, percentile, receiver_bin, status_kib, switch, ReceiverProcess,
};
use splashsync_test_support::{eventually, PgDatabase};

#[path = "bench_receivers/kill.rs"]
mod kill;

const TOKEN: &str = "bench-receivers-token-0123456789";

/// Starts a receiver of the bench (4 partitions); `healthy()` waits until it answers.
fn spawn_receiver(
    bin: &std::path::Path,
    database_url: &str,
    prefix: &str,
) -> anyhow::Result<ReceiverProcess> {
    ReceiverProcess::spawn(bin, database_url, prefix, 4, TOKEN, &[])
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
    if switch("--kill") {
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
        running.push(
            spawn_receiver(&bin, &database_url, &prefix)?
                .healthy()
                .await,
        );
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let pids: Vec<u32> = running.iter().map(ReceiverProcess::pid).collect();
    let cpu_before: f64 = pids.iter().map(|p| cpu_secs(*p)).sum();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let client = client.clone();
        // Connections spread round robin over the receivers.
        let url = format!(
            "http://127.0.0.1:{}/scim/v2/Users",
            running[c % receivers].port()
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
    println!("  latency p50  {:.2} ms", ms(percentile(&all, 0.50)));
    println!("  latency p99  {:.2} ms", ms(percentile(&all, 0.99)));
    println!("  latency max  {:.2} ms", ms(percentile(&all, 1.0)));
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
