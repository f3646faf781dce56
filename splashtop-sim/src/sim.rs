//! The simulator's shared state: configuration, the mutex-protected team, log, faults
//! (with their counters and rate-limit window), and the shutdown signal.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

use crate::config::SimConfig;
use crate::domain::{Journal, Team};
use crate::faults::FaultState;

/// A handle on the shared simulator.
pub(crate) type Sim = Arc<Shared>;

/// Everything the handlers share.
pub(crate) struct Shared {
    pub(crate) config: SimConfig,
    inner: Mutex<Inner>,
    closing: watch::Sender<bool>,
}

/// The mutable part; the lock is never held across an `.await`.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) team: Team,
    pub(crate) journal: Journal,
    pub(crate) faults: FaultState,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// A fresh simulator for this configuration.
    pub(crate) fn new(config: SimConfig) -> Sim {
        let inner = Inner {
            team: Team::new(&config.team_id, config.rules()),
            journal: Journal::default(),
            faults: FaultState::new(config.faults.clone()),
        };
        Arc::new(Self {
            config,
            inner: Mutex::new(inner),
            closing: watch::channel(false).0,
        })
    }

    /// Locks the mutable state (a poisoned lock is still usable: every change is made whole).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears the team, the log, the counters and the rate-limit window (faults stay).
    pub(crate) fn reset(&self) {
        let mut inner = self.lock();
        inner.team = Team::new(&self.config.team_id, self.config.rules());
        inner.journal = Journal::default();
        inner.faults.reset();
    }

    /// Tells hanging requests that the server is shutting down.
    pub(crate) fn begin_shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once the server is shutting down.
    pub(crate) async fn closing(&self) {
        let mut rx = self.closing.subscribe();
        // An error means the sender is gone, which cannot happen while `self` lives.
        let _ = rx.wait_for(|closing| *closing).await;
    }
}
