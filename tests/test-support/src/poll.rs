//! The one poller: every wait in the tests is a condition checked until it holds or a
//! deadline passes, never a bare sleep.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long [`eventually`] waits between two checks.
const INTERVAL: Duration = Duration::from_millis(50);

/// What a condition of [`eventually`] answers: done (with a value) or not yet (with what it
/// saw instead, for the message should the deadline pass).
pub trait Check {
    /// What `eventually` returns once the condition holds.
    type Output;
    /// What the condition saw while it did not hold.
    type Miss: Display;
    /// `Ok` once the condition holds.
    fn check(self) -> Result<Self::Output, Self::Miss>;
}

impl Check for bool {
    type Output = ();
    type Miss = &'static str;
    fn check(self) -> Result<(), &'static str> {
        self.then_some(()).ok_or("the condition was false")
    }
}

impl<T> Check for Option<T> {
    type Output = T;
    type Miss = &'static str;
    fn check(self) -> Result<T, &'static str> {
        self.ok_or("nothing yet")
    }
}

impl<T, E: Display> Check for Result<T, E> {
    type Output = T;
    type Miss = E;
    fn check(self) -> Result<T, E> {
        self
    }
}

/// Checks `condition` until it holds and returns what it answered; panics naming `what`, and
/// what the condition last saw, once `deadline` has passed.
///
/// The condition answers a `bool`, an `Option` (`Some` holds) or a `Result` (`Ok` holds; the
/// `Err` says what was seen instead).
pub async fn eventually<C, F, Fut>(deadline: Duration, what: &str, mut condition: F) -> C::Output
where
    C: Check,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let start = Instant::now();
    loop {
        let miss = match condition().await.check() {
            Ok(done) => return done,
            Err(miss) => miss,
        };
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}; last seen: {miss}"
        );
        // The pause between two checks: the one sleep every test wait goes through.
        tokio::time::sleep(INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_condition_that_comes_true_returns_its_value() {
        let mut calls = 0;
        let got = eventually(Duration::from_secs(5), "the third call", || {
            calls += 1;
            std::future::ready((calls >= 3).then_some(calls))
        })
        .await;
        assert_eq!(got, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the impossible; last seen: still 1")]
    async fn a_condition_that_never_holds_panics_with_what_it_last_saw() {
        eventually(Duration::from_millis(120), "the impossible", || async {
            Err::<(), _>("still 1")
        })
        .await;
    }

    #[tokio::test]
    async fn a_bool_condition_returns_unit() {
        eventually(Duration::from_secs(1), "true", || async { true }).await;
    }
}
