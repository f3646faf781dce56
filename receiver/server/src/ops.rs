//! `/metrics` and `/readyz`: open like `/healthz`, for scrapers and orchestrators.
//! `/readyz` also reports the supervised tasks (relay, intake, sampler) from the
//! [`Metrics`]' health.
//!
//! The outbox and dead-letter gauges are read from the store at scrape time, so they are
//! right after a restart.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use splashsync_admin::broker::BrokerProbe;
use splashsync_directory::audit::AuditStore;

use crate::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

/// The gauges that mirror the store.
#[derive(Debug)]
struct StoreGauges {
    outbox_pending: Gauge,
    outbox_age: Gauge<f64, AtomicU64>,
    published: Counter,
    published_seen: AtomicI64,
    dead_letters_open: Family<ReasonLabels, Gauge>,
}

impl StoreGauges {
    fn register(metrics: &Metrics) -> Self {
        let this = Self {
            outbox_pending: Gauge::default(),
            outbox_age: Gauge::default(),
            published: Counter::default(),
            published_seen: AtomicI64::new(0),
            dead_letters_open: Family::default(),
        };
        metrics.register(
            "splashsync_outbox_pending_jobs",
            "Jobs committed but not yet confirmed by RabbitMQ",
            this.outbox_pending.clone(),
        );
        metrics.register(
            "splashsync_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished job (0 when none)",
            this.outbox_age.clone(),
        );
        metrics.register(
            "splashsync_outbox_published_jobs",
            "Jobs published with a broker confirm",
            this.published.clone(),
        );
        metrics.register(
            "splashsync_dead_letters_open",
            "Dead letters waiting for an operator, by reason",
            this.dead_letters_open.clone(),
        );
        this
    }

    async fn refresh(&self, audit: &dyn AuditStore) {
        if let Ok(stats) = audit.outbox_stats().await {
            self.outbox_pending.set(stats.pending);
            self.outbox_age.set(stats.oldest_pending_age_seconds);
            let before = self.published_seen.swap(stats.sent, Ordering::Relaxed);
            // The count lives in the store; the counter follows it (from 0 at start).
            if stats.sent > before {
                self.published.inc_by((stats.sent - before) as u64);
            }
        }
        if let Ok(open) = audit.open_by_reason().await {
            self.dead_letters_open.clear();
            for (reason, n) in open {
                self.dead_letters_open
                    .get_or_create(&ReasonLabels { reason })
                    .set(n);
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Ops {
    audit: Arc<dyn AuditStore>,
    broker: Arc<BrokerProbe>,
    metrics: Arc<Metrics>,
    gauges: Arc<StoreGauges>,
}

/// The `/metrics` and `/readyz` routes; registers the store gauges into `metrics`.
pub fn router(
    audit: Arc<dyn AuditStore>,
    broker: Arc<BrokerProbe>,
    metrics: Arc<Metrics>,
) -> Router {
    let gauges = Arc::new(StoreGauges::register(&metrics));
    let ops = Ops {
        audit,
        broker,
        metrics,
        gauges,
    };
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/readyz", get(readyz))
        .with_state(ops)
}

/// `GET /metrics`: refreshes the store-backed gauges, then encodes everything, as
/// OpenMetrics or Prometheus text 0.0.4 as the scrape's `Accept` asks.
async fn serve_metrics(State(ops): State<Ops>, headers: HeaderMap) -> Response {
    ops.gauges.refresh(ops.audit.as_ref()).await;
    splashsync_runtime::exposition::respond(&headers, ops.metrics.encode())
}

/// 200 when the store and the broker both answer and every supervised task runs, else
/// 503 naming each problem: `{"ready": false, "store": …, "broker": …, "problems":
/// [{"component": "relay", "problem": "…"}]}` (`problems` is left out when ready).
async fn readyz(State(ops): State<Ops>) -> Response {
    let store = match ops.audit.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("unreachable: {e}"),
    };
    let broker = match ops.broker.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let mut problems = Vec::new();
    for (component, state) in [("store", &store), ("broker", &broker)] {
        if state != "ok" {
            problems.push(serde_json::json!({"component": component, "problem": state}));
        }
    }
    for (component, problem) in ops.metrics.health().problems() {
        problems.push(serde_json::json!({"component": component, "problem": problem}));
    }
    let mut body =
        serde_json::json!({"ready": problems.is_empty(), "store": store, "broker": broker});
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        body["problems"] = problems.into();
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
