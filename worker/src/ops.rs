//! The worker's operations endpoints, for orchestrators and scrapers:
//! `/healthz` (the process is up), `/readyz` (RabbitMQ connected and Redis answering)
//! and `/metrics` (Prometheus).

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use lapin::ConnectionStatus;
use tokio::net::TcpListener;

use crate::metrics::Metrics;
use crate::state::StateStore;

/// Whether the worker holds a RabbitMQ connection right now.
#[derive(Debug, Default)]
pub(crate) struct Health {
    broker: Mutex<Option<ConnectionStatus>>,
}

impl Health {
    /// The worker's session on this connection started.
    pub(crate) fn connected(&self, status: &ConnectionStatus) {
        *self.lock() = Some(status.clone());
    }

    /// The session ended; the worker is reconnecting or stopping.
    pub(crate) fn disconnected(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<ConnectionStatus>> {
        // Only an `Option` is written under this lock: a panic cannot leave it torn.
        self.broker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// "ok", or what is wrong with the broker connection.
    fn broker(&self) -> &'static str {
        match &*self.lock() {
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
    pub(crate) health: Arc<Health>,
    pub(crate) store: Arc<dyn StateStore>,
}

/// The routes, without a socket (tests call them with `oneshot`).
pub(crate) fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(ops)
}

/// Serves the routes on `listener` until `shutdown` resolves, finishing open requests.
pub(crate) async fn serve(
    listener: TcpListener,
    ops: Ops,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(ops))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn healthz() -> &'static str {
    "ok"
}

/// 200 when RabbitMQ is connected and Redis answers, else 503 naming what is down.
async fn readyz(State(ops): State<Ops>) -> Response {
    let rabbitmq = ops.health.broker();
    let redis = match ops.store.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("unreachable: {e}"),
    };
    let ready = rabbitmq == "ok" && redis == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({"ready": ready, "rabbitmq": rabbitmq, "redis": redis});
    (status, Json(body)).into_response()
}

async fn metrics(State(ops): State<Ops>) -> Response {
    match ops.metrics.encode() {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    fn ops(redis_url: &str) -> Ops {
        Ops {
            metrics: Arc::new(Metrics::new()),
            health: Arc::new(Health::default()),
            store: Arc::new(crate::state::RedisStore::new(redis_url, "ops-test").unwrap()),
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
    async fn metrics_are_served_as_openmetrics_text() {
        let (status, body) = get(ops("redis://127.0.0.1:1"), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains("# TYPE splashsync_worker_jobs counter"),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"), "{body}");
    }
}
