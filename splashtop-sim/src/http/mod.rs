//! The axum side: the team API under `/api/open/v1` (behind the fault gate) and the
//! control endpoints, over the shared [`Sim`].
//!
//! # Layout
//! - this module: [`app`], the fallbacks, and how an [`ApiError`] is answered.
//! - `gate`: the middleware in front of the API (token, latency, rate limit, faults).
//! - `api`: the team API routes.
//! - `body`: strict JSON body parsing into `splashtop_api`'s request types.
//! - `control`: `/_sim/*` and `/healthz`.

mod api;
mod body;
mod control;
mod gate;

use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use splashtop_api::{ErrorBody, ErrorCode, API_PREFIX};

use crate::domain::ApiError;
use crate::sim::Sim;

/// The whole application.
pub(crate) fn app(sim: Sim) -> Router {
    let api = api::router()
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sim.clone(), gate::gate));
    Router::new()
        .nest(API_PREFIX, api)
        .merge(control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(ErrorCode::NotFound, format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        405,
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on {}", uri.path()),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody::new(self.code, self.message);
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
