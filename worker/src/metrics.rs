//! Prometheus metrics of a worker, served at `/metrics` in the OpenMetrics text format.
//!
//! A leaf: it imports nothing of the worker. [`Metrics`] owns every instrument and its
//! registry; other parts record into it, or into the handles it gives out (the Splashtop
//! client reports calls to [`ApiMetrics`], the limiter records into its wait histogram).
//! The supervised tasks' restarts and readiness, and the process's panics, are read at
//! each scrape from the runtime's [`Health`] and panic counter.
//! Labels are bounded: job kind, outcome, dead-letter class, task name, HTTP status, and
//! an HTTP method from a fixed list (anything else is `other`).

mod mirror;

pub use mirror::MirrorMetrics;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use splashsync_runtime::supervisor::Health;
use splashtop_api::CallObserver;

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
struct DeadLabels {
    kind: &'static str,
    reason: &'static str,
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

/// What the runtime knows, read at each scrape: panics, and each supervised task's
/// restarts and readiness.
#[derive(Debug)]
struct RuntimeCollector {
    health: Health,
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let panics = ConstCounter::new(splashsync_runtime::telemetry::panics());
        panics.encode(encoder.encode_descriptor(
            "splashsync_worker_panics",
            "Panics in any thread or task of this worker (each one is also logged)",
            None,
            panics.metric_type(),
        )?)?;
        let tasks = self.health.snapshot();
        let mut restarts = encoder.encode_descriptor(
            "splashsync_worker_task_restarts",
            "Restarts of a supervised task after it failed, panicked or ended",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (task, state) in &tasks {
            let labels = [("task", *task)];
            ConstCounter::new(state.restarts).encode(restarts.encode_family(&labels)?)?;
        }
        let mut ready = encoder.encode_descriptor(
            "splashsync_worker_task_ready",
            "1 while a supervised task runs, 0 while it waits to be restarted",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (task, state) in &tasks {
            let labels = [("task", *task)];
            let up = i64::from(state.problem.is_none());
            ConstGauge::new(up).encode(ready.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// A worker's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    jobs: Family<JobLabels, Counter>,
    retries: Family<KindLabels, Counter>,
    dead_letters: Family<DeadLabels, Counter>,
    partitions_held: Gauge,
    live_workers: Gauge,
    api: ApiMetrics,
    limiter_wait: Histogram,
    limiter_waiting: Gauge,
    retry_after_capped: Counter,
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
        let api = ApiMetrics::default();
        let limiter_wait = wait_histogram();
        let jobs = Family::<JobLabels, Counter>::default();
        let retries = Family::<KindLabels, Counter>::default();
        let dead_letters = Family::<DeadLabels, Counter>::default();
        let partitions_held = Gauge::default();
        let live_workers = Gauge::default();
        let limiter_waiting = Gauge::default();
        let retry_after_capped = Counter::default();
        let coalesced = Family::<KindLabels, Counter>::default();
        let handed_back = Counter::default();
        registry.register(
            "splashsync_worker_jobs",
            "Jobs finished, by kind and outcome (applied, skipped_stale, superseded, dead_lettered)",
            jobs.clone(),
        );
        registry.register(
            "splashsync_worker_job_retries",
            "Transient failures retried in place, by job kind",
            retries.clone(),
        );
        registry.register(
            "splashsync_worker_dead_letters",
            "Jobs sent to the dead-letter queue, by kind and reason",
            dead_letters.clone(),
        );
        registry.register(
            "splashsync_worker_rate_limiter_wait_seconds",
            "Time a Splashtop call waited for its rate-limiter slot",
            limiter_wait.clone(),
        );
        registry.register(
            "splashsync_worker_rate_limiter_waiting",
            "Splashtop calls waiting for their rate-limiter slot right now",
            limiter_waiting.clone(),
        );
        registry.register(
            "splashsync_worker_retry_after_capped",
            "Retry-After values longer than SPLASHSYNC_MAX_RETRY_AFTER_SECS, cut down to it",
            retry_after_capped.clone(),
        );
        registry.register(
            "splashsync_worker_partitions_held",
            "Partition queues this worker consumes",
            partitions_held.clone(),
        );
        registry.register(
            "splashsync_worker_live_workers",
            "Live workers in the shared heartbeat set, as this worker last saw it",
            live_workers.clone(),
        );
        registry.register(
            "splashsync_worker_jobs_coalesced",
            "Jobs not applied because a newer job of the same key was already delivered behind them (superseded)",
            coalesced.clone(),
        );
        registry.register(
            "splashsync_worker_windows_handed_back",
            "Partition windows handed back to their queue before RabbitMQ's consumer timeout",
            handed_back.clone(),
        );
        api.register(&mut registry);
        let mirror = MirrorMetrics::default();
        mirror.register(&mut registry);
        registry.register_collector(Box::new(RuntimeCollector { health }));
        Self {
            registry,
            jobs,
            retries,
            dead_letters,
            partitions_held,
            live_workers,
            api,
            limiter_wait,
            limiter_waiting,
            retry_after_capped,
            coalesced,
            handed_back,
            mirror,
        }
    }

    /// The team mirror's counters.
    pub fn mirror(&self) -> &MirrorMetrics {
        &self.mirror
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

    /// Counts one retry of a job.
    pub(crate) fn retry(&self, kind: &'static str) {
        self.retries.get_or_create(&KindLabels { kind }).inc();
    }

    /// Counts a dead-lettered job (also a finished job) with its reason class.
    pub(crate) fn dead_letter(&self, kind: &'static str, reason: &'static str) {
        self.dead_letters
            .get_or_create(&DeadLabels { kind, reason })
            .inc();
        self.job(kind, "dead_lettered");
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
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions_and_labels_are_set() {
        let health = Health::new();
        health.ready("session");
        health.not_ready("heartbeat", "failed");
        let metrics = Metrics::with_health(health);
        metrics
            .api_calls()
            .observe("POST", Some(422), std::time::Duration::from_millis(10));
        metrics
            .api_calls()
            .observe("BREW", None, std::time::Duration::from_millis(10));
        metrics.limiter_waiting().set(2);
        metrics.retry_after_capped().inc();
        metrics.job("user", "applied");
        metrics.retry("user");
        metrics.dead_letter("group", "permanent");
        metrics.set_partitions_held(2);
        metrics.set_live_workers(3);
        metrics.mirror().miss();
        metrics.mirror().fill("complete");
        let text = metrics.encode().unwrap();
        for line in [
            r#"splashsync_worker_jobs_total{kind="user",outcome="applied"} 1"#,
            r#"splashsync_worker_jobs_total{kind="group",outcome="dead_lettered"} 1"#,
            r#"splashsync_worker_job_retries_total{kind="user"} 1"#,
            r#"splashsync_worker_dead_letters_total{kind="group",reason="permanent"} 1"#,
            r#"splashsync_worker_splashtop_requests_total{method="POST",status="422"} 1"#,
            r#"splashsync_worker_splashtop_request_duration_seconds_count{method="POST"} 1"#,
            "splashsync_worker_rate_limiter_wait_seconds_count 0",
            "splashsync_worker_partitions_held 2",
            "splashsync_worker_live_workers 3",
            r#"splashsync_worker_splashtop_requests_total{method="other",status="error"} 1"#,
            "splashsync_worker_rate_limiter_waiting 2",
            "splashsync_worker_retry_after_capped_total 1",
            "splashsync_worker_mirror_misses_total 1",
            "splashsync_worker_mirror_reads_total 0",
            r#"splashsync_worker_mirror_fills_total{outcome="complete"} 1"#,
            r#"splashsync_worker_task_restarts_total{task="session"} 0"#,
            r#"splashsync_worker_task_ready{task="session"} 1"#,
            r#"splashsync_worker_task_ready{task="heartbeat"} 0"#,
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(
            text.lines()
                .any(|l| l.starts_with("splashsync_worker_panics_total ")),
            "{text}"
        );
    }
}
