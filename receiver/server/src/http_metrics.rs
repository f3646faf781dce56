//! SCIM requests counted by route template, method and status, with a latency histogram.
//!
//! Every label comes from a fixed set, so no client can grow `/metrics`: the endpoint is
//! the matched route template (never the raw path, whose ids would explode the label set)
//! or `unmatched`, the method one of the standard ones or `other`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use crate::metrics::Metrics;

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

type LatencyFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s: a group-committed write is a few ms, a slow disk or a full
    // writer queue shows in the upper buckets.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The SCIM request metrics.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
}

impl RequestMetrics {
    /// Creates the metrics and registers them into `metrics`.
    pub fn register(metrics: &Metrics) -> Arc<Self> {
        let this = Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        metrics.register(
            "splashsync_scim_requests",
            "SCIM requests by route, method and status",
            this.requests.clone(),
        );
        metrics.register(
            "splashsync_scim_request_duration_seconds",
            "SCIM request latency by route and method",
            this.latency.clone(),
        );
        Arc::new(this)
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
}

/// The method label: a standard method, or `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The endpoint label of a request under `/scim/`: its route template, or `unmatched`
/// (a fallback's catch-all template names no endpoint).
fn endpoint_label(req: &Request) -> String {
    req.extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
        .filter(|p| p.starts_with("/scim/") && !p.contains('*'))
        .unwrap_or("unmatched")
        .to_owned()
}

/// Middleware: counts and times every request under `/scim/`.
pub async fn track(
    State(metrics): State<Arc<RequestMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/scim/") {
        return next.run(req).await;
    }
    let endpoint = endpoint_label(&req);
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.observe(
        &endpoint,
        method,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}
