//! The worker's operations endpoints, for orchestrators and scrapers:
//! `/healthz` (the process is up), `/readyz` (RabbitMQ connected, Redis answering, every
//! supervised task running) and `/metrics` (Prometheus), served with the runtime's limits
//! ([`LIMITS`]) so that a slow or idle client cannot hold a connection.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lapin::ConnectionStatus;
use splashsync_runtime::http::Limits;
use splashsync_runtime::supervisor::Health;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::state::StateStore;

/// The operations listener's limits: its clients are probes and scrapers on a private
/// network, which send a short request and read a short answer.
pub(crate) const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(10),
    body_read_timeout: Duration::from_secs(10),
    max_connections: 64,
    shutdown_grace: Duration::from_secs(5),
};

/// How long `/readyz` waits for Redis before calling it unreachable.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The worker's RabbitMQ connection, as far as readiness and the heartbeat care.
#[derive(Debug)]
pub(crate) struct BrokerLink {
    status: watch::Sender<Option<ConnectionStatus>>,
}

impl Default for BrokerLink {
    fn default() -> Self {
        Self {
            status: watch::channel(None).0,
        }
    }
}

impl BrokerLink {
    /// The worker's session on this connection started.
    pub(crate) fn connected(&self, status: &ConnectionStatus) {
        self.status.send_replace(Some(status.clone()));
    }

    /// The session ended; the worker is reconnecting or stopping.
    pub(crate) fn disconnected(&self) {
        self.status.send_replace(None);
    }

    /// Whether a session holds a live connection.
    pub(crate) fn is_up(&self) -> bool {
        self.status.borrow().as_ref().is_some_and(|s| s.connected())
    }

    /// Tells its receiver each time a session starts or ends.
    pub(crate) fn watch(&self) -> watch::Receiver<Option<ConnectionStatus>> {
        self.status.subscribe()
    }

    /// "ok", or what is wrong with the broker connection.
    fn describe(&self) -> &'static str {
        match &*self.status.borrow() {
            // A connection dropped under the session is noticed here before the
            // session itself ends.
            Some(status) if status.connected() => "ok",
            Some(_) => "connection lost",
            None => "not connected",
        }
    }
}

/// What the endpoints read.
#[derive(Debug, Clone)]
pub(crate) struct Ops {
    pub(crate) metrics: Arc<Metrics>,
    /// The supervised tasks.
    pub(crate) health: Health,
    pub(crate) broker: Arc<BrokerLink>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) limiter: Arc<RateLimiter>,
}

/// The routes, without a socket (tests call them with `oneshot`).
pub(crate) fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// Serves the routes on `listener` under `limits` until `shutdown` resolves, finishing
/// open requests.
pub(crate) async fn serve(
    listener: TcpListener,
    ops: Ops,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    splashsync_runtime::http::serve(listener, router(ops), limits, shutdown).await
}

async fn healthz() -> &'static str {
    "ok"
}

/// 200 when RabbitMQ is connected, Redis answers and every supervised task runs, else 503
/// naming what is not. A throttled Splashtop is reported but is no reason to be unready:
/// the worker is doing what Splashtop asked.
async fn readyz(State(ops): State<Ops>) -> Response {
    let rabbitmq = ops.broker.describe();
    let redis = match tokio::time::timeout(PING_TIMEOUT, ops.store.ping()).await {
        Ok(Ok(())) => "ok".to_string(),
        Ok(Err(e)) => format!("unreachable: {e}"),
        Err(_) => format!("unreachable: no answer within {} s", PING_TIMEOUT.as_secs()),
    };
    let tasks: BTreeMap<&str, serde_json::Value> = ops
        .health
        .snapshot()
        .into_iter()
        .map(|(name, c)| {
            let task = serde_json::json!({
                "ready": c.problem.is_none(),
                "restarts": c.restarts,
                "problem": c.problem,
            });
            (name, task)
        })
        .collect();
    let splashtop = match ops.limiter.throttled_for() {
        Some(left) => format!("throttled for {} s more", left.as_secs().max(1)),
        None => "ok".to_string(),
    };
    let ready = rabbitmq == "ok" && redis == "ok" && ops.health.problems().is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "ready": ready,
        "rabbitmq": rabbitmq,
        "redis": redis,
        "tasks": tasks,
        "splashtop": splashtop,
    });
    (status, Json(body)).into_response()
}

/// `GET /metrics`: OpenMetrics or Prometheus text 0.0.4, as the scrape's `Accept` asks.
async fn metrics(State(ops): State<Ops>, headers: HeaderMap) -> Response {
    splashsync_runtime::exposition::respond(&headers, ops.metrics.encode())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use prometheus_client::metrics::histogram::Histogram;
    use tower::ServiceExt;

    use super::*;

    fn ops(redis_url: &str) -> Ops {
        let health = Health::new();
        Ops {
            metrics: Arc::new(Metrics::with_health(health.clone())),
            health,
            broker: Arc::new(BrokerLink::default()),
            store: Arc::new(crate::state::RedisStore::new(redis_url, "ops-test").unwrap()),
            limiter: Arc::new(RateLimiter::new(600, Histogram::new(std::iter::empty()))),
        }
    }

    async fn get(ops: Ops, path: &str) -> (StatusCode, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router(ops).oneshot(request).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn healthz_answers_while_nothing_else_is_up() {
        assert_eq!(
            get(ops("redis://127.0.0.1:1"), "/healthz").await,
            (StatusCode::OK, "ok".into())
        );
    }

    #[tokio::test]
    async fn readyz_names_what_is_down() {
        let (status, body) = get(ops("redis://127.0.0.1:1"), "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["ready"], false);
        assert_eq!(body["rabbitmq"], "not connected");
        assert!(body["redis"].as_str().unwrap().starts_with("unreachable"));
    }

    #[tokio::test]
    async fn readyz_names_a_task_waiting_to_be_restarted_and_a_throttle() {
        let ops = ops("redis://127.0.0.1:6379");
        ops.health.ready("heartbeat");
        ops.health
            .not_ready("session", "session failed: queue deleted");
        ops.limiter.on_throttled(Some(Duration::from_secs(60)));
        let (status, body) = get(ops, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["tasks"]["heartbeat"]["ready"], true);
        assert_eq!(body["tasks"]["session"]["ready"], false);
        assert_eq!(
            body["tasks"]["session"]["problem"],
            "session failed: queue deleted"
        );
        assert!(
            body["splashtop"].as_str().unwrap().starts_with("throttled"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text_unless_openmetrics_is_asked_for() {
        let (status, body) = get(ops("redis://127.0.0.1:1"), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("# TYPE splashsync_worker_jobs_total counter"),
            "{body}"
        );
        assert!(!body.contains("# EOF"), "{body}");
        let request = Request::get("/metrics")
            .header(
                "accept",
                "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            )
            .body(Body::empty())
            .unwrap();
        let response = router(ops("redis://127.0.0.1:1"))
            .oneshot(request)
            .await
            .unwrap();
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains("# TYPE splashsync_worker_jobs counter"),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }
}
