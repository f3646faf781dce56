//! End-to-end latency, SCIM 201 → applied in the simulated Splashtop team: prints
//! figures, asserts nothing about speed.
//!
//! `cargo bench -p splashsync-tests --bench e2e_latency` (needs RabbitMQ and Redis).
//! The system is idle: simulator latency 0 and no faults, one worker without a rate
//! limit, the test harness's partitions (2).
//! 1. Sequential: N users created one at a time, each awaited in the simulator before
//!    the next; latency from the 201 to the simulator's log recording the invite.
//! 2. Burst: B creates from C concurrent connections; time to the last applied and the
//!    drain rate.
//!
//! `E2E_N`, `E2E_BURST` and `E2E_CONNECTIONS` override 200, 1000 and 32.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use splashsync_test_support::{Options, ScimUser, TestApp, SCIM_TOKEN};
use splashtop_sim::SimConfig;

const MS: Duration = Duration::from_millis(1);

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn user(email: &str) -> Value {
    ScimUser::new(email)
        .name("Bench", "User")
        .work_email(email)
        .active(true)
        .json()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The value at quantile `q` of sorted `values` (nearest rank).
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(label: &str, mut values: Vec<Duration>) {
    values.sort();
    println!(
        "{label}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        values.len(),
        ms(quantile(&values, 0.50)),
        ms(quantile(&values, 0.99)),
        ms(values[values.len() - 1]),
    );
}

/// Waits (polls of the simulator's log length every `every`) until `target` operations
/// are applied; false if `timeout` passed first.
async fn applied(app: &TestApp, target: usize, timeout: Duration, every: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while app.sim.log().len() < target {
        if Instant::now() > deadline {
            return false;
        }
        // Not `eventually`: this loop is the stopwatch. Its step (1 ms in the sequential
        // phase) bounds the error of every latency printed, and a miss is reported, not
        // fatal.
        tokio::time::sleep(every).await;
    }
    true
}

async fn sequential(app: &TestApp, n: usize) {
    let (mut request, mut e2e) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let before = app.sim.log().len();
        let sent = Instant::now();
        let response = app.create_user(&user(&format!("seq{i}@example.com"))).await;
        let accepted = Instant::now();
        assert_eq!(response.status(), 201, "create {i}");
        if !applied(app, before + 1, Duration::from_secs(60), MS).await {
            println!("user {i} not applied within 60 s; stopping");
            break;
        }
        request.push(accepted - sent);
        e2e.push(accepted.elapsed());
    }
    summary("POST /Users round trip (to the 201)", request);
    summary("201 -> applied in the simulator", e2e);
}

async fn burst(app: &TestApp, total: usize, connections: usize) {
    let before = app.sim.log().len();
    let url = format!("{}/Users", app.scim_url);
    let start = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        // One client per task, each with at most one connection: C connections in all.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .build()
            .expect("client");
        let (url, next) = (url.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    return;
                }
                let response = http
                    .post(&url)
                    .bearer_auth(SCIM_TOKEN)
                    .json(&user(&format!("burst{i}@example.com")))
                    .send()
                    .await
                    .expect("POST /Users");
                assert_eq!(response.status(), 201, "burst create {i}");
            }
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let accepted = start.elapsed();
    let at_accept = app.sim.log().len() - before;
    let done = applied(app, before + total, Duration::from_secs(600), 5 * MS).await;
    let last = start.elapsed();
    let count = app.sim.log().len() - before;
    println!(
        "burst of {total} creates over {connections} connections: all 201s after {:.0} ms \
         ({:.0} creates/s), {at_accept} applied by then",
        ms(accepted),
        total as f64 / accepted.as_secs_f64()
    );
    if !done {
        println!("only {count} of {total} applied within 600 s");
    }
    println!(
        "last applied {:.0} ms after the first request: drain rate {:.0} users/s overall, \
         {:.0} users/s after the last 201",
        ms(last),
        count as f64 / last.as_secs_f64(),
        (count - at_accept) as f64 / (last - accepted).as_secs_f64().max(1e-3)
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = env_or("E2E_N", 200);
    let total = env_or("E2E_BURST", 1000);
    let connections = env_or("E2E_CONNECTIONS", 32);
    let options = Options {
        worker: false,
        sim: SimConfig::default(),
        ..Options::default()
    };
    let app = TestApp::spawn_with(options).await;
    let worker = app.start_extra_worker(0).await;
    println!(
        "== idle system: simulator latency 0, no faults, 1 worker (no rate limit), {} partitions ==",
        app.topology.partitions()
    );
    // Warm-up: connections, the worker's partitions and the first group lookups.
    app.create_user(&user("warmup@example.com")).await;
    if !applied(&app, 1, Duration::from_secs(60), MS).await {
        println!("the warm-up user was not applied within 60 s");
    }
    sequential(&app, n).await;
    burst(&app, total, connections).await;
    worker.stop().await;
    app.shutdown().await;
}
