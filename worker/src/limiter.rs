//! The per-team rate limiter every Splashtop API call of a process goes through.
//!
//! A token bucket of capacity one (each call takes the next free slot, slots `1/rate`
//! apart), because Splashtop counts calls in a sliding 60-second window: a bucket of
//! capacity `C` refilling at `r` lets `C + 60 r` calls into one window, so the burst must
//! stay minimal for the sustained rate to reach the limit without ever exceeding it.
//!
//! The configured limit is the team's; the receiver's reconciler spends its own part of
//! it (`SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE`, reserved here so that the two together
//! stay within the limit), and each process takes `(limit - reserved) / live workers` (from
//! the heartbeat) times a small safety margin for network jitter ([`share_per_minute`]). On a 429 the limiter
//! also adapts (AIMD): every partition pauses until Retry-After, the rate halves, and it
//! climbs back additively with each success. That alone tames a worker whose limit was
//! left unconfigured (or set too high).
//!
//! A throttle never outlives its cause: Splashtop's Retry-After is honoured up to a cap
//! (`SPLASHSYNC_MAX_RETRY_AFTER_SECS`, default 300 s). [`RateLimitedApi`] caps it on the
//! error it returns, so the pause here and the job's retry wait ([`crate::retry`]) both
//! see the capped value: one `Retry-After: 999999999` can no longer freeze every partition.
//! A wait for a slot ends when the job's partition is told to stop (shutdown, or the
//! partition moving away): the call is not made and the job goes back to its queue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use tokio::time::Instant;

use splashtop_api::{
    ApiError, CallContext, CallObserver, GroupsPage, TeamApi, TeamGroup, TeamUser, UserProfile,
    UsersPage,
};

/// Share of the limit actually used, so that jitter between our clock and the API's
/// never pushes one window over.
const SAFETY: f64 = 0.97;
/// The lowest rate AIMD may fall to, in calls per second.
const FLOOR_PER_SEC: f64 = 0.05;
/// The longest Retry-After honoured unless configured otherwise.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// A wait for a slot was cut short by the stop of the job's partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped;

#[derive(Debug)]
struct State {
    /// The earliest time the next call may start.
    next: Instant,
    /// The end of the pause a 429 imposed, while it lasts.
    throttled_until: Option<Instant>,
    /// Current rate, calls per second (≤ `ceiling`).
    rate: f64,
    /// This process's share of the team's limit, calls per second.
    ceiling: f64,
}

/// A token bucket shared by all partitions of a process; `per_minute == 0` disables it.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    /// The calls per minute of the team's limit left to the reconciler.
    reserved: u32,
    /// The longest Retry-After honoured.
    max_pause: Duration,
    state: Mutex<State>,
    /// How long each call waited for its slot (zero when unlimited or idle).
    wait: Histogram,
    /// Calls waiting for their slot right now.
    waiting: Gauge,
    /// Retry-After values cut down to `max_pause`.
    capped: Counter,
}

impl RateLimiter {
    /// A limiter for a team limit of `per_minute` calls (0: unlimited), one live worker,
    /// recording each call's wait into `wait`.
    pub fn new(per_minute: u32, wait: Histogram) -> Self {
        let ceiling = share(per_minute, 0, 1);
        Self {
            per_minute,
            reserved: 0,
            max_pause: DEFAULT_MAX_RETRY_AFTER,
            state: Mutex::new(State {
                next: Instant::now(),
                throttled_until: None,
                rate: ceiling,
                ceiling,
            }),
            wait,
            waiting: Gauge::default(),
            capped: Counter::default(),
        }
    }

    /// Leaves `per_minute` calls of the team's limit to the receiver's reconciler, whose
    /// listing calls do not go through this limiter.
    pub fn with_reserved(mut self, per_minute: u32) -> Self {
        self.reserved = per_minute;
        let ceiling = share(self.per_minute, per_minute, 1);
        let s = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        s.ceiling = ceiling;
        s.rate = ceiling;
        self
    }

    /// Honours Retry-After up to `max` (at least one second).
    pub fn with_max_pause(mut self, max: Duration) -> Self {
        self.max_pause = max.max(Duration::from_secs(1));
        self
    }

    /// Reports the calls waiting for a slot into `waiting`, and each Retry-After cut down
    /// to the cap into `capped`.
    pub fn with_instruments(mut self, waiting: Gauge, capped: Counter) -> Self {
        self.waiting = waiting;
        self.capped = capped;
        self
    }

    /// The longest Retry-After honoured.
    pub fn max_pause(&self) -> Duration {
        self.max_pause
    }

    /// How much longer the pause of the last 429 lasts, if it still does.
    pub fn throttled_for(&self) -> Option<Duration> {
        let until = self.lock().throttled_until?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
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

    /// This process's share of the team's limit, in calls per second (infinite when
    /// unlimited): the rate a 429 halves and successes climb back to.
    pub fn share(&self) -> f64 {
        if self.per_minute == 0 {
            return f64::INFINITY;
        }
        self.lock().ceiling
    }

    /// Divides the team's limit among `live` worker processes.
    pub fn set_workers(&self, live: usize) {
        let mut s = self.lock();
        let ceiling = share(self.per_minute, self.reserved, live);
        if ceiling < s.ceiling && self.per_minute > 0 {
            // Another worker appeared: until now each of us spent a larger share, so the
            // next call waits one interval of the new share, which absorbs the overlap.
            s.next = s.next.max(Instant::now()) + Duration::from_secs_f64(1.0 / ceiling);
        }
        s.ceiling = ceiling;
        s.rate = s.rate.min(s.ceiling);
    }

    /// Waits for this call's slot; [`Stopped`] when the job's partition is told to stop
    /// first (see [`crate::retry::unless_stopped`]).
    pub async fn acquire(&self) -> Result<(), Stopped> {
        if self.per_minute == 0 {
            self.wait.observe(0.0);
            return Ok(());
        }
        let start = Instant::now();
        let slot = {
            let mut s = self.lock();
            let slot = s.next.max(start);
            s.next = slot + Duration::from_secs_f64(1.0 / s.rate);
            slot
        };
        self.waiting.inc();
        let waited = crate::retry::unless_stopped(tokio::time::sleep_until(slot)).await;
        self.waiting.dec();
        waited.ok_or(Stopped)?;
        self.wait.observe(start.elapsed().as_secs_f64());
        Ok(())
    }

    /// A 429: everyone waits out Retry-After (at most the cap), and the rate halves
    /// (multiplicative decrease).
    pub fn on_throttled(&self, retry_after: Option<Duration>) {
        let mut s = self.lock();
        let pause = retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(self.max_pause);
        let until = Instant::now() + pause;
        s.next = s.next.max(until);
        if self.per_minute > 0 {
            // Only a limiter that is on pauses the calls.
            s.throttled_until = Some(s.throttled_until.map_or(until, |t| t.max(until)));
            s.rate = (s.rate / 2.0).max(FLOOR_PER_SEC);
        }
    }

    /// `error` with its Retry-After cut down to the cap, so that neither this limiter nor
    /// the job's retries wait longer than the cap for one answer.
    pub fn cap_retry_after(&self, error: ApiError) -> ApiError {
        match error {
            ApiError::Transient {
                status,
                retry_after: Some(asked),
                detail,
            } if asked > self.max_pause => {
                self.capped.inc();
                tracing::warn!(
                    status,
                    retry_after_secs = asked.as_secs(),
                    max_secs = self.max_pause.as_secs(),
                    "Splashtop asked to wait longer than SPLASHSYNC_MAX_RETRY_AFTER_SECS; waiting the maximum"
                );
                ApiError::Transient {
                    status,
                    retry_after: Some(self.max_pause),
                    detail,
                }
            }
            other => other,
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

/// One worker process's share of the team's limit of `per_minute` calls, in calls per
/// minute, when `reserved` of them are the reconciler's and `live` workers split the rest:
/// all of them together, at most `(per_minute - reserved) x 0.97`, and the reconciler,
/// at most `reserved`, stay within the limit.
pub fn share_per_minute(per_minute: u32, reserved: u32, live: usize) -> f64 {
    f64::from(per_minute.saturating_sub(reserved)) * SAFETY / live.max(1) as f64
}

/// [`share_per_minute`] in calls per second, never below the floor.
fn share(per_minute: u32, reserved: u32, live: usize) -> f64 {
    (share_per_minute(per_minute, reserved, live) / 60.0).max(FLOOR_PER_SEC)
}

/// What a call answers when its partition stopped while it waited for its slot.
const NOT_MADE: &str = "stopped while waiting for a rate-limiter slot; the call was not made";

/// The error of a call never sent: its partition stopped while it waited for its slot.
pub(crate) fn not_made_error() -> ApiError {
    ApiError::transient(NOT_MADE)
}

/// Whether `error` says the call was never sent (its wait for a slot was cut short), so
/// Splashtop is as it was before it.
pub fn not_made(error: &ApiError) -> bool {
    matches!(error, ApiError::Transient { status: None, detail, .. } if detail == NOT_MADE)
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
        if self.limiter.acquire().await.is_err() {
            // The retry loop sees its stop given and hands the job back to its queue.
            return Err(not_made_error());
        }
        let result = f.await.map_err(|e| self.limiter.cap_retry_after(e));
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
    fn users_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>> {
        Box::pin(self.call(self.inner.users_page(cx, cursor, limit)))
    }
    fn groups_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>> {
        Box::pin(self.call(self.inner.groups_page(cx, cursor, limit)))
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
mod tests;
