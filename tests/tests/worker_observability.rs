//! A worker's operations listener: `/healthz`, `/readyz` and `/metrics` tell an operator
//! what it applied, what it dead-lettered and why, what Splashtop answered, and whether
//! it can work at all.

use std::time::Duration;

use splashsync_test_support::{
    amqp_url, eventually, metric, user_job, Cluster, TcpProxy, UserSpec, WorkerOptions,
};
use splashtop_sim::SimConfig;

const WAIT: Duration = Duration::from_secs(30);

fn active(first: &str) -> UserSpec {
    UserSpec::active(first)
}

fn with_listener() -> WorkerOptions {
    WorkerOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        // Limited, so that calls go through the limiter's slots.
        rate_limit_per_minute: 6000,
        ..WorkerOptions::default()
    }
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

/// Polls `path` until `done` holds; returns that answer.
async fn poll(base: &str, path: &str, done: impl Fn(u16, &str) -> bool) -> (u16, String) {
    eventually(WAIT, path, || async {
        let (status, body) = get(base, path).await;
        match done(status, &body) {
            true => Ok((status, body)),
            false => Err(format!("{status}: {body}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_reports_its_health_readiness_and_what_it_applied_and_dead_lettered() {
    let sim = SimConfig {
        sso_methods: vec!["Okta SSO".into()],
        ..SimConfig::default()
    };
    let mut cluster = Cluster::new(sim, 2).await;
    let w = cluster.start_worker(with_listener()).await;
    let base = cluster.worker_url(w).expect("the worker listens");
    assert_eq!(get(&base, "/healthz").await, (200, "ok".to_string()));

    cluster.publish(&user_job(1, 1, active("Ada"))).await;
    cluster.publish(&user_job(2, 1, active("Bob"))).await;
    let unknown_sso = UserSpec {
        sso_name: Some("No Such SSO".into()),
        ..active("Eve")
    };
    cluster.publish(&user_job(3, 1, unknown_sso)).await;
    let jobs = |m: &str, outcome| {
        metric(
            m,
            "splashsync_worker_jobs_total",
            &[("kind", "user"), ("outcome", outcome)],
        )
    };
    let (_, m) = poll(&base, "/metrics", |_, m| {
        jobs(m, "applied") == Some(2.0) && jobs(m, "dead_lettered") == Some(1.0)
    })
    .await;
    assert_eq!(jobs(&m, "applied"), Some(2.0), "{m}");
    assert_eq!(jobs(&m, "dead_lettered"), Some(1.0), "{m}");
    // The same version again is stale.
    cluster.publish(&user_job(1, 1, active("Ada"))).await;
    let (status, m) = poll(&base, "/metrics", |_, m| {
        jobs(m, "skipped_stale") == Some(1.0)
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(jobs(&m, "skipped_stale"), Some(1.0), "{m}");

    let dead = metric(
        &m,
        "splashsync_worker_dead_letters_total",
        &[
            ("kind", "user"),
            ("reason", "permanent"),
            ("code", "sso_method_not_found"),
        ],
    );
    assert_eq!(dead, Some(1.0), "{m}");
    assert!(
        !m.lines()
            .any(|l| l.starts_with("splashsync_worker_job_retries_total{")),
        "nothing was retried: {m}"
    );
    let requests = |method, status| {
        metric(
            &m,
            "splashsync_worker_splashtop_requests_total",
            &[("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "201"), Some(2.0), "two invites: {m}");
    assert_eq!(requests("POST", "422"), Some(1.0), "the unknown SSO: {m}");
    // The first job filled the team mirror: a page of groups and a page of users. The
    // jobs write from it without reading first (a job running while the fill held its
    // lease reads its user instead).
    let gets = requests("GET", "200").unwrap_or(0.0);
    assert!(
        (2.0..=3.0).contains(&gets),
        "the listing, at most one read: {m}"
    );
    let mirror = |name: &str, labels: &[(&str, &str)]| metric(&m, name, labels);
    assert_eq!(
        mirror("splashsync_worker_mirror_pages_total", &[]),
        Some(2.0),
        "{m}"
    );
    assert_eq!(
        mirror(
            "splashsync_worker_mirror_fills_total",
            &[("outcome", "complete")]
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        mirror("splashsync_worker_mirror_misses_total", &[]),
        Some(0.0),
        "{m}"
    );
    let posts = metric(
        &m,
        "splashsync_worker_splashtop_request_duration_seconds_count",
        &[("method", "POST")],
    );
    assert_eq!(posts, Some(3.0), "{m}");
    let waits = metric(&m, "splashsync_worker_rate_limiter_wait_seconds_count", &[]);
    let calls = cluster.sim.stats()["requests"].as_u64().unwrap_or(0) as f64;
    assert!(calls >= 5.0, "{m}");
    assert_eq!(waits, Some(calls), "every call takes a slot: {m}");
    let held = metric(&m, "splashsync_worker_partitions_held", &[]);
    assert!(held.is_some_and(|n| n > 0.0), "{m}");
    assert_eq!(
        metric(&m, "splashsync_worker_live_workers", &[]),
        Some(1.0),
        "{m}"
    );

    let (status, body) = poll(&base, "/readyz", |s, _| s == 200).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["ready"], true, "{body}");

    let dead = cluster.dead_letters().await;
    assert_eq!(dead.len(), 1, "the unknown SSO is in the dead-letter queue");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_naming_rabbitmq_while_it_is_unreachable_and_the_listener_stops_with_the_worker(
) {
    let mut cluster = Cluster::new(SimConfig::default(), 2).await;
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    proxy.cut().await;
    let w = cluster
        .start_worker(WorkerOptions {
            amqp_url: Some(proxy.url_for(&amqp_url())),
            ..with_listener()
        })
        .await;
    let base = cluster.worker_url(w).expect("the worker listens");
    assert_eq!(get(&base, "/healthz").await, (200, "ok".to_string()));
    // Unreachable, not merely not tried yet: the worker was refused at least once.
    eventually(WAIT, "the worker refused by the cut proxy", || async {
        proxy.refused().await >= 1
    })
    .await;
    let (status, body) = get(&base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["ready"], false, "{body}");
    assert_eq!(body["rabbitmq"], "not connected", "{body}");
    assert_eq!(body["redis"], "ok", "only RabbitMQ is down: {body}");
    let (status, m) = get(&base, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(&m, "splashsync_worker_partitions_held", &[]),
        Some(0.0),
        "{m}"
    );

    // The same worker becomes ready once the broker is back: readiness follows the broker.
    proxy.restore().await;
    let (_, body) = poll(&base, "/readyz", |s, _| s == 200).await;
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["ready"], true, "{body}");
    let (_, m) = poll(&base, "/metrics", |_, m| {
        metric(m, "splashsync_worker_partitions_held", &[]).is_some_and(|n| n > 0.0)
    })
    .await;
    assert!(proxy.forwarded() >= 1, "{m}");

    cluster.stop_worker(w).await;
    let after = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await;
    assert!(after.is_err(), "the listener closed with the worker");
    cluster.shutdown().await;
}
