//! The middleware in front of every API request: counts it, adds latency, checks the
//! token, then carries out what [`FaultState::decide`](crate::faults::FaultState::decide)
//! picked (a 429, a 5xx, a hang, a reset, or the handler).

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tokio::time::Instant;

use crate::domain::ApiError;
use crate::faults::Decision;
use crate::sim::Sim;
use splashtop_api::API_PREFIX;

/// Request extension: the handler must answer 500 after applying.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ErrorAfterApply;

/// Response extension: the connection is to be dropped without an answer.
#[derive(Clone, Copy, Debug)]
struct ResetMarker;

/// Counts, delays, authenticates, limits and faults one API request.
pub(crate) async fn gate(State(sim): State<Sim>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = format!("{API_PREFIX}{}", request.uri().path());
    let call = call_kind(&method, request.uri());
    let latency = {
        let mut inner = sim.lock();
        inner.faults.stats.requests += 1;
        inner.faults.stats.count_call(call);
        inner.faults.settings.latency_ms
    };
    if latency > 0 {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(latency)) => {}
            () = sim.closing() => {}
        }
    }
    let response = if authorized(&sim.config.token, request.headers()) {
        let decision = sim.lock().faults.decide(method != Method::GET);
        answer(&sim, decision, request, next).await
    } else {
        ApiError::unauthorized().into_response()
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    if response.extensions().get::<ResetMarker>().is_some() {
        tracing::info!(%method, %path, elapsed_ms, "api request: connection reset (fault)");
    } else {
        let status = response.status().as_u16();
        sim.lock().faults.stats.count_status(status);
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
                    504, "simulated timeout").into_response(),
                () = sim.closing() => ApiError::internal(
                    503, "the simulator is shutting down").into_response(),
            }
        }
        Decision::Reset => reset_response(),
        Decision::Pass {
            error_after_apply,
            garbled,
        } => {
            if error_after_apply {
                request.extensions_mut().insert(ErrorAfterApply);
            }
            let response = next.run(request).await;
            if error_after_apply && response.status().is_success() {
                sim.lock().faults.stats.errors_after_apply += 1;
                return ApiError::internal(
                    500,
                    "simulated internal error after applying the change",
                )
                .into_response();
            }
            if garbled && response.status().is_success() {
                sim.lock().faults.stats.garbled_answers += 1;
                return garble(response).await;
            }
            response
        }
    }
}

/// The same answer with its body cut in half; a 204 becomes a 200 whose body is a stray
/// `{` (a 204 can carry no body). The head says success, the JSON does not parse.
async fn garble(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let cut = if bytes.is_empty() {
        parts.status = axum::http::StatusCode::OK;
        Bytes::from_static(b"{")
    } else {
        bytes.slice(..bytes.len() / 2)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(cut))
}

/// The kind of call a request is: its method, its route (the segment after `teams`,
/// `users` or `groups` is an id) and its query parameters' names, sorted.
fn call_kind(method: &Method, uri: &axum::http::Uri) -> String {
    let mut route = String::new();
    let mut id_next = false;
    for segment in uri.path().split('/').filter(|s| !s.is_empty()) {
        route.push('/');
        route.push_str(if id_next { "{}" } else { segment });
        id_next = !id_next && matches!(segment, "teams" | "users" | "groups");
    }
    let mut names: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split('=').next())
        .filter(|name| !name.is_empty())
        .collect();
    names.sort_unstable();
    names.dedup();
    match names.is_empty() {
        true => format!("{method} {route}"),
        false => format!("{method} {route}?{}", names.join("&")),
    }
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
    fn calls_are_named_by_route_and_query_names() {
        let kind = |m: Method, uri: &str| call_kind(&m, &uri.parse().unwrap());
        assert_eq!(
            kind(Method::GET, "/teams/t1/users?email=a%40b.com"),
            "GET /teams/{}/users?email"
        );
        assert_eq!(
            kind(Method::GET, "/teams/t1/users?limit=500&cursor=abc"),
            "GET /teams/{}/users?cursor&limit"
        );
        assert_eq!(
            kind(Method::PATCH, "/teams/t1/users/u-9"),
            "PATCH /teams/{}/users/{}"
        );
        assert_eq!(
            kind(Method::GET, "/groups/g-1/members"),
            "GET /groups/{}/members"
        );
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
