//! Fault injection, decided without HTTP: the [`Faults`] in force, the rate-limit window,
//! the request counters, and [`FaultState::decide`], which picks what happens to one API
//! request. `http`'s gate carries the decision out. A faulted request never reaches the
//! team, so it changes nothing, except for `error_after_apply_rate`, which applies the
//! change and then answers 500.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use anyhow::{bail, Result};
use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The fault settings (`GET`/`PUT`/`PATCH /_sim/faults`); rates are fractions in 0..=1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of API requests answered 500, 502 or 503 `internal_error`, not applied.
    pub error_rate: f64,
    /// Fraction of state-changing requests that are applied and then answered 500.
    pub error_after_apply_rate: f64,
    /// Fraction of API requests answered 429 `rate_limited` with `Retry-After: retry_after_secs`.
    pub throttle_rate: f64,
    /// `Retry-After` seconds of the throttled (random) 429 answers.
    pub retry_after_secs: u64,
    /// Hard limit of API requests per sliding 60 s window; 0 means no limit.
    pub rate_limit_per_minute: u32,
    /// Latency added before every API request is handled, in milliseconds.
    pub latency_ms: u64,
    /// Fraction of API requests that hang for `timeout_secs` and then answer 504, not applied.
    pub timeout_rate: f64,
    /// How long a hanging request hangs, in seconds (default 120).
    pub timeout_secs: u64,
    /// Fraction of API requests whose connection is closed without any answer, not applied.
    pub reset_rate: f64,
    /// Fraction of successful API requests (applied, for a change) whose 2xx answer comes
    /// with a body that does not parse: the head is right, the JSON is cut short.
    pub garbled_answer_rate: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            error_after_apply_rate: 0.0,
            throttle_rate: 0.0,
            retry_after_secs: 1,
            rate_limit_per_minute: 0,
            latency_ms: 0,
            timeout_rate: 0.0,
            timeout_secs: 120,
            reset_rate: 0.0,
            garbled_answer_rate: 0.0,
        }
    }
}

impl Faults {
    /// Checks that every rate is a fraction in 0..=1.
    pub fn validate(&self) -> Result<()> {
        let rates = [
            ("error_rate", self.error_rate),
            ("error_after_apply_rate", self.error_after_apply_rate),
            ("throttle_rate", self.throttle_rate),
            ("timeout_rate", self.timeout_rate),
            ("reset_rate", self.reset_rate),
            ("garbled_answer_rate", self.garbled_answer_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                bail!("{name} must be between 0 and 1, got {rate}");
            }
        }
        Ok(())
    }
}

/// Counters over API requests (control endpoints are not counted): `GET /_sim/stats`.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct Stats {
    pub(crate) requests: u64,
    pub(crate) by_status: BTreeMap<String, u64>,
    /// Requests by kind of call: method, route and query parameter names, e.g.
    /// `GET /teams/{}/users?email` (a lookup) or `GET /teams/{}/users?cursor&limit` (a page).
    pub(crate) by_call: BTreeMap<String, u64>,
    pub(crate) rejected_rate_limited: u64,
    pub(crate) throttled: u64,
    pub(crate) injected_errors: u64,
    pub(crate) errors_after_apply: u64,
    pub(crate) timeouts: u64,
    pub(crate) resets: u64,
    pub(crate) garbled_answers: u64,
}

impl Stats {
    /// Counts one API request by its kind of call.
    pub(crate) fn count_call(&mut self, call: String) {
        *self.by_call.entry(call).or_default() += 1;
    }

    /// Counts one answered API request by status.
    pub(crate) fn count_status(&mut self, status: u16) {
        *self.by_status.entry(status.to_string()).or_default() += 1;
    }
}

/// What happens to one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// 429: over the hard limit; retry after this many seconds.
    RateLimited(u64),
    /// 429: randomly throttled; retry after this many seconds.
    Throttled(u64),
    /// 500, 502 or 503 without applying.
    Error(u16),
    /// Hang this many seconds, then 504.
    Timeout(u64),
    /// Close the connection without an answer.
    Reset,
    /// Handle it; with `error_after_apply`, answer 500 after applying; with `garbled`,
    /// cut a successful answer's body short.
    Pass {
        /// Apply, then answer 500.
        error_after_apply: bool,
        /// Apply, then answer the success status with a body that does not parse.
        garbled: bool,
    },
}

/// The faults in force, the rate-limit window and the counters.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub(crate) settings: Faults,
    /// When the API requests inside the current 60 s rate-limit window were admitted.
    window: VecDeque<Instant>,
    pub(crate) stats: Stats,
}

impl FaultState {
    /// No request seen yet, under `settings`.
    pub(crate) fn new(settings: Faults) -> Self {
        Self {
            settings,
            window: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Forgets the window and the counters; the faults stay.
    pub(crate) fn reset(&mut self) {
        self.window.clear();
        self.stats = Stats::default();
    }

    /// Decides one authenticated API request (`changes_state`: not a GET): the rate limit
    /// first, then at most one random fault, in the contract's order.
    pub(crate) fn decide(&mut self, changes_state: bool) -> Decision {
        let limit = self.settings.rate_limit_per_minute;
        if limit > 0 {
            let now = Instant::now();
            let window = Duration::from_secs(60);
            while self
                .window
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                self.window.pop_front();
            }
            if self.window.len() >= limit as usize {
                let frees_in = self.window.front().map_or(window, |oldest| {
                    window.saturating_sub(now.duration_since(*oldest))
                });
                self.stats.rejected_rate_limited += 1;
                return Decision::RateLimited(ceil_secs(frees_in));
            }
            self.window.push_back(now);
        }
        let faults = &self.settings;
        let stats = &mut self.stats;
        let mut rng = rand::rng();
        let mut hit = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
        if hit(faults.throttle_rate) {
            stats.throttled += 1;
            Decision::Throttled(faults.retry_after_secs)
        } else if hit(faults.error_rate) {
            stats.injected_errors += 1;
            let statuses = [500, 502, 503];
            Decision::Error(statuses[rand::rng().random_range(0..statuses.len())])
        } else if hit(faults.timeout_rate) {
            stats.timeouts += 1;
            Decision::Timeout(faults.timeout_secs)
        } else if hit(faults.reset_rate) {
            stats.resets += 1;
            Decision::Reset
        } else {
            let error_after_apply = changes_state && hit(faults.error_after_apply_rate);
            let garbled = !error_after_apply && hit(faults.garbled_answer_rate);
            Decision::Pass {
                error_after_apply,
                garbled,
            }
        }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_retry_after_up() {
        assert_eq!(ceil_secs(Duration::from_millis(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(59_001)), 60);
        assert_eq!(ceil_secs(Duration::ZERO), 1);
    }

    #[test]
    fn validates_rates() {
        assert!(Faults::default().validate().is_ok());
        let bad = Faults {
            reset_rate: 1.5,
            ..Faults::default()
        };
        assert!(bad.validate().is_err());
    }
}
