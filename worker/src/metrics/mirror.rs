//! The team mirror's counters: what the mirror saved and what it cost.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FillLabels {
    outcome: &'static str,
}

/// Counters of the team mirror; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct MirrorMetrics {
    misses: Counter,
    reads: Counter,
    pages: Counter,
    fills: Family<FillLabels, Counter>,
}

impl MirrorMetrics {
    /// A write Splashtop refused because the mirror was wrong (404, 409): the entry was
    /// read again and the write retried.
    pub fn miss(&self) {
        self.misses.inc();
    }

    /// A read of one user or group the mirror could not vouch for (not filled, lost,
    /// or an entry whose last answer was lost).
    pub fn read(&self) {
        self.reads.inc();
    }

    /// One listing page read to fill the mirror.
    pub fn page(&self) {
        self.pages.inc();
    }

    /// A fill ended: `complete` or `failed`.
    pub fn fill(&self, outcome: &'static str) {
        self.fills.get_or_create(&FillLabels { outcome }).inc();
    }

    /// How many misses so far.
    pub fn misses(&self) -> u64 {
        self.misses.get()
    }

    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "splashsync_worker_mirror_misses",
            "Writes Splashtop refused because the team mirror was wrong (404, 409); the entry was read again and the write retried",
            self.misses.clone(),
        );
        registry.register(
            "splashsync_worker_mirror_reads",
            "Users or groups read from Splashtop because the mirror could not vouch for them (not filled, lost, or a lost answer)",
            self.reads.clone(),
        );
        registry.register(
            "splashsync_worker_mirror_pages",
            "Listing pages read to fill the team mirror",
            self.pages.clone(),
        );
        registry.register(
            "splashsync_worker_mirror_fills",
            "Fills of the team mirror from the listing, by outcome (complete, failed)",
            self.fills.clone(),
        );
    }
}
