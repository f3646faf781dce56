//! Worker throughput: prints figures, asserts nothing about speed.
//!
//! `cargo bench -p splashsync-tests --bench worker_bench` (needs RabbitMQ and Redis).
//! 1. Simulator latency 20 ms, no rate limit: jobs applied per second with 32
//!    partitions and 1, 2, 4 worker instances (in-process).
//! 2. A rate limit of R calls/s on both sides: drain rate of calls and the 429 count.

use std::time::{Duration, Instant};

use splashsync_test_support::{sim_reaches, user_job, users_in, Cluster, UserSpec, WorkerOptions};
use splashtop_sim::{Faults, SimConfig};

fn spec() -> UserSpec {
    UserSpec::active("Bench")
}

/// Queues `jobs` user creations, starts the workers, and times the drain from the
/// first applied job to the last.
async fn drain(
    workers: usize,
    jobs: usize,
    faults: Faults,
    per_minute: u32,
) -> (f64, serde_json::Value) {
    let sim = SimConfig {
        faults,
        ..SimConfig::default()
    };
    let mut cluster = Cluster::new(sim, 32).await;
    // The backlog is queued first, so the figure is the workers' drain rate, not the
    // publisher's rate.
    for n in 0..jobs {
        cluster.publish(&user_job(n, 1, spec())).await;
    }
    for _ in 0..workers {
        cluster
            .start_worker(WorkerOptions {
                rate_limit_per_minute: per_minute,
                retry_budget: Duration::from_secs(300),
                ..WorkerOptions::default()
            })
            .await;
    }
    sim_reaches(
        &cluster.sim,
        Duration::from_secs(600),
        "the first job",
        |s| users_in(s) >= 1,
    )
    .await;
    let start = Instant::now();
    sim_reaches(
        &cluster.sim,
        Duration::from_secs(900),
        "the bench draining everything",
        |s| users_in(s) >= jobs,
    )
    .await;
    let secs = start.elapsed().as_secs_f64();
    let stats = cluster.sim.stats();
    cluster.shutdown().await;
    (
        f64::from(u32::try_from(jobs - 1).unwrap_or(u32::MAX)) / secs,
        stats,
    )
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let latency = Faults {
        latency_ms: 20,
        ..Faults::default()
    };
    println!("== 32 partitions, simulator latency 20 ms, no rate limit (2 calls per job) ==");
    for workers in [1usize, 2, 4] {
        let (rate, stats) = drain(workers, 2000, latency.clone(), 0).await;
        println!(
            "workers={workers}: {rate:.0} jobs/s ({:.0} calls/s), sim requests={}",
            rate * 2.0,
            stats["requests"]
        );
    }
    let r_per_sec: u32 = std::env::var("BENCH_RATE_PER_SEC")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let limited = Faults {
        latency_ms: 20,
        rate_limit_per_minute: r_per_sec * 60,
        ..Faults::default()
    };
    println!("== rate limit R={r_per_sec} calls/s on both sides, 2 workers ==");
    // Enough jobs to run past the simulator's first 60 s window.
    let jobs = usize::try_from(r_per_sec * 45).unwrap_or(900);
    let (rate, stats) = drain(2, jobs, limited, r_per_sec * 60).await;
    let calls = rate * 2.0;
    println!(
        "drain: {rate:.2} jobs/s = {calls:.2} calls/s = {:.1}% of R; 429s: {}",
        100.0 * calls / f64::from(r_per_sec),
        stats["rejected_rate_limited"]
    );
}
