//! Prometheus metrics of a worker, served at `/metrics` as OpenMetrics or Prometheus text
//! 0.0.4 (as the scrape asks: `splashsync_runtime::exposition`).
//!
//! A leaf: it imports nothing of the worker. [`Metrics`] owns every instrument and its
//! registry; other parts record into it, or into the handles it gives out (the Splashtop
//! client reports calls to [`ApiMetrics`], the limiter records into its wait histogram).
//! The supervised tasks' restarts and readiness, and the process's panics, are read at
//! each scrape from the runtime's [`Health`] and panic counter, and the rate limiter's
//! effective rate from the reader [`Metrics::watch_rate`] is given ([`collectors`]).
//! Labels are bounded: job kind, outcome, dead-letter class, task name, HTTP status, an
//! HTTP method from a fixed list (anything else is `other`), and Splashtop's error code
//! from its contract's list ([`code_label`]).

mod collectors;
mod mirror;

pub use mirror::MirrorMetrics;

use std::time::SystemTime;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use splashsync_runtime::exposition::{build_info_gauge, BUILD_INFO, BUILD_INFO_HELP};
use splashsync_runtime::supervisor::Health;
use splashtop_api::{ApiError, CallObserver};

pub use collectors::RateReading;
use collectors::{RateCollector, RateSource, RuntimeCollector};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    /// The HTTP status, or `error` when no answer came (connect error, timeout).
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

/// `method` if it is one of the HTTP methods, else `other`: a label never takes a value
/// nobody listed.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or("other")
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RetryLabels {
    kind: &'static str,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeadLabels {
    kind: &'static str,
    reason: &'static str,
    code: String,
}

pub use splashtop_api::error::code_label;

/// Job ages: from a tenth of a second to a day (a job that waited out an outage).
fn age_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 2.0, 21))
}

type AgeFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

/// Seconds since `created_at` (RFC 3339), if it parses and is in the past.
fn seconds_since(created_at: &str) -> Option<f64> {
    let at =
        time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
            .ok()?;
    SystemTime::now()
        .duration_since(SystemTime::from(at))
        .ok()
        .map(|d| d.as_secs_f64())
}

type DurationFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    // 5 ms to ~40 s: past the default 30-second request timeout.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The limiter's wait histogram: most calls wait nothing, a throttled team waits up to a minute.
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Splashtop API calls by method and status, and their latency; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ApiMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: DurationFamily,
}

impl Default for ApiMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(request_histogram),
        }
    }
}

impl CallObserver for ApiMetrics {
    fn observe(&self, method: &str, status: Option<u16>, elapsed: std::time::Duration) {
        self.record(method, status, elapsed.as_secs_f64());
    }
}

impl ApiMetrics {
    /// Records one call: its method, its status (`None`: no answer came) and how long it took.
    pub fn record(&self, method: &str, status: Option<u16>, seconds: f64) {
        let method = method_label(method);
        // A status is three digits (100 to 999): a bounded label.
        let status = status
            .filter(|s| (100..1000).contains(s))
            .map_or_else(|| "error".to_string(), |s| s.to_string());
        self.requests
            .get_or_create(&RequestLabels { method, status })
            .inc();
        self.duration
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "splashsync_worker_splashtop_requests",
            "Splashtop API requests by method and HTTP status (error: no answer)",
            self.requests.clone(),
        );
        registry.register(
            "splashsync_worker_splashtop_request_duration_seconds",
            "Splashtop API request latency by method, body included",
            self.duration.clone(),
        );
    }
}

/// A worker's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<JobLabels, Counter>,
    retries: Family<RetryLabels, Counter>,
    dead_letters: Family<DeadLabels, Counter>,
    job_age: AgeFamily,
    scim_to_applied: AgeFamily,
    partitions_held: Gauge,
    live_workers: Gauge,
    api: ApiMetrics,
    limiter_wait: Histogram,
    limiter_waiting: Gauge,
    retry_after_capped: Counter,
    rate: RateSource,
    coalesced: Family<KindLabels, Counter>,
    handed_back: Counter,
    mirror: MirrorMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, with a health registry of its own.
    pub fn new() -> Self {
        Self::with_health(Health::new())
    }

    /// Registers every metric; the supervised tasks' restarts and readiness come from
    /// `health`.
    pub fn with_health(health: Health) -> Self {
        let mut registry = Registry::default();
        let this = Self {
            registry: Registry::default(),
            jobs: Family::default(),
            retries: Family::default(),
            dead_letters: Family::default(),
            job_age: Family::new_with_constructor(age_histogram),
            scim_to_applied: Family::new_with_constructor(age_histogram),
            partitions_held: Gauge::default(),
            live_workers: Gauge::default(),
            api: ApiMetrics::default(),
            limiter_wait: wait_histogram(),
            limiter_waiting: Gauge::default(),
            retry_after_capped: Counter::default(),
            rate: RateSource::default(),
            coalesced: Family::default(),
            handed_back: Counter::default(),
            mirror: MirrorMetrics::default(),
        };
        registry.register(BUILD_INFO, BUILD_INFO_HELP, build_info_gauge());
        registry.register(
            "splashsync_worker_jobs",
            "Jobs finished, by kind and outcome (applied, skipped_stale, superseded, dead_lettered)",
            this.jobs.clone(),
        );
        registry.register(
            "splashsync_worker_job_retries",
            "Transient failures retried in place, by job kind and Splashtop error code (rate_limited, internal_error, none: no answer)",
            this.retries.clone(),
        );
        registry.register(
            "splashsync_worker_dead_letters",
            "Jobs sent to the dead-letter queue, by kind, reason and Splashtop error code (seat_limit_reached, sso_method_not_found, ..., other, none)",
            this.dead_letters.clone(),
        );
        registry.register(
            "splashsync_worker_job_age_seconds",
            "Age of a job (since the receiver committed its SCIM change) when this worker takes it, by kind",
            this.job_age.clone(),
        );
        registry.register(
            "splashsync_worker_scim_to_applied_seconds",
            "From the receiver's commit of a SCIM change to Splashtop having applied it, by kind",
            this.scim_to_applied.clone(),
        );
        registry.register(
            "splashsync_worker_rate_limiter_wait_seconds",
            "Time a Splashtop call waited for its rate-limiter slot",
            this.limiter_wait.clone(),
        );
        registry.register(
            "splashsync_worker_rate_limiter_waiting",
            "Splashtop calls waiting for their rate-limiter slot right now",
            this.limiter_waiting.clone(),
        );
        registry.register(
            "splashsync_worker_retry_after_capped",
            "Retry-After values longer than SPLASHSYNC_MAX_RETRY_AFTER_SECS, cut down to it",
            this.retry_after_capped.clone(),
        );
        registry.register(
            "splashsync_worker_partitions_held",
            "Partition queues this worker consumes",
            this.partitions_held.clone(),
        );
        registry.register(
            "splashsync_worker_live_workers",
            "Live workers in the shared heartbeat set, as this worker last saw it",
            this.live_workers.clone(),
        );
        this.api.register(&mut registry);
        registry.register_collector(Box::new(RuntimeCollector { health }));
        registry.register_collector(Box::new(RateCollector {
            source: this.rate.clone(),
        }));
        registry.register(
            "splashsync_worker_jobs_coalesced",
            "Jobs not applied because a newer job of the same key was already delivered behind them (superseded)",
            this.coalesced.clone(),
        );
        registry.register(
            "splashsync_worker_windows_handed_back",
            "Partition windows handed back to their queue before RabbitMQ's consumer timeout",
            this.handed_back.clone(),
        );
        this.mirror.register(&mut registry);
        Self { registry, ..this }
    }

    /// Where the Splashtop client reports its calls.
    pub fn api_calls(&self) -> ApiMetrics {
        self.api.clone()
    }

    /// The histogram of how long calls waited for their rate-limiter slot, in seconds.
    pub fn limiter_wait(&self) -> Histogram {
        self.limiter_wait.clone()
    }

    /// The gauge of calls waiting for their rate-limiter slot.
    pub fn limiter_waiting(&self) -> Gauge {
        self.limiter_waiting.clone()
    }

    /// The counter of Retry-After values cut down to the cap.
    pub fn retry_after_capped(&self) -> Counter {
        self.retry_after_capped.clone()
    }

    /// Reads the rate limiter through `read` at each scrape (the first reader given stays).
    pub fn watch_rate(&self, read: impl Fn() -> RateReading + Send + Sync + 'static) {
        self.rate.set(Box::new(read));
    }

    /// Counts a finished job: `applied`, `skipped_stale` or `dead_lettered`.
    pub(crate) fn job(&self, kind: &'static str, outcome: &'static str) {
        self.jobs.get_or_create(&JobLabels { kind, outcome }).inc();
    }

    /// Counts a job superseded by a newer one of its key (also a finished job).
    pub(crate) fn coalesced(&self, kind: &'static str) {
        self.coalesced.get_or_create(&KindLabels { kind }).inc();
        self.job(kind, "superseded");
    }

    /// Counts a partition window handed back to its queue.
    pub(crate) fn window_handed_back(&self) {
        self.handed_back.inc();
    }

    /// The team mirror's counters.
    pub fn mirror(&self) -> &MirrorMetrics {
        &self.mirror
    }

    /// Counts one retry of a job after `error`.
    pub(crate) fn retry(&self, kind: &'static str, error: &ApiError) {
        let code = match error {
            ApiError::Permanent { code, status, .. } => {
                code_label(Some(code.as_str()), Some(*status))
            }
            ApiError::Transient { status, .. } => code_label(None, *status),
        };
        self.retries
            .get_or_create(&RetryLabels { kind, code })
            .inc();
    }

    /// Counts a dead-lettered job (also a finished job) with its reason class and
    /// Splashtop's error code (or HTTP status, when it gave no code).
    pub(crate) fn dead_letter(
        &self,
        kind: &'static str,
        reason: &'static str,
        code: Option<&str>,
        status: Option<u16>,
    ) {
        let code = code_label(code, status);
        self.dead_letters
            .get_or_create(&DeadLabels { kind, reason, code })
            .inc();
        self.job(kind, "dead_lettered");
    }

    /// Records the age of a job (`created_at`, RFC 3339) as this worker takes it.
    pub(crate) fn job_taken(&self, kind: &'static str, created_at: &str) {
        if let Some(age) = seconds_since(created_at) {
            self.job_age
                .get_or_create(&KindLabels { kind })
                .observe(age);
        }
    }

    /// Records the time from a job's SCIM change (`created_at`) to its being applied.
    pub(crate) fn job_applied(&self, kind: &'static str, created_at: &str) {
        if let Some(age) = seconds_since(created_at) {
            self.scim_to_applied
                .get_or_create(&KindLabels { kind })
                .observe(age);
        }
    }

    /// Sets the number of partitions consumed.
    pub(crate) fn set_partitions_held(&self, n: usize) {
        self.partitions_held
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Sets the number of live workers seen.
    pub(crate) fn set_live_workers(&self, n: usize) {
        self.live_workers.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Everything in the OpenMetrics text format.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
