//! The per-team rate limiter every Splashtop API call of a process goes through.
//!
//! A token bucket of capacity one (each call takes the next free slot, slots `1/rate`
//! apart), because Splashtop counts calls in a sliding 60-second window: a bucket of
//! capacity `C` refilling at `r` lets `C + 60 r` calls into one window, so the burst must
//! stay minimal for the sustained rate to reach the limit without ever exceeding it.
//!
//! The configured limit is the team's; each process takes `limit / live workers` (from
//! the heartbeat) times a small safety margin for network jitter. On a 429 the limiter
//! also adapts (AIMD): every partition pauses until Retry-After, the rate halves, and it
//! climbs back additively with each success. That alone tames a worker whose limit was
//! left unconfigured (or set too high).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use prometheus_client::metrics::histogram::Histogram;
use tokio::time::Instant;

use splashtop_api::{
    ApiError, CallContext, CallObserver, TeamApi, TeamGroup, TeamUser, UserProfile,
};

/// Share of the limit actually used, so that jitter between our clock and the API's
/// never pushes one window over.
const SAFETY: f64 = 0.97;
/// The lowest rate AIMD may fall to, in calls per second.
const FLOOR_PER_SEC: f64 = 0.05;

#[derive(Debug)]
struct State {
    /// The earliest time the next call may start.
    next: Instant,
    /// Current rate, calls per second (≤ `ceiling`).
    rate: f64,
    /// This process's share of the team's limit, calls per second.
    ceiling: f64,
}

/// A token bucket shared by all partitions of a process; `per_minute == 0` disables it.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    state: Mutex<State>,
    /// How long each call waited for its slot (zero when unlimited or idle).
    wait: Histogram,
}

impl RateLimiter {
    /// A limiter for a team limit of `per_minute` calls (0: unlimited), one live worker,
    /// recording each call's wait into `wait`.
    pub fn new(per_minute: u32, wait: Histogram) -> Self {
        let ceiling = share(per_minute, 1);
        Self {
            per_minute,
            state: Mutex::new(State {
                next: Instant::now(),
                rate: ceiling,
                ceiling,
            }),
            wait,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This process's current rate, in calls per second (infinite when unlimited).
    pub fn rate(&self) -> f64 {
        if self.per_minute == 0 {
            return f64::INFINITY;
        }
        self.lock().rate
    }

    /// Divides the team's limit among `live` worker processes.
    pub fn set_workers(&self, live: usize) {
        let mut s = self.lock();
        let ceiling = share(self.per_minute, live);
        if ceiling < s.ceiling && self.per_minute > 0 {
            // Another worker appeared: until now each of us spent a larger share, so the
            // next call waits one interval of the new share, which absorbs the overlap.
            s.next = s.next.max(Instant::now()) + Duration::from_secs_f64(1.0 / ceiling);
        }
        s.ceiling = ceiling;
        s.rate = s.rate.min(s.ceiling);
    }

    /// Waits for this call's slot.
    pub async fn acquire(&self) {
        if self.per_minute == 0 {
            self.wait.observe(0.0);
            return;
        }
        let start = Instant::now();
        let slot = {
            let mut s = self.lock();
            let slot = s.next.max(start);
            s.next = slot + Duration::from_secs_f64(1.0 / s.rate);
            slot
        };
        tokio::time::sleep_until(slot).await;
        self.wait.observe(start.elapsed().as_secs_f64());
    }

    /// A 429: everyone waits out Retry-After, and the rate halves (multiplicative decrease).
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.lock();
        let pause = retry_after.unwrap_or(Duration::from_secs(1));
        s.next = s.next.max(Instant::now() + pause);
        if self.per_minute > 0 {
            s.rate = (s.rate / 2.0).max(FLOOR_PER_SEC);
        }
    }

    /// A call went through: the rate climbs back towards the share (additive increase).
    pub fn on_success(&self) {
        if self.per_minute == 0 {
            return;
        }
        let mut s = self.lock();
        s.rate = (s.rate + s.ceiling / 50.0).min(s.ceiling);
    }
}

fn share(per_minute: u32, live: usize) -> f64 {
    (f64::from(per_minute) * SAFETY / 60.0 / live.max(1) as f64).max(FLOOR_PER_SEC)
}

/// A [`TeamApi`] whose every call first takes a token from a [`RateLimiter`].
#[derive(Clone)]
pub struct RateLimitedApi {
    inner: Arc<dyn TeamApi>,
    limiter: Arc<RateLimiter>,
}

impl std::fmt::Debug for RateLimitedApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitedApi")
            .field("limiter", &self.limiter)
            .finish_non_exhaustive()
    }
}

impl RateLimitedApi {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn TeamApi>, limiter: Arc<RateLimiter>) -> Self {
        Self { inner, limiter }
    }

    async fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        self.limiter.acquire().await;
        let result = f.await;
        match &result {
            Err(ApiError::Transient {
                status: Some(429),
                retry_after,
                ..
            }) => self.limiter.on_throttled(*retry_after),
            Ok(_) | Err(ApiError::Permanent { .. }) => self.limiter.on_success(),
            Err(ApiError::Transient { .. }) => {}
        }
        result
    }
}

impl TeamApi for RateLimitedApi {
    fn find_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamUser>, ApiError>> {
        Box::pin(self.call(self.inner.find_user(cx, email)))
    }
    fn invite_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        Box::pin(self.call(self.inner.invite_user(cx, email, profile)))
    }
    fn update_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        Box::pin(self.call(self.inner.update_user(cx, user_id, profile)))
    }
    fn remove_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        delete: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.call(self.inner.remove_user(cx, user_id, delete)))
    }
    fn find_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamGroup>, ApiError>> {
        Box::pin(self.call(self.inner.find_group(cx, name)))
    }
    fn default_group<'a>(
        &'a self,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        // The inner client caches it: only its first call reaches Splashtop.
        Box::pin(async move {
            if let Some(g) = self.inner.cached_default_group() {
                return Ok(g);
            }
            self.call(self.inner.default_group(cx)).await
        })
    }
    fn cached_default_group(&self) -> Option<TeamGroup> {
        self.inner.cached_default_group()
    }
    fn group_members<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<TeamUser>, ApiError>> {
        Box::pin(self.call(self.inner.group_members(cx, group_id)))
    }
    fn create_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        Box::pin(self.call(self.inner.create_group(cx, name)))
    }
    fn rename_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        Box::pin(self.call(self.inner.rename_group(cx, group_id, name)))
    }
    fn delete_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(self.call(self.inner.delete_group(cx, group_id)))
    }
    fn observe_calls(&self, observer: Arc<dyn CallObserver>) {
        self.inner.observe_calls(observer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unobserved() -> Histogram {
        Histogram::new(std::iter::empty())
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_to_the_share_and_a_429_halves_the_rate() {
        let limiter = RateLimiter::new(600, unobserved());
        assert!((limiter.rate() - 9.7).abs() < 1e-9);
        limiter.set_workers(2);
        assert!((limiter.rate() - 4.85).abs() < 1e-9);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The new share's first interval (a worker joined), then four gaps of 1/4.85 s:
        // no burst.
        let took = start.elapsed().as_secs_f64();
        assert!((took - 5.0 / 4.85).abs() < 0.01, "took {took}");
        limiter.on_throttled(Some(Duration::from_secs(3)));
        assert!((limiter.rate() - 2.425).abs() < 1e-9);
        let before = Instant::now();
        limiter.acquire().await;
        assert!(before.elapsed() >= Duration::from_secs(2));
        for _ in 0..100 {
            limiter.on_success();
        }
        assert!((limiter.rate() - 4.85).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_unlimited() {
        let limiter = RateLimiter::new(0, unobserved());
        let start = Instant::now();
        for _ in 0..1000 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
