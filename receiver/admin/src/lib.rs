//! splashsync's operators' service: the JSON admin API under `/admin` (with its OpenAPI
//! description) and the web console under `/console`, both behind their own token
//! (`SPLASHSYNC_ADMIN_TOKEN`; the SCIM token is never accepted here), plus the backlog
//! sampler and the broker probe they read. The receiver merges [`router`] into its own.
//!
//! # Layout
//! - [`token`]: bearer tokens, compared in constant time (the SCIM side uses it too).
//! - [`guard`]: failed authentications throttled per source address (SCIM, admin,
//!   console login), with their counters.
//! - [`error`]: [`AdminError`] and the mapping of store failures to it.
//! - [`api`]: the handlers: dead letters (list, show, replay, replay matching, discard),
//!   user and group status with timeline, queue statistics.
//! - [`floor`]: what the directory knows of one job key, for workers that lost their
//!   Redis state.
//! - [`incidents`]: the incident handlers: list, show, replay, discard, and replay-all /
//!   discard-all of a filter behind a counted confirmation.
//! - [`responses`]: every answer as a type, from which the OpenAPI schemas are generated.
//! - [`params`]: query and body parameters, validated into store filters.
//! - [`reconcile`]: drift reconciliation's admin routes and console page.
//! - [`broker`]: RabbitMQ queue depths by passive declare, for stats and readiness.
//! - [`samples`]: backlog and throughput sampled every few seconds for the console chart.
//! - [`workers`]: the workers, from their heartbeats.
//! - [`openapi`]: the OpenAPI description served at `/admin/openapi.json`.
//! - [`console`]: the server-rendered HTML console.

pub mod api;
pub mod broker;
pub mod console;
pub mod error;
pub mod floor;
pub mod guard;
pub mod incidents;
pub mod openapi;
pub mod params;
pub mod reconcile;
pub mod responses;
pub mod samples;
pub mod token;
pub mod workers;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use splashsync_directory::audit::AuditStore;
use splashsync_directory::{GroupPolicy, WriteCtx};
use splashsync_protocol::admin::{route, PREFIX};

use broker::BrokerProbe;
pub use error::AdminError;
use guard::{Realm, Refused};
use samples::Samples;
use token::BearerToken;

/// Largest admin request body accepted (a filter object, a note).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the admin API and the console need.
#[derive(Clone)]
pub struct AdminState {
    /// The audit store.
    pub audit: Arc<dyn AuditStore>,
    /// The workers' last heartbeats.
    pub workers: Arc<dyn splashsync_directory::workers::WorkerStore>,
    /// Queue depths.
    pub broker: Arc<BrokerProbe>,
    /// Backlog and throughput history.
    pub samples: Arc<Samples>,
    /// The admin token.
    pub token: BearerToken,
    /// The tenant this receiver serves.
    pub tenant: splashsync_protocol::Tenant,
    /// The group policy replays compute a user's group with.
    pub group_policy: GroupPolicy,
    /// `SPLASHSYNC_PUBLIC_URL`, when set: the console's origin, and https means `Secure`
    /// cookies.
    pub public_url: Option<String>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl AdminState {
    /// The write context of an operator's replay.
    pub fn write_ctx(&self, origin: &str) -> WriteCtx {
        WriteCtx {
            tenant: self.tenant.clone(),
            origin: origin.to_string(),
            policy: self.group_policy,
            verify: false,
        }
    }
}

/// Middleware: 401 (JSON) unless the request carries the admin token; 429 while its
/// address is throttled for failing too often.
async fn require_admin(State(token): State<BearerToken>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match guard::attempt(req.extensions(), Realm::Admin, || token.accepts(presented)) {
        Ok(()) => next.run(req).await,
        Err(Refused::Unauthorized) => {
            let mut response = AdminError {
                status: StatusCode::UNAUTHORIZED,
                message: "send the admin token (SPLASHSYNC_ADMIN_TOKEN) as a bearer token".into(),
            }
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            response
        }
        Err(refused @ Refused::Throttled { retry_after }) => refused.decorate(
            AdminError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "too many failed authentications from your address; retry in {} s",
                    guard::retry_after_secs(retry_after)
                ),
            }
            .into_response(),
        ),
    }
}

/// The `/admin` and `/console` routes. `/admin/openapi.json` is served without the token
/// on purpose: it describes the API and holds no data, and clients generate from it.
pub fn router(state: AdminState) -> Router {
    let token = state.token.clone();
    let api = Router::new()
        .route(route::DEAD_LETTERS, get(api::list_dead_letters))
        .route(route::REPLAY_MATCHING, post(api::replay_matching))
        .route(route::DEAD_LETTER, get(api::show_dead_letter))
        .route(route::REPLAY, post(api::replay_one))
        .route(route::DISCARD, post(api::discard))
        .route(route::USER_STATUS, get(api::user_status))
        .route(route::GROUP_STATUS, get(api::group_status))
        .route(route::QUEUES, get(api::queue_stats))
        .route(route::FLOOR, get(floor::key_floor))
        .route(route::INCIDENTS, get(incidents::list))
        .route(route::REPLAY_INCIDENTS, post(incidents::replay_all))
        .route(route::DISCARD_INCIDENTS, post(incidents::discard_all))
        .route(route::INCIDENT, get(incidents::show))
        .route(route::REPLAY_INCIDENT, post(incidents::replay))
        .route(route::DISCARD_INCIDENT, post(incidents::discard))
        .route(route::WORKERS, get(workers::list))
        .merge(reconcile::api_routes())
        .fallback(|| async { AdminError::not_found("no such admin endpoint") })
        .method_not_allowed_fallback(|method: Method| async move {
            AdminError {
                status: StatusCode::METHOD_NOT_ALLOWED,
                message: format!("{method} is not supported on this endpoint"),
            }
        })
        .layer(axum::middleware::from_fn_with_state(token, require_admin))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state.clone());
    Router::new()
        .route(
            &format!("{PREFIX}{}", route::OPENAPI),
            get(|| async { Json(openapi::document()) }),
        )
        .nest(PREFIX, api)
        .merge(console::router(state))
}
