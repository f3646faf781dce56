//! The receiver's HTTP surface, built by one constructor ([`router`]) that the binary
//! and the tests share: the SCIM endpoints under `/scim/v2` behind their token, `/healthz`,
//! the ops endpoints, the operators' service when it has a token, and every layer.
//!
//! # Layout
//! - [`users`]: the `/Users` endpoints.
//! - [`groups`]: the `/Groups` endpoints.
//! - [`discovery`]: `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`.
//! - [`search`]: `POST /Users/.search`, `/Groups/.search` and `/.search` (SearchRequest
//!   bodies read as list parameters).
//! - [`listing`]: the users, groups or both a list request selects, as one page.
//! - [`query`]: filters, paging and sorting of list requests.
//! - [`projection`]: `attributes` / `excludedAttributes`.
//! - [`response`]: SCIM JSON responses, ETags, and the mapping of store errors.
//! - [`paths`]: resource-type segments in any case and trailing slashes made canonical
//!   before routing.

pub mod discovery;
pub mod groups;
pub mod listing;
pub mod paths;
pub mod projection;
pub mod query;
pub mod response;
pub mod search;
pub mod users;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use splashsync_admin::broker::BrokerProbe;
use splashsync_admin::AdminState;
use splashsync_directory::audit::AuditStore;
use splashsync_scim::ScimError;
use tower::ServiceExt as _;

use crate::auth::{require_token, ScimDoor};
use crate::extract::MAX_BODY_BYTES;
use crate::http_metrics::RequestMetrics;
use crate::metrics::Metrics;

pub use crate::state::{token_fingerprint, AppState};

/// Everything the HTTP surface serves from.
#[derive(Debug, Clone)]
pub struct Services {
    /// The tenants the SCIM endpoints serve, each behind its token; a request's handlers
    /// get the [`AppState`] of the tenant its token opens.
    pub scim: ScimDoor,
    /// The audit store (provisioning states, `/metrics`, `/readyz`).
    pub audit: Arc<dyn AuditStore>,
    /// Queue depths and broker readiness.
    pub broker: Arc<BrokerProbe>,
    /// The registry the request metrics and the store gauges register into.
    pub metrics: Arc<Metrics>,
    /// The operators' service; `None` when no admin token is set (`/admin` and `/console` off).
    pub admin: Option<AdminState>,
    /// The failed-authentication throttle the SCIM, admin and console middlewares consult.
    pub auth_guard: Arc<splashsync_admin::guard::AuthGuard>,
}

/// The whole HTTP router: `/scim/v2/...` behind the SCIM token, `/healthz`, `/metrics` and
/// `/readyz` open, `/admin` and `/console` behind the admin token, with every layer.
///
/// Paths are made canonical ([`paths::normalise`]) before the router sees them: the rewrite
/// wraps the whole router as its fallback service, because `Router::layer` middleware runs
/// after routing, when a `/users` request has already missed `/Users`.
pub fn router(services: Services) -> Router {
    let guard = services.auth_guard.clone();
    harden(
        Router::new().fallback_service(routes(services).map_request(paths::normalise)),
        guard,
    )
}

/// What surrounds every route: the request limits, every error in its caller's shape, and
/// the failed-authentication throttle the authenticating middlewares find in each request,
/// beside the peer address the listener records. Part of the one router, so the tests
/// exercise it too.
fn harden(router: Router, guard: Arc<splashsync_admin::guard::AuthGuard>) -> Router {
    router
        .layer(axum::middleware::from_fn(crate::error_shape::normalize))
        .layer(axum::middleware::from_fn(crate::request_limits::check))
        .layer(axum::Extension(guard))
}

/// Every route and layer, expecting canonical paths.
fn routes(services: Services) -> Router {
    let Services {
        scim,
        audit,
        broker,
        metrics,
        admin,
        auth_guard: _,
    } = services;
    let mut app = scim_router(scim).merge(crate::ops::router(audit, broker, metrics.clone()));
    if let Some(admin) = admin {
        app = app.merge(splashsync_admin::router(admin));
    }
    app.layer(axum::middleware::from_fn_with_state(
        RequestMetrics::register(&metrics),
        crate::http_metrics::track,
    ))
}

/// `/scim/v2/...` behind the bearer tokens, `/healthz` open.
fn scim_router(door: ScimDoor) -> Router {
    let scim = Router::new()
        .route("/.search", post(search::root))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(search::users))
        .route(
            "/Users/{id}",
            get(users::get_one)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(search::groups))
        .route(
            "/Groups/{id}",
            get(groups::get_one)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::list_resource_types))
        .route("/ResourceTypes/{id}", get(discovery::get_resource_type))
        .route("/Schemas", get(discovery::list_schemas))
        .route("/Schemas/{id}", get(discovery::get_schema))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(door, require_token))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    Router::new()
        .nest("/scim/v2", scim)
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
}

async fn not_found() -> impl IntoResponse {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such endpoint")
}

async fn method_not_allowed(method: Method) -> impl IntoResponse {
    ScimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        format!("{method} is not supported on this endpoint"),
    )
}
