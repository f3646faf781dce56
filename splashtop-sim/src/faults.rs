//! Fault injection: [`Faults`] and the middleware in front of every API request that
//! checks the token, adds latency, enforces the rate limit and injects faults. A
//! faulted request never reaches the handler, so it changes nothing, except for
//! `error_after_apply_rate`, which applies the change and then answers 500.

use std::io;
use std::time::Duration;

use anyhow::{bail, Result};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::sim::{Inner, Sim};

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
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                bail!("{name} must be between 0 and 1, got {rate}");
            }
        }
        Ok(())
    }
}

/// Request extension: the handler must answer 500 after applying.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorAfterApply;

/// Response extension: the connection is to be dropped without an answer.
#[derive(Clone, Copy, Debug)]
struct ResetMarker;

#[derive(Debug)]
enum Decision {
    RateLimited(u64),
    Throttled(u64),
    Error(StatusCode),
    Timeout(u64),
    Reset,
    Pass { error_after_apply: bool },
}

/// The middleware in front of the API: counts, delays, authenticates, limits and faults.
pub(crate) async fn gate(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = format!("{}{}", crate::routes::API_PREFIX, request.uri().path());
    let latency = {
        let mut inner = sim.lock();
        inner.journal.stats.requests += 1;
        inner.faults.latency_ms
    };
    if latency > 0 {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(latency)) => {}
            () = sim.closing() => {}
        }
    }
    let response = if authorized(&sim.config.token, request.headers()) {
        let decision = decide(&mut sim.lock(), &method);
        answer(&sim, decision, request, next).await
    } else {
        ApiError::unauthorized().into_response()
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if response.extensions().get::<ResetMarker>().is_some() {
        tracing::info!(%method, %path, elapsed_ms, "api request: connection reset (fault)");
    } else {
        let status = response.status().as_u16();
        sim.lock().journal.count_status(status);
        tracing::info!(%method, %path, status, elapsed_ms, "api request");
    }
    response
}

async fn answer(sim: &Sim, decision: Decision, mut request: Request, next: Next) -> Response {
    match decision {
        Decision::RateLimited(secs) => ApiError::rate_limited(
            secs,
            "rate limit reached; retry after the Retry-After delay",
        )
        .into_response(),
        Decision::Throttled(secs) => {
            ApiError::rate_limited(secs, "too many requests (simulated throttling)").into_response()
        }
        Decision::Error(status) => {
            ApiError::internal(status, "simulated internal error").into_response()
        }
        Decision::Timeout(secs) => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(secs)) => ApiError::internal(
                    StatusCode::GATEWAY_TIMEOUT, "simulated timeout").into_response(),
                () = sim.closing() => ApiError::internal(
                    StatusCode::SERVICE_UNAVAILABLE, "the simulator is shutting down").into_response(),
            }
        }
        Decision::Reset => reset_response(),
        Decision::Pass { error_after_apply } => {
            if error_after_apply {
                request.extensions_mut().insert(ErrorAfterApply);
            }
            let response = next.run(request).await;
            if error_after_apply && response.status().is_success() {
                sim.lock().journal.stats.errors_after_apply += 1;
                return ApiError::internal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "simulated internal error after applying the change",
                )
                .into_response();
            }
            response
        }
    }
}

fn decide(inner: &mut Inner, method: &Method) -> Decision {
    let limit = inner.faults.rate_limit_per_minute;
    if limit > 0 {
        let now = Instant::now();
        let window = Duration::from_secs(60);
        while inner
            .window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            inner.window.pop_front();
        }
        if inner.window.len() >= limit as usize {
            let frees_in = inner.window.front().map_or(window, |oldest| {
                window.saturating_sub(now.duration_since(*oldest))
            });
            inner.journal.stats.rejected_rate_limited += 1;
            return Decision::RateLimited(ceil_secs(frees_in));
        }
        inner.window.push_back(now);
    }
    let faults = &inner.faults;
    let stats = &mut inner.journal.stats;
    let mut rng = rand::rng();
    let mut hit = |rate: f64| rate > 0.0 && rng.random::<f64>() < rate;
    if hit(faults.throttle_rate) {
        stats.throttled += 1;
        Decision::Throttled(faults.retry_after_secs)
    } else if hit(faults.error_rate) {
        stats.injected_errors += 1;
        let statuses = [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::BAD_GATEWAY,
            StatusCode::SERVICE_UNAVAILABLE,
        ];
        Decision::Error(statuses[rand::rng().random_range(0..statuses.len())])
    } else if hit(faults.timeout_rate) {
        stats.timeouts += 1;
        Decision::Timeout(faults.timeout_secs)
    } else if hit(faults.reset_rate) {
        stats.resets += 1;
        Decision::Reset
    } else {
        let error_after_apply = method != Method::GET && hit(faults.error_after_apply_rate);
        Decision::Pass { error_after_apply }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    secs.max(1)
}

/// True when the request carries `Authorization: Bearer <token>` (compared in constant time).
fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return false;
    };
    scheme.eq_ignore_ascii_case("bearer")
        && bool::from(presented.trim().as_bytes().ct_eq(token.as_bytes()))
}

/// A response whose body fails before its head is flushed: hyper then drops the
/// connection without writing a byte, which a client sees as a connection closed
/// before the response (reqwest: an error from `send()`).
fn reset_response() -> Response {
    let error = io::Error::new(io::ErrorKind::ConnectionReset, "simulated connection reset");
    let stream = futures_util::stream::iter([Err::<Bytes, io::Error>(error)]);
    let mut response = Response::new(Body::from_stream(stream));
    response.extensions_mut().insert(ResetMarker);
    response
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

    #[test]
    fn bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert!(!authorized("t0k", &headers));
        headers.insert(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_static("bearer t0k"),
        );
        assert!(authorized("t0k", &headers));
        assert!(!authorized("t0kk", &headers));
    }
}
