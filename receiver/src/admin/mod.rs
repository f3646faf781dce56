//! The operators' HTTP API under `/admin` (JSON), behind its own token
//! (`SPLASHSYNC_ADMIN_TOKEN`; the SCIM token is never accepted here). Off when unset.
//!
//! # Layout
//! - [`api`]: the handlers: dead letters (list, show, replay, replay matching, discard),
//!   user and group status with timeline, queue statistics.
//! - [`params`]: query and body parameters, validated into store filters.
//! - [`broker`]: RabbitMQ queue depths by passive declare, for stats and readiness.
//! - [`samples`]: backlog and throughput sampled every few seconds for the console chart.
//! - [`openapi`]: the OpenAPI description served at `/admin/openapi.json`.

pub mod api;
pub mod broker;
pub mod openapi;
pub mod params;
pub mod samples;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::auth::BearerToken;
use crate::store::audit::AuditStore;
use crate::store::{GroupPolicy, StoreError, WriteCtx};
use broker::BrokerProbe;
use samples::Samples;

/// What the admin API and the console need.
#[derive(Clone)]
pub struct AdminState {
    /// The audit store.
    pub audit: Arc<dyn AuditStore>,
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
        }
    }
}

/// An admin API error: a status and a JSON body `{"error": {"status", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the operator.
    pub message: String,
}

impl AdminError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"status": self.status.as_u16(), "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        let (status, message) = match e {
            StoreError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            StoreError::Conflict(m) | StoreError::GroupConflict(_, m) => (StatusCode::CONFLICT, m),
            StoreError::PreconditionFailed { current } => (
                StatusCode::CONFLICT,
                format!("the resource changed (now {current})"),
            ),
            StoreError::Invalid(scim) => {
                (StatusCode::UNPROCESSABLE_ENTITY, scim.detail().to_string())
            }
            StoreError::Closed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the receiver is shutting down".into(),
            ),
            StoreError::Database(err) => {
                // The cause goes to the log, not to the client.
                tracing::error!(error = %err, "admin request failed in the store");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the directory store failed; see the receiver's log".into(),
                )
            }
        };
        Self { status, message }
    }
}

/// Middleware: 401 (JSON) unless the request carries the admin token.
async fn require_admin(State(token): State<BearerToken>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if token.accepts(presented) {
        next.run(req).await
    } else {
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
}

/// The `/admin` routes; `/admin/openapi.json` is served without the token.
pub fn router(state: AdminState) -> Router {
    let token = state.token.clone();
    let api = Router::new()
        .route("/dead-letters", get(api::list_dead_letters))
        .route("/dead-letters/replay", post(api::replay_matching))
        .route("/dead-letters/{id}", get(api::show_dead_letter))
        .route("/dead-letters/{id}/replay", post(api::replay_one))
        .route("/dead-letters/{id}/discard", post(api::discard))
        .route("/users/{user_name}/status", get(api::user_status))
        .route("/groups/{id}/status", get(api::group_status))
        .route("/queues", get(api::queue_stats))
        .fallback(|| async { AdminError::not_found("no such admin endpoint") })
        .layer(axum::middleware::from_fn_with_state(token, require_admin))
        .with_state(state);
    Router::new()
        .route(
            "/admin/openapi.json",
            get(|| async { Json(openapi::document()) }),
        )
        .nest("/admin", api)
}
