//! The worker against upstreams that misbehave: a Retry-After of 31 years, an answer of
//! 256 MiB, a redirect to another host. Each test runs a real worker (configured as the
//! binary is, from its flags) on its own topology.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use clap::Parser;
use futures_util::StreamExt;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::DeadReason;
use splashsync_test_support::{
    account_job, amqp_url, eventually, has_user, install_crypto, metric, redis_url, sim_reaches,
    user_job, users_in, Cluster, UserSpec,
};
use splashsync_worker::config::Settings;
use splashsync_worker::consumer::Worker;
use splashtop_sim::{Faults, SimConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(30);

/// A worker started from its command-line flags, as the binary is.
struct FlaggedWorker {
    url: String,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl FlaggedWorker {
    /// Starts a worker on `topology` against the Splashtop API at `api_url` (with the
    /// simulator's token and team), with `flags` on top of the test services.
    async fn start(api_url: &str, topology: &Topology, flags: &[&str]) -> Self {
        let mut args = vec![
            "splashsync-worker".to_string(),
            format!("--splashtop-api-url={api_url}"),
            format!(
                "--splashtop-api-token={}",
                splashtop_sim::config::DEFAULT_TEST_TOKEN
            ),
            "--splashtop-team-id=team-1".into(),
            format!("--amqp-url={}", amqp_url()),
            format!("--amqp-prefix={}", topology.prefix()),
            format!("--partitions={}", topology.partitions()),
            format!("--redis-url={}", redis_url()),
            "--listen=127.0.0.1:0".into(),
        ];
        args.extend(flags.iter().map(|f| f.to_string()));
        let settings = Settings::try_parse_from(args).expect("flags parse");
        let worker = Worker::from_settings(&settings)
            .expect("valid settings")
            .with_heartbeat(Duration::from_millis(300))
            .bind()
            .await
            .expect("listener binds");
        let url = format!("http://{}", worker.addr().expect("a listener"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        Self { url, stop, task }
    }

    /// A sample of its `/metrics`.
    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = reqwest::get(format!("{}/metrics", self.url))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        metric(&text, name, labels)
    }

    /// SIGTERM, as far as the worker can tell.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(WAIT, self.task).await;
    }
}

/// Serves `app` on a free port in the background; its base URL.
async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_of_decades_is_capped_and_later_users_are_still_applied() {
    let sim = SimConfig {
        faults: Faults {
            throttle_rate: 1.0,
            retry_after_secs: 999_999_999,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let cluster = Cluster::new(sim, 2).await;
    let worker = FlaggedWorker::start(
        &cluster.sim.base_url(),
        &cluster.topology,
        &[
            "--max-retry-after-secs=2",
            "--rate-limit-per-minute=600",
            "--retry-budget-secs=60",
        ],
    )
    .await;
    cluster
        .publish(&user_job(1, 1, UserSpec::active("First")))
        .await;
    eventually(WAIT, "the first user's call is throttled", || async {
        cluster.sim.stats()["throttled"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    // Splashtop recovers at once; it had asked for 31 years.
    cluster.sim.set_faults(Faults::default());
    cluster
        .publish(&user_job(2, 1, UserSpec::active("Later")))
        .await;
    // Applied at all within the deadline: the cap (2 s), not 999999999 s, bounded both the
    // first user's retry and the rate limiter's pause.
    sim_reaches(&cluster.sim, WAIT, "both users applied", |s| {
        has_user(s, "u1@example.com") && has_user(s, "u2@example.com")
    })
    .await;
    let capped = worker
        .metric("splashsync_worker_retry_after_capped_total", &[])
        .await;
    let dead = cluster.dead_letter_count().await;
    worker.stop().await;
    cluster.shutdown().await;
    assert_eq!(dead, 0, "the throttled user was retried, not dead-lettered");
    assert!(
        capped.is_some_and(|n| n >= 1.0),
        "the cap is counted: {capped:?}"
    );
}

/// 256 MiB of spaces, a chunk at a time, without a declared length.
async fn huge() -> Response {
    let chunk = Bytes::from(vec![b' '; 1 << 16]);
    let body = futures_util::stream::repeat(chunk)
        .take(4096)
        .map(Ok::<_, Infallible>);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .expect("a response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_past_the_body_limit_dead_letters_the_job_as_permanent() {
    let cluster = Cluster::new(SimConfig::default(), 1).await;
    let hostile = serve(Router::new().fallback(huge)).await;
    let worker =
        FlaggedWorker::start(&hostile, &cluster.topology, &["--retry-budget-secs=60"]).await;
    cluster
        .publish(&user_job(1, 1, UserSpec::active("Flooded")))
        .await;
    eventually(WAIT, "the job is dead-lettered", || async {
        cluster.dead_letter_count().await >= 1
    })
    .await;
    let dead = cluster.dead_letters().await;
    worker.stop().await;
    cluster.shutdown().await;
    assert_eq!(dead.len(), 1);
    let (headers, _) = &dead[0];
    assert_eq!(headers.reason, DeadReason::Permanent, "{headers:?}");
    assert_eq!(headers.http_status, Some(200), "{headers:?}");
    assert_eq!(headers.error_code.as_deref(), Some("response_too_large"));
    assert!(
        headers
            .error_body
            .contains("Splashtop answered more than 1 MiB"),
        "{headers:?}"
    );
    assert_eq!(headers.attempts, Some(1), "not retried: {headers:?}");
}

/// Where a redirect would lead: counts every request.
async fn collect(State(hits): State<Arc<AtomicUsize>>) -> &'static str {
    hits.fetch_add(1, Ordering::SeqCst);
    r#"{"users":[]}"#
}

/// What stands in front of the simulator: redirects every request about the victim (a
/// lookup naming it in its path or query, or a write naming it in its body: the invite a
/// mirrored worker sends without a lookup) to `elsewhere`, passes everything else through.
#[derive(Clone)]
struct Front {
    sim: String,
    elsewhere: String,
    client: reqwest::Client,
}

async fn front(State(front): State<Front>, request: Request) -> Response {
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let names_victim = body.windows(b"victim".len()).any(|w| w == b"victim");
    if path_and_query.contains("victim") || names_victim {
        let to = format!("{}/collect{}", front.elsewhere, path_and_query);
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response();
    }
    let mut forward = front
        .client
        .request(parts.method, format!("{}{path_and_query}", front.sim))
        .body(body);
    for (name, value) in &parts.headers {
        if name != header::HOST {
            forward = forward.header(name, value);
        }
    }
    match forward.send().await {
        Ok(answer) => {
            let status = answer.status();
            let kind = answer.headers().get(header::CONTENT_TYPE).cloned();
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            if let Some(kind) = kind {
                response.headers_mut().insert(header::CONTENT_TYPE, kind);
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_never_followed_and_its_job_is_dead_lettered_with_the_status() {
    install_crypto();
    // One partition: the marker queues behind the victim.
    let cluster = Cluster::new(SimConfig::default(), 1).await;
    let hits = Arc::new(AtomicUsize::new(0));
    let elsewhere = serve(Router::new().fallback(collect).with_state(hits.clone())).await;
    let front_url = serve(Router::new().fallback(front).with_state(Front {
        sim: cluster.sim.base_url(),
        elsewhere,
        client: reqwest::Client::new(),
    }))
    .await;
    let worker =
        FlaggedWorker::start(&front_url, &cluster.topology, &["--retry-budget-secs=60"]).await;
    let victim = account_job(
        "u-victim",
        "victim@example.com",
        1,
        UserSpec::active("Victim"),
    );
    let marker = account_job(
        "u-marker",
        "marker@example.com",
        1,
        UserSpec::active("Marker"),
    );
    cluster.publish(&victim).await;
    cluster.publish(&marker).await;
    let state = sim_reaches(&cluster.sim, WAIT, "the marker applied", |s| {
        has_user(s, "marker@example.com")
    })
    .await;
    // The marker went through after the victim's job was handled: had the redirect been
    // followed, the other host would have been hit by now.
    let followed = hits.load(Ordering::SeqCst);
    let dead = cluster.dead_letters().await;
    worker.stop().await;
    cluster.shutdown().await;
    assert_eq!(followed, 0, "the redirect was followed");
    assert_eq!(users_in(&state), 1, "{state}");
    assert_eq!(dead.len(), 1, "the victim's job is dead-lettered");
    let (headers, _) = &dead[0];
    assert_eq!(headers.reason, DeadReason::Permanent, "{headers:?}");
    assert_eq!(headers.http_status, Some(307), "{headers:?}");
    assert!(
        headers.error_body.contains("redirects are not followed"),
        "{headers:?}"
    );
}
