//! How long to wait before retrying a transient failure, and when to give up.
//!
//! Exponential backoff with full jitter (a uniform delay in `0..=min(cap, base·2ⁿ)`, so
//! partitions that failed together do not retry together), never shorter than the
//! server's Retry-After. The job is retried in place, holding its partition (per-key
//! order first), until the budget would be exceeded; then it is dead-lettered. The
//! budget is kept well under RabbitMQ's 30-minute consumer timeout, which would
//! otherwise close the channel and redeliver the job.

use std::time::Duration;

use rand::Rng;

/// Default retry budget per job.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(300);
/// The largest budget accepted: RabbitMQ's default consumer timeout is 30 minutes.
pub const MAX_BUDGET: Duration = Duration::from_secs(20 * 60);

/// The retry policy of one worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff ceiling.
    pub base: Duration,
    /// Largest backoff ceiling.
    pub cap: Duration,
    /// Total time one job may spend retrying.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(30),
            budget: DEFAULT_BUDGET,
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1-based) given the server's Retry-After,
    /// or `None` when waiting it would exceed the budget (`elapsed` already spent).
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        elapsed: Duration,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.cap);
        let jittered = Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()));
        // Retry-After is a floor: the server said when it will answer again. A small
        // jitter on top keeps partitions throttled together from returning together.
        let delay = match retry_after {
            Some(r) => r + jittered.min(self.base),
            None => jittered,
        };
        (elapsed + delay <= self.budget).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_within_the_capped_ceiling_and_honour_retry_after() {
        let policy = RetryPolicy::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..30 {
            let d = policy
                .delay(attempt, None, Duration::ZERO, &mut rng)
                .unwrap();
            let ceiling = Duration::from_millis(200)
                .saturating_mul(1 << (attempt - 1).min(20))
                .min(policy.cap);
            assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
        }
        let d = policy
            .delay(1, Some(Duration::from_secs(5)), Duration::ZERO, &mut rng)
            .unwrap();
        assert!(d >= Duration::from_secs(5) && d <= Duration::from_millis(5200));
    }

    #[test]
    fn the_budget_ends_the_retries() {
        let policy = RetryPolicy {
            budget: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(policy
            .delay(1, Some(Duration::from_secs(11)), Duration::ZERO, &mut rng)
            .is_none());
        assert!(policy
            .delay(
                1,
                Some(Duration::from_secs(2)),
                Duration::from_secs(9),
                &mut rng
            )
            .is_none());
        assert!(policy
            .delay(
                1,
                Some(Duration::from_secs(2)),
                Duration::from_secs(1),
                &mut rng
            )
            .is_some());
    }
}
