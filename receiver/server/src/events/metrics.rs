//! What the intake counts: outcome events by status, failures and dead letters by
//! Splashtop's error code (a fixed label set: the contract's codes, `other`, `none`), and
//! the jobs finished (the console's drain rate).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use splashsync_admin::samples::Finished;
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashtop_api::error::code_label;

use crate::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    status: String,
    code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
    code: String,
}

/// The intake's counters.
#[derive(Debug)]
pub struct IntakeMetrics {
    outcomes: Family<StatusLabels, Counter>,
    failures: Family<FailureLabels, Counter>,
    dead_letters: Family<ReasonLabels, Counter>,
    finished: AtomicU64,
}

impl IntakeMetrics {
    /// Creates the metrics and registers them into `metrics`.
    pub fn register(metrics: &Metrics) -> Arc<Self> {
        let this = Self {
            outcomes: Family::default(),
            failures: Family::default(),
            dead_letters: Family::default(),
            finished: AtomicU64::new(0),
        };
        metrics.register(
            "splashsync_outcome_events",
            "Outcome events taken in, by status",
            this.outcomes.clone(),
        );
        metrics.register(
            "splashsync_job_failures",
            "Failed attempts taken in (retrying, dead_lettered), by status and Splashtop error code (seat_limit_reached, sso_method_not_found, ..., rate_limited, internal_error, other, none)",
            this.failures.clone(),
        );
        metrics.register(
            "splashsync_dead_letters_received",
            "Dead letters taken in, by reason and Splashtop error code (seat_limit_reached, ..., other, none)",
            this.dead_letters.clone(),
        );
        Arc::new(this)
    }

    /// Counts an outcome event taken in for the first time.
    pub(crate) fn outcome(&self, event: &OutcomeEvent) {
        let status = event.status.as_str();
        self.outcomes
            .get_or_create(&StatusLabels {
                status: status.to_string(),
            })
            .inc();
        if matches!(
            event.status,
            OutcomeStatus::Retrying | OutcomeStatus::DeadLettered
        ) {
            self.failure(event);
        }
        // A job waiting to retry is not finished; every other outcome ends its job.
        if event.status != OutcomeStatus::Retrying {
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn failure(&self, event: &OutcomeEvent) {
        self.failures
            .get_or_create(&FailureLabels {
                status: event.status.as_str().to_string(),
                code: code_label(event.error_code.as_deref(), event.http_status),
            })
            .inc();
    }

    /// Counts a dead letter taken in for the first time.
    pub(crate) fn dead_letter(&self, reason: &str, code: Option<&str>, http_status: Option<i64>) {
        let status = http_status.and_then(|s| u16::try_from(s).ok());
        self.dead_letters
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
                code: code_label(code, status),
            })
            .inc();
    }
}

impl Finished for IntakeMetrics {
    fn finished_jobs(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }
}
