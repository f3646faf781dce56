//! SCIM bearer-token authentication (the comparison itself, in constant time, is
//! [`BearerToken::accepts`], shared with the admin API).

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use splashsync_admin::token::BearerToken;
use splashsync_scim::ScimError;

/// Middleware: 401 with a SCIM error body unless the bearer token matches.
pub async fn require_token(State(token): State<BearerToken>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if token.accepts(header) {
        next.run(req).await
    } else {
        ScimError::unauthorized().into_response()
    }
}
