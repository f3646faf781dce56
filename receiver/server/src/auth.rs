//! SCIM bearer-token authentication (the comparison itself, in constant time, is
//! [`BearerToken::accepts`], shared with the admin API), throttled per source address by
//! the [`splashsync_admin::guard::AuthGuard`] the receiver puts into each request.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use splashsync_admin::guard::{self, Realm, Refused};
pub use splashsync_admin::token::BearerToken;
use splashsync_scim::ScimError;

/// Middleware: 401 with a SCIM error body unless the bearer token matches; 429 while the
/// caller's address is throttled for failing too often.
pub async fn require_token(State(token): State<BearerToken>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    match guard::attempt(req.extensions(), Realm::Scim, || token.accepts(header)) {
        Ok(()) => next.run(req).await,
        Err(Refused::Unauthorized) => ScimError::unauthorized().into_response(),
        Err(refused @ Refused::Throttled { retry_after }) => refused.decorate(
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
