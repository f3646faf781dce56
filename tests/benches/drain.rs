//! `drain`: how many Splashtop calls a burst of SCIM changes costs, and how fast it drains
//! at a rate limit. Prints figures, asserts nothing about speed.
//!
//! `cargo bench -p splashsync-tests --bench drain` (needs RabbitMQ and Redis). The real
//! receiver, RabbitMQ, Redis, **2 in-process workers** (each its own `Worker`, sharing the
//! team's limit through Redis as separate processes do) and the simulator enforcing a
//! rate limit of `DRAIN_RATE` calls per minute (default 6,000, so a run is short; the
//! workers are configured with the same limit), `DRAIN_PARTITIONS` partitions (32).
//! 1. The onboarding mix: 100 creates, a group of 50 of them, 30 name changes, 20
//!    deactivations (201 changes).
//! 2. With `DRAIN_10K=1`: a 10,000-user onboarding: 10,000 creates, 200 groups of 50
//!    members, 2,000 name changes, 1,000 deactivations.
//!
//! For each: Splashtop calls per change (reads and writes apart, and the calls by kind),
//! mirror misses, coalesced jobs (superseded, when the worker reports them), time to
//! drain, the share of the rate limit used, 429s, and the time the same calls take at 200
//! calls per minute.
//!
//! Meanwhile the receiver reconciles, dry runs back to back, paced at
//! `DRAIN_RECONCILE_RATE` calls per minute (default a twentieth of the limit, as 10 is of
//! 200; 0: no reconciliation), a share the workers reserve: the 429s show whether the
//! workers and the reconciler together stay within the limit.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_test_support::{patch_op, ExtraWorker, Options, ScimUser, TestApp, WorkerOptions};
use splashtop_sim::{Faults, SimConfig};

#[path = "drain/reconcile.rs"]
mod reconcile;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One workload: its name and the SCIM requests of each step (a step's requests go out
/// concurrently; the steps one after the other).
struct Workload {
    name: String,
    users: usize,
    groups: usize,
    members: usize,
    renames: usize,
    deactivations: usize,
}

impl Workload {
    fn changes(&self) -> usize {
        self.users + self.groups * (1 + self.members) + self.renames + self.deactivations
    }
}

fn email(run: &str, i: usize) -> String {
    format!("{run}-{i:05}@example.com")
}

/// Sends `requests` (method, path, body) over `connections` concurrent connections;
/// returns how many answers were not 2xx, and the `id` each answer names, by request.
async fn send_all(
    app: &TestApp,
    requests: Vec<(Method, String, Value)>,
    connections: usize,
) -> (usize, Vec<Option<String>>) {
    let total = requests.len();
    let requests: Vec<(usize, (Method, String, Value))> =
        requests.into_iter().enumerate().collect();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(requests));
    let ids = std::sync::Arc::new(std::sync::Mutex::new(vec![None; total]));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let requests = requests.clone();
        let ids = ids.clone();
        let builder = {
            let http = app.http.clone();
            let base = app.scim_url.clone();
            move |method: Method, path: &str| {
                http.request(method, format!("{base}{path}"))
                    .bearer_auth(splashsync_test_support::SCIM_TOKEN)
            }
        };
        tasks.push(tokio::spawn(async move {
            let mut failed = 0;
            loop {
                let next = requests.lock().map(|mut r| r.pop()).unwrap_or(None);
                let Some((i, (method, path, body))) = next else {
                    return failed;
                };
                let answer = builder(method, &path).json(&body).send().await;
                let answer = match answer {
                    Ok(r) if r.status().is_success() => r.json::<Value>().await.ok(),
                    _ => None,
                };
                failed += usize::from(answer.is_none());
                let id = answer.and_then(|a| a["id"].as_str().map(str::to_owned));
                if let Ok(mut ids) = ids.lock() {
                    ids[i] = id;
                }
            }
        }));
    }
    let mut failed = 0;
    for task in tasks {
        failed += task.await.unwrap_or(1);
    }
    let ids = ids.lock().map(|ids| ids.clone()).unwrap_or_default();
    (failed, ids)
}

/// Every series named `name` (whatever its labels) summed over `texts`, with a label
/// filter on the raw line.
fn sum(texts: &[String], name: &str, line_has: &str) -> f64 {
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.starts_with('#') && l.starts_with(name) && l.contains(line_has))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

async fn scrape(urls: &[String]) -> Vec<String> {
    let mut texts = Vec::new();
    for url in urls {
        let text = match reqwest::get(format!("{url}/metrics")).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        texts.push(text);
    }
    texts
}

async fn run(app: &TestApp, urls: &[String], w: &Workload, rate: u64, reconciling: bool) {
    let run = &w.name;
    let before = app.sim.stats();
    let texts_before = scrape(urls).await;
    let jobs_before = sum(&texts_before, "splashsync_worker_jobs_total", "");
    let reconciler = reconciling.then(|| reconcile::Reconciling::start(app));
    let start = Instant::now();
    // 1. Creates.
    let creates = (0..w.users)
        .map(|i| {
            let body = ScimUser::new(&email(run, i))
                .name("New", &format!("User{i}"))
                .active(true)
                .json();
            (Method::POST, "/Users".to_owned(), body)
        })
        .collect();
    // The directory's ids (from the 201s), to name members and targets.
    let (mut failed, ids) = send_all(app, creates, 16).await;
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    // 2. Groups, each with its members, in one POST.
    let groups = (0..w.groups)
        .map(|g| {
            let members: Vec<Value> = (0..w.members)
                .filter_map(|m| ids.get(g * w.members + m))
                .map(|id| json!({"value": id}))
                .collect();
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": format!("{run} team {g:03}"),
                "members": members,
            });
            (Method::POST, "/Groups".to_owned(), body)
        })
        .collect();
    failed += send_all(app, groups, 8).await.0;
    // 3. Name changes, then 4. deactivations (from the end, away from the renamed).
    let renames = (0..w.renames)
        .filter_map(|i| ids.get(i))
        .map(|id| {
            let op = json!([{"op": "replace", "path": "name.givenName", "value": "Renamed"}]);
            (Method::PATCH, format!("/Users/{id}"), patch_op(op))
        })
        .collect();
    failed += send_all(app, renames, 16).await.0;
    let deactivations = (0..w.deactivations)
        .filter_map(|i| ids.get(w.users - 1 - i))
        .map(|id| {
            let op = json!([{"op": "replace", "path": "active", "value": false}]);
            (Method::PATCH, format!("/Users/{id}"), patch_op(op))
        })
        .collect();
    failed += send_all(app, deactivations, 16).await.0;
    let accepted = start.elapsed();
    let calls_at_accept = app.sim.stats()["requests"].as_u64().unwrap_or(0);
    // Drained: every change's job finished on a worker.
    let changes = w.changes() as f64;
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut texts;
    loop {
        texts = scrape(urls).await;
        let done = sum(&texts, "splashsync_worker_jobs_total", "") - jobs_before;
        if done >= changes || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drained = start.elapsed();
    let after = app.sim.stats();
    let tally = reconciler.map(reconcile::Reconciling::stop);
    let delta =
        |field: &str| after[field].as_u64().unwrap_or(0) - before[field].as_u64().unwrap_or(0);
    let by = |method: &str| {
        sum(
            &texts,
            "splashsync_worker_splashtop_requests_total",
            &format!("method=\"{method}\""),
        ) - sum(
            &texts_before,
            "splashsync_worker_splashtop_requests_total",
            &format!("method=\"{method}\""),
        )
    };
    let reads = by("GET");
    let writes = by("POST") + by("PATCH") + by("DELETE");
    // Every call the simulator answered, the reconciler's included; the workers' alone
    // make the calls per change.
    let calls = delta("requests") as f64;
    let worker_calls = reads + writes;
    let counter = |name: &str, has: &str| sum(&texts, name, has) - sum(&texts_before, name, has);
    let misses = counter("splashsync_worker_mirror_misses_total", "");
    let pages = counter("splashsync_worker_mirror_pages_total", "");
    let mirror_reads = counter("splashsync_worker_mirror_reads_total", "");
    let coalesced = counter("splashsync_worker_jobs_total", "outcome=\"superseded\"");
    let jobs = counter("splashsync_worker_jobs_total", "");
    let throttled = delta("rejected_rate_limited") + delta("throttled");
    let secs = drained.as_secs_f64();
    let used = calls / (rate as f64 / 60.0 * secs) * 100.0;
    println!(
        "== {run}: {} changes ({} SCIM requests failed) ==",
        w.changes(),
        failed
    );
    println!(
        "worker Splashtop calls {worker_calls:.0}: {:.3} per change (reads {reads:.0} = {:.3}/change, of which listing pages {pages:.0}; writes {writes:.0} = {:.3}/change)",
        worker_calls / changes,
        reads / changes,
        writes / changes
    );
    println!(
        "calls by kind (the reconciler's pages included): {}",
        by_call(&before, &after)
    );
    if let Some(t) = tally {
        println!(
            "reconciler: {:.0} listing calls while draining ({} dry runs finished, {} pages)",
            calls - worker_calls,
            t.runs,
            t.pages
        );
    }
    println!(
        "mirror misses {misses:.0}, reads the mirror could not spare {mirror_reads:.0}; jobs finished {jobs:.0}, coalesced (superseded) {coalesced:.0}; 429s {throttled}"
    );
    let statuses: Vec<String> = after["by_status"]
        .as_object()
        .map(|by| {
            by.iter()
                .map(|(status, n)| {
                    let was = before["by_status"][status].as_u64().unwrap_or(0);
                    format!("{status}: {}", n.as_u64().unwrap_or(0) - was)
                })
                .collect()
        })
        .unwrap_or_default();
    println!("answers by status: {}", statuses.join(", "));
    // While a backlog is queued (after the last SCIM answer) the limit is the ceiling.
    let tail_calls = after["requests"]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(calls_at_accept) as f64;
    let tail_secs = (drained - accepted).as_secs_f64();
    let tail_used = tail_calls / (rate as f64 / 60.0 * tail_secs.max(1e-3)) * 100.0;
    println!(
        "all SCIM requests answered after {:.1} s; drained after {secs:.1} s; {used:.1} % of the {rate}/min limit used over the whole run, {tail_used:.1} % after the last SCIM answer ({tail_calls:.0} calls in {tail_secs:.1} s)",
        accepted.as_secs_f64()
    );
    println!(
        "projected at Splashtop's 200 calls/min: {:.1} min ({worker_calls:.0} worker calls)",
        worker_calls / 200.0
    );
}

/// The simulator's calls by kind between two of its stats, the most frequent first.
fn by_call(before: &Value, after: &Value) -> String {
    let mut calls: Vec<(String, u64)> = after["by_call"]
        .as_object()
        .map(|by| {
            by.iter()
                .map(|(call, n)| {
                    let was = before["by_call"][call].as_u64().unwrap_or(0);
                    (call.clone(), n.as_u64().unwrap_or(0) - was)
                })
                .filter(|(_, n)| *n > 0)
                .collect()
        })
        .unwrap_or_default();
    calls.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let calls: Vec<String> = calls.iter().map(|(c, n)| format!("{c}: {n}")).collect();
    calls.join(", ")
}

async fn worker(app: &TestApp, rate: u64, reserve: u64) -> (ExtraWorker, String) {
    let options = WorkerOptions {
        rate_limit_per_minute: rate as u32,
        reconcile_reserve_per_minute: reserve as u32,
        retry_budget: Duration::from_secs(600),
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..WorkerOptions::default()
    };
    let worker = app.start_worker_with(options).await;
    let url = worker.url().expect("the worker listens");
    (worker, url)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rate = env_or("DRAIN_RATE", 6000);
    let reserve = env_or("DRAIN_RECONCILE_RATE", rate / 20).min(rate.saturating_sub(1));
    let sim = SimConfig {
        faults: Faults {
            rate_limit_per_minute: rate as u32,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let app = TestApp::spawn_with(Options {
        worker: false,
        sim,
        // Enough partitions for the workers to keep the limit busy.
        partitions: env_or("DRAIN_PARTITIONS", 32) as u16,
        reconcile_calls_per_minute: reserve.clamp(1, 6000) as u32,
        ..Options::default()
    })
    .await;
    let (first, a) = worker(&app, rate, reserve).await;
    let (second, b) = worker(&app, rate, reserve).await;
    let urls = [a, b];
    println!(
        "== 2 in-process workers, {} partitions, simulator and workers limited to {rate} calls/min, {reserve} of them the reconciler's ==",
        app.topology.partitions()
    );
    let reconciling = reserve > 0;
    let mix = Workload {
        name: "mix".into(),
        users: 100,
        groups: 1,
        members: 50,
        renames: 30,
        deactivations: 20,
    };
    run(&app, &urls, &mix, rate, reconciling).await;
    if std::env::var("DRAIN_10K").is_ok_and(|v| v == "1") {
        let big = Workload {
            name: "onboard10k".into(),
            users: 10_000,
            groups: 200,
            members: 50,
            renames: 2_000,
            deactivations: 1_000,
        };
        run(&app, &urls, &big, rate, reconciling).await;
    } else {
        println!("(the 10,000-user onboarding runs with DRAIN_10K=1)");
    }
    first.stop().await;
    second.stop().await;
    app.shutdown().await;
}
