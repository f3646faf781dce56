//! `/metrics` of the receiver and of a worker as scrapers read it: the Prometheus text format
//! 0.0.4 unless the scrape's `Accept` prefers OpenMetrics (Prometheus's does). Read back by
//! a 0.0.4 parser (`prometheus-parse`), every sample must belong to a typed family (a
//! counter family named like its `_total` samples, histograms by their `_bucket`, `_sum`,
//! `_count`), with no OpenMetrics-only line (`# EOF`, `# UNIT`). When Prometheus's
//! `promtool` is installed, `promtool check metrics` must pass too.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use prometheus_parse::{Scrape, Value};
use splashsync_test_support::{
    eventually, metric, user_job, Cluster, Options, TestApp, UserSpec, WorkerOptions,
};
use splashtop_sim::SimConfig;

const WAIT: Duration = Duration::from_secs(30);
const OPENMETRICS_FIRST: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// `GET url` with `accept` (none: no header); returns (content type, body).
async fn scrape(url: &str, accept: Option<&str>) -> (String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let response = req.send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    (kind, response.text().await.unwrap())
}

/// Checks `text` is Prometheus text 0.0.4 and returns it parsed.
fn prometheus_text(text: &str) -> Scrape {
    for line in text.lines() {
        assert!(
            line != "# EOF" && !line.starts_with("# UNIT"),
            "an OpenMetrics-only line: {line}"
        );
        if let Some(family) = line
            .strip_prefix("# TYPE ")
            .and_then(|t| t.strip_suffix(" counter"))
        {
            assert!(family.ends_with("_total"), "counter family {family}");
        }
    }
    let histograms: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" histogram"))
        .collect();
    // The parser types a histogram's buckets; its `_sum` and `_count` stay untyped.
    let of_a_histogram = |name: &str| {
        ["_sum", "_count"].iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|family| histograms.contains(&family))
        })
    };
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    assert!(!scrape.samples.is_empty());
    let untyped: Vec<&str> = scrape
        .samples
        .iter()
        .filter(|s| matches!(s.value, Value::Untyped(_)) && !of_a_histogram(&s.metric))
        .map(|s| s.metric.as_str())
        .collect();
    assert!(
        untyped.is_empty(),
        "samples of no declared family: {untyped:?}"
    );
    if let Some(verdict) = promtool(text) {
        assert!(verdict.0, "promtool check metrics: {}", verdict.1);
    }
    scrape
}

/// `promtool check metrics` on `text`, when promtool is installed: (passed, its output).
fn promtool(text: &str) -> Option<(bool, String)> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .expect("promtool reads");
    let out = child.wait_with_output().expect("promtool ends");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), said))
}

fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(b) => b.iter().map(|c| c.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_prometheus_text_with_error_codes_rates_and_job_ages() {
    let mut cluster = Cluster::new(SimConfig::default(), 2).await;
    let w = cluster
        .start_worker(WorkerOptions {
            listen: Some("127.0.0.1:0".parse().expect("addr")),
            rate_limit_per_minute: 6000,
            ..WorkerOptions::default()
        })
        .await;
    let url = format!("{}/metrics", cluster.worker_url(w).expect("listens"));
    cluster
        .publish(&user_job(1, 1, UserSpec::active("Ada")))
        .await;
    let no_sso = UserSpec {
        sso_name: Some("No Such SSO".into()),
        ..UserSpec::active("Eve")
    };
    cluster.publish(&user_job(2, 1, no_sso)).await;
    let jobs = |m: &str, outcome| {
        metric(
            m,
            "splashsync_worker_jobs_total",
            &[("kind", "user"), ("outcome", outcome)],
        )
    };
    eventually(WAIT, "one job applied, one dead-lettered", || async {
        let (_, m) = scrape(&url, None).await;
        jobs(&m, "applied") == Some(1.0) && jobs(&m, "dead_lettered") == Some(1.0)
    })
    .await;

    let (kind, text) = scrape(&url, None).await;
    let (om_kind, om_text) = scrape(&url, Some(OPENMETRICS_FIRST)).await;
    cluster.shutdown().await;

    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let s = prometheus_text(&text);
    let dead = [
        ("kind", "user"),
        ("reason", "permanent"),
        ("code", "sso_method_not_found"),
    ];
    assert_eq!(
        value(&s, "splashsync_worker_dead_letters_total", &dead),
        Some(1.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(&s, "splashsync_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &s,
            "splashsync_worker_rate_limit_state",
            &[("state", "full_share")]
        ),
        Some(1.0)
    );
    let effective = value(&s, "splashsync_worker_rate_limit_effective_per_minute", &[]);
    assert!(
        effective.is_some_and(|r| r > 0.0 && r <= 6000.0),
        "{effective:?}"
    );
    for histogram in [
        "splashsync_worker_job_age_seconds",
        "splashsync_worker_scim_to_applied_seconds",
    ] {
        let observed = value(&s, histogram, &[("kind", "user")]);
        assert!(
            observed.is_some_and(|n| n >= 1.0),
            "{histogram}: {observed:?}"
        );
    }
    assert!(
        om_kind.starts_with("application/openmetrics-text"),
        "{om_kind}"
    );
    assert!(om_text.ends_with("# EOF\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_serves_prometheus_text_with_its_build() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let url = format!("{}/metrics", app.base_url());
    let (kind, text) = scrape(&url, None).await;
    let (om_kind, om_text) = scrape(&url, Some(OPENMETRICS_FIRST)).await;
    app.shutdown().await;

    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    let s = prometheus_text(&text);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        value(&s, "splashsync_build_info", &[("version", version)]),
        Some(1.0)
    );
    assert!(
        om_kind.starts_with("application/openmetrics-text"),
        "{om_kind}"
    );
    assert!(om_text.ends_with("# EOF\n"));
}
