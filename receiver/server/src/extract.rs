//! The JSON body extractor: malformed input comes back as a SCIM error, never axum's
//! plain-text rejection (Okta's parser fails on plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use splashsync_scim::{ScimError, ScimType};

/// Largest request body accepted: 1 MiB (a Group PATCH of 1000 members fits easily).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON request body, parsed into a `serde_json::Value`.
#[derive(Debug, Clone)]
pub struct ScimJson(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            if !ct.contains("json") {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    "send the body as application/scim+json or application/json",
                ));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ScimError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some(ScimType::TooMany),
                    format!("the request body is over {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ScimError::bad_request(
                    ScimType::InvalidSyntax,
                    "the request body could not be read",
                )
            }
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        Ok(Self(value))
    }
}
