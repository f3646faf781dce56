//! SCIM bearer-token authentication, throttled per source address by the
//! [`splashsync_admin::guard::AuthGuard`] the receiver puts into each request.
//!
//! The token decides the tenant: the [`ScimDoor`] holds each tenant's key (the token itself
//! for the `default` tenant of the environment variables, compared in constant time by
//! [`BearerToken::accepts`], shared with the admin API; a SHA-256 for a tenants file's
//! tenant) and the [`AppState`] its requests get. Nothing in a request but the token can
//! name a tenant.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use splashsync_admin::guard::{self, Realm, Refused};
pub use splashsync_admin::token::BearerToken;
use splashsync_protocol::tenants::TokenHash;
use splashsync_scim::ScimError;

use crate::state::AppState;

/// What a tenant's requests must carry.
#[derive(Debug, Clone)]
pub enum TenantKey {
    /// The token itself (`SPLASHSYNC_SCIM_TOKEN`).
    Token(BearerToken),
    /// The token's SHA-256 (a tenants file).
    Hash(TokenHash),
}

impl TenantKey {
    fn accepts(&self, header_value: Option<&[u8]>) -> bool {
        match self {
            TenantKey::Token(token) => token.accepts(header_value),
            TenantKey::Hash(hash) => {
                splashsync_admin::token::presented(header_value).is_some_and(|t| hash.matches(t))
            }
        }
    }
}

/// The tenants a SCIM request can reach, each behind its key.
#[derive(Debug, Clone)]
pub struct ScimDoor(Arc<[(TenantKey, AppState)]>);

impl ScimDoor {
    /// One tenant behind `token`: the receiver configured by environment variables.
    pub fn single(state: AppState, token: BearerToken) -> Self {
        Self(Arc::new([(TenantKey::Token(token), state)]))
    }

    /// Several tenants, each behind its key (the tenants file checked that no two share one).
    pub fn new(tenants: Vec<(TenantKey, AppState)>) -> Self {
        Self(tenants.into())
    }

    /// The state of the tenant whose token the header carries. Every key is tried, so the
    /// time taken does not tell which tenant (if any) matched.
    fn open(&self, header_value: Option<&[u8]>) -> Option<&AppState> {
        let mut found = None;
        for (key, state) in self.0.iter() {
            if key.accepts(header_value) && found.is_none() {
                found = Some(state);
            }
        }
        found
    }
}

/// Middleware: 401 with a SCIM error body unless the bearer token opens a tenant, whose
/// [`AppState`] the handlers then find in the request; 429 while the caller's address is
/// throttled for failing too often.
pub async fn require_token(State(door): State<ScimDoor>, mut req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let mut opened = None;
    let attempt = guard::attempt(req.extensions(), Realm::Scim, || {
        opened = door.open(header).cloned();
        opened.is_some()
    });
    match (attempt, opened) {
        (Ok(()), Some(state)) => {
            req.extensions_mut().insert(state);
            next.run(req).await
        }
        (Ok(()), None) | (Err(Refused::Unauthorized), _) => {
            ScimError::unauthorized().into_response()
        }
        (Err(refused @ Refused::Throttled { retry_after }), _) => refused.decorate(
            ScimError::new(
                StatusCode::TOO_MANY_REQUESTS,
                None,
                format!(
                    "too many failed authentications from your address; retry in {} s",
                    guard::retry_after_secs(retry_after)
                ),
            )
            .into_response(),
        ),
    }
}
