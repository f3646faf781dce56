//! Prometheus metrics of the receiver, served at `/metrics` in the OpenMetrics text format.
//!
//! SCIM requests are counted by route template (never the raw path: ids would explode
//! the label set), method and status, with a latency histogram. Outbox and dead-letter
//! gauges are read from the store at scrape time, so they are right after a restart.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::audit::AuditStore;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
    method: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

type LatencyFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

/// The receiver's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    outbox_pending: Gauge,
    outbox_age: Gauge<f64, AtomicU64>,
    published: Counter,
    published_seen: AtomicI64,
    outcomes: Family<StatusLabels, Counter>,
    dead_letters: Family<ReasonLabels, Counter>,
    dead_letters_open: Family<ReasonLabels, Gauge>,
    finished: AtomicU64,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s: a group-committed write is a few ms, a slow disk or a full
    // writer queue shows in the upper buckets.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        let outbox_pending = Gauge::default();
        let outbox_age = Gauge::<f64, AtomicU64>::default();
        let published = Counter::default();
        let outcomes = Family::<StatusLabels, Counter>::default();
        let dead_letters = Family::<ReasonLabels, Counter>::default();
        let dead_letters_open = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "splashsync_scim_requests",
            "SCIM requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "splashsync_scim_request_duration_seconds",
            "SCIM request latency by route and method",
            latency.clone(),
        );
        registry.register(
            "splashsync_outbox_pending_jobs",
            "Jobs committed but not yet confirmed by RabbitMQ",
            outbox_pending.clone(),
        );
        registry.register(
            "splashsync_outbox_oldest_pending_age_seconds",
            "Age of the oldest unpublished job (0 when none)",
            outbox_age.clone(),
        );
        registry.register(
            "splashsync_outbox_published_jobs",
            "Jobs published with a broker confirm",
            published.clone(),
        );
        registry.register(
            "splashsync_outcome_events",
            "Outcome events taken in, by status",
            outcomes.clone(),
        );
        registry.register(
            "splashsync_dead_letters_received",
            "Dead letters taken in, by reason",
            dead_letters.clone(),
        );
        registry.register(
            "splashsync_dead_letters_open",
            "Dead letters waiting for an operator, by reason",
            dead_letters_open.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            outbox_pending,
            outbox_age,
            published,
            published_seen: AtomicI64::new(0),
            outcomes,
            dead_letters,
            dead_letters_open,
            finished: AtomicU64::new(0),
        }
    }

    /// Counts one outcome event taken in.
    pub fn outcome(&self, status: &str) {
        self.outcomes
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
        if status != "retrying" {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one dead letter taken in.
    pub fn dead_letter(&self, reason: &str) {
        self.dead_letters
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Jobs finished (applied, skipped or dead-lettered) since start: the drain counter.
    pub fn finished_jobs(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    fn observe(&self, endpoint: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_string(),
                method: method.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
                method: method.to_string(),
            })
            .observe(seconds);
    }

    /// Refreshes the store-backed gauges, then encodes everything.
    pub async fn render(&self, audit: &dyn AuditStore) -> Result<String, std::fmt::Error> {
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
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Middleware: counts and times every request to a SCIM route.
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .filter(|p| p.starts_with("/scim/"));
    let Some(endpoint) = endpoint else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        &endpoint,
        &method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn serve(
    State((metrics, audit)): State<(Arc<Metrics>, Arc<dyn AuditStore>)>,
) -> Response {
    match metrics.render(audit.as_ref()).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
