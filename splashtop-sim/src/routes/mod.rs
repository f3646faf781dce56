//! The axum router: the team API (behind the fault middleware) and the control endpoints.

mod api;
pub(crate) mod body;
mod control;

use axum::http::{Method, Uri};
use axum::middleware;
use axum::Router;

use crate::error::ApiError;
use crate::faults;
use crate::sim::Sim;

/// The prefix of every team API path.
pub(crate) const API_PREFIX: &str = "/api/open/v1";

/// The whole application.
pub(crate) fn app(sim: Sim) -> Router {
    let api = api::router()
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(sim.clone(), faults::gate));
    Router::new()
        .nest(API_PREFIX, api)
        .merge(control::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(sim)
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found("not_found", format!("no route for {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
