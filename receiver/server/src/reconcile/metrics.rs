//! Reconciliation's metrics: drift found by kind, jobs written, listing pages read (the
//! runs' cost in Splashtop calls), runs by result.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use splashsync_protocol::reconcile::{DriftKind, ReconcileReport};

use crate::metrics::Metrics;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

/// The counters, registered once.
#[derive(Debug, Clone, Default)]
pub struct ReconcileMetrics {
    found: Family<KindLabels, Counter>,
    fixed: Counter,
    pages: Counter,
    runs: Family<ResultLabels, Counter>,
}

impl ReconcileMetrics {
    /// Registers the counters into `metrics`.
    pub fn register(metrics: &Metrics) -> Self {
        let m = Self::default();
        metrics.register(
            "splashsync_drift_found",
            "Drift items reconciliation found, by kind (a dry run's included)",
            m.found.clone(),
        );
        metrics.register(
            "splashsync_drift_fixed",
            "Jobs reconciliation wrote to the outbox to fix drift (prunes included)",
            m.fixed.clone(),
        );
        metrics.register(
            "splashsync_reconcile_pages_read",
            "Splashtop listing pages reconciliation read: its cost in Splashtop calls",
            m.pages.clone(),
        );
        metrics.register(
            "splashsync_reconcile_runs",
            "Reconciliation runs by result: done or failed",
            m.runs.clone(),
        );
        for kind in DriftKind::ALL {
            let _ = m.found.get_or_create(&KindLabels {
                kind: kind.as_str().into(),
            });
        }
        m
    }

    /// Counts one listing page read.
    pub fn page_read(&self) {
        self.pages.inc();
    }

    /// Counts a finished run.
    pub fn done(&self, report: &ReconcileReport) {
        for item in &report.items {
            self.found
                .get_or_create(&KindLabels {
                    kind: item.kind.as_str().into(),
                })
                .inc();
        }
        self.fixed.inc_by(report.fixed);
        self.result("done");
    }

    /// Counts a failed run.
    pub fn failed(&self) {
        self.result("failed");
    }

    fn result(&self, result: &str) {
        self.runs
            .get_or_create(&ResultLabels {
                result: result.into(),
            })
            .inc();
    }
}
