//! SCIM JSON responses, and store errors turned into SCIM errors.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use splashsync_shared::scim::{ScimError, SCIM_CONTENT_TYPE};

use crate::store::StoreError;

/// A JSON body with the SCIM content type.
pub fn scim_json(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, bytes).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    response
}

/// Maps a store failure to the SCIM error the caller sees; internal details are logged,
/// never sent.
pub fn store_error(err: StoreError) -> ScimError {
    match err {
        StoreError::Conflict(detail) => ScimError::conflict(detail),
        StoreError::Closed => ScimError::unavailable("the service is shutting down; retry shortly"),
        StoreError::Database(e) => {
            tracing::error!(error = %e, "store failure");
            ScimError::internal()
        }
    }
}
