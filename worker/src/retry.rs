//! Retrying a job's transient failures in place, on [`backon`].
//!
//! The job keeps its partition while it waits, so per-key order holds and the retries do
//! not hammer (docs/DESIGN.md, invariant 6): exponential backoff with jitter, so
//! partitions that failed together do not retry together; never sooner than the server's
//! Retry-After; until the retry budget (wall time since the job was taken) would be
//! exceeded, and the caller dead-letters it. The budget is kept well under RabbitMQ's 30-minute consumer timeout,
//! which would otherwise close the channel and redeliver the job. A stop (shutdown, or the
//! partition moving to another worker) ends the wait at once and leaves the job unacked:
//! RabbitMQ gives it back to the partition's next consumer, still first in line.
//!
//! What backon does: the delay sequence ([`RetryPolicy::backoff`]), the loop, which errors
//! are retried (`when`), the hook that sees each delay before it is slept (`adjust`) and
//! the sleep itself. What it cannot express, done here in its hooks:
//! - Retry-After as a floor under the delay: `adjust` replaces backon's delay. It comes
//!   already capped (`SPLASHSYNC_MAX_RETRY_AFTER_SECS`, by [`crate::limiter`]'s API
//!   wrapper), and the wait counts against the budget like any other.
//! - a budget of wall time, calls included: backon's `with_total_delay` only adds up its
//!   own sleeps, so `adjust` checks the elapsed time itself and ends the retries.
//! - an async step before each wait (the caller publishes a "retrying" event, so an
//!   operator sees it while the job waits): backon's `notify` is synchronous, so it hands
//!   the step to the sleeper, which runs it before sleeping.
//! - a stop: the sleeper also ends when the stop signal comes, and the next attempt then
//!   does not run. Waits inside an attempt (the rate limiter's) end too: the attempt runs
//!   with its job's stop signal at hand ([`unless_stopped`]), since the Splashtop API
//!   trait has no place to carry it. A transient failure that comes with the stop already
//!   given (such as a rate-limiter wait cut short) ends the retries as stopped, without a
//!   "retrying" step first: the job goes back to its queue, not into another wait.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::future::BoxFuture;
use splashtop_api::ApiError;
use tokio::sync::watch;
use tokio::time::Instant;

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
    /// Total time one job may spend, its attempts and waits included.
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
    /// backon's exponential backoff for this policy: the n-th wait (1-based) stays under
    /// the ceiling `min(cap, base·2ⁿ⁻¹)`.
    pub fn backoff(&self) -> ExponentialBuilder {
        // backon offers no full jitter: its jitter adds uniform(0, d) to each delay d, so
        // waits fall in [d, 2d). Starting from half the base and stopping at half the cap
        // keeps every wait under full jitter's ceiling and spreads partitions that failed
        // together over the upper half of it. Only the near-immediate retries of full
        // jitter are lost, which "never hammer" (docs/DESIGN.md, invariant 6) does not miss.
        ExponentialBuilder::new()
            .with_min_delay(self.base / 2)
            .with_max_delay(self.cap / 2)
            .with_factor(2.0)
            .with_jitter()
            // Built without backon's `std` feature, its generator would start from one
            // fixed seed: every job would draw the same "random" waits.
            .with_jitter_seed(rand::random())
            .without_max_times()
    }

    /// The wait before the next attempt given backon's `backoff` and the server's
    /// Retry-After, or `None` when it would take the job past its budget (`elapsed`
    /// already spent).
    pub fn delay(
        &self,
        backoff: Duration,
        retry_after: Option<Duration>,
        elapsed: Duration,
    ) -> Option<Duration> {
        // Retry-After is a floor: the server said when it will answer again. A little
        // jitter on top keeps partitions throttled together from returning together.
        let delay = match retry_after {
            Some(after) => after.saturating_add(backoff.min(self.base)),
            None => backoff,
        };
        (elapsed.saturating_add(delay) <= self.budget).then_some(delay)
    }
}

/// Why retrying ended without success.
#[derive(Debug)]
pub enum GaveUp {
    /// A permanent failure: retrying cannot help.
    Permanent(ApiError),
    /// The last transient failure, when waiting again would exceed the budget.
    Exhausted(ApiError),
    /// Stopped while waiting to retry; the job was not finished.
    Stopped,
}

tokio::task_local! {
    /// The stop signal of the job whose attempt is running on this task.
    static STOP: watch::Receiver<bool>;
}

/// Runs `wait` to its end, unless the job whose attempt is running here is told to stop
/// first (then `None`). Outside an attempt of [`retry`] it always runs to its end.
pub async fn unless_stopped<F: Future>(wait: F) -> Option<F::Output> {
    let Ok(mut stop) = STOP.try_with(watch::Receiver::clone) else {
        return Some(wait.await);
    };
    let stopped = async {
        // A dropped sender never stops us (as in the sleeper below).
        if stop.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        biased;
        () = stopped => None,
        out = wait => Some(out),
    }
}

/// What one attempt ended with, as backon sees it.
enum Failure {
    Api(ApiError),
    Stopped,
}

/// A step to run before the next wait, handed from backon's `notify` to the sleeper.
type Pending = Arc<Mutex<Option<BoxFuture<'static, ()>>>>;

/// backon's sleeper: runs the pending step, then waits for the delay or the stop,
/// whichever comes first. A named type rather than a closure: a closure would carry
/// `retry`'s generic parameters, and backon wants its sleeper `'static`.
struct WaitOrStop {
    pending: Pending,
    stop: watch::Receiver<bool>,
}

impl backon::Sleeper for WaitOrStop {
    type Sleep = BoxFuture<'static, ()>;

    fn sleep(&self, delay: Duration) -> Self::Sleep {
        let first = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut stop = self.stop.clone();
        Box::pin(async move {
            if let Some(first) = first {
                first.await;
            }
            let stopped = async {
                // A dropped sender never stops us: without this the wait would end at
                // once and the retries would hammer.
                if stop.wait_for(|s| *s).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = stopped => {}
            }
        })
    }
}

/// Runs `attempt` (given its 1-based number) until it succeeds, fails permanently, the
/// budget runs out (counted from `started`) or `stop` turns true while it waits. Before
/// each wait, `before_wait(error, delay, attempts)` gives a step to run first. Returns the
/// result and the number of attempts made. An attempt in flight is never interrupted.
pub async fn retry<T, Fut>(
    policy: &RetryPolicy,
    started: Instant,
    stop: &watch::Receiver<bool>,
    mut attempt: impl FnMut(u32) -> Fut,
    mut before_wait: impl FnMut(&ApiError, Duration, u32) -> BoxFuture<'static, ()>,
) -> (Result<T, GaveUp>, u32)
where
    Fut: Future<Output = Result<T, ApiError>>,
{
    let attempts = AtomicU32::new(0);
    let pending = Pending::default();
    let run = || {
        // The first attempt always runs: the job was taken before any stop.
        let stopped = attempts.load(Ordering::Relaxed) > 0 && *stop.borrow();
        let call = (!stopped).then(|| attempt(attempts.fetch_add(1, Ordering::Relaxed) + 1));
        let stop = stop.clone();
        async move {
            let Some(call) = call else {
                return Err(Failure::Stopped);
            };
            match STOP.scope(stop.clone(), call).await {
                Ok(done) => Ok(done),
                Err(ApiError::Transient { .. }) if *stop.borrow() => Err(Failure::Stopped),
                Err(e) => Err(Failure::Api(e)),
            }
        }
    };
    let sleeper = WaitOrStop {
        pending: pending.clone(),
        stop: stop.clone(),
    };
    let result = run
        .retry(policy.backoff())
        .sleep(sleeper)
        .when(|f| matches!(f, Failure::Api(ApiError::Transient { .. })))
        .adjust(|f, backoff| match f {
            Failure::Api(e) => policy.delay(backoff?, e.retry_after(), started.elapsed()),
            Failure::Stopped => None,
        })
        .notify(|f, delay| {
            if let Failure::Api(e) = f {
                let step = before_wait(e, delay, attempts.load(Ordering::Relaxed));
                *pending.lock().unwrap_or_else(PoisonError::into_inner) = Some(step);
            }
        })
        .await;
    let result = result.map_err(|f| match f {
        Failure::Stopped => GaveUp::Stopped,
        Failure::Api(e @ ApiError::Permanent { .. }) => GaveUp::Permanent(e),
        Failure::Api(e) => GaveUp::Exhausted(e),
    });
    (result, attempts.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests;
