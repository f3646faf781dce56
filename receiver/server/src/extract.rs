//! The JSON body extractor: malformed input comes back as a SCIM error, never axum's
//! plain-text rejection (Okta's parser fails on plain text).
//!
//! The `Content-Type`, when sent, is parsed as a media type: `application/scim+json` or
//! `application/json`, in any case, with parameters; a `charset` other than UTF-8 (the
//! only one JSON has, RFC 8259 §8.1) is refused like any other type: 415.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use splashsync_scim::{ScimError, ScimType};

/// Largest request body accepted: 1 MiB (a Group PATCH of 1000 members fits easily).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Whether a `Content-Type` value names SCIM's JSON or plain JSON, in UTF-8.
fn is_json(content_type: &str) -> bool {
    let Ok(media) = content_type.parse::<mime::Mime>() else {
        return false;
    };
    let essence_ok = matches!(
        media.essence_str(),
        splashsync_scim::SCIM_CONTENT_TYPE | "application/json"
    );
    let charset_ok = media
        .get_param(mime::CHARSET)
        .is_none_or(|c| c == mime::UTF_8 || c.as_str().eq_ignore_ascii_case("utf8"));
    essence_ok && charset_ok
}

/// A JSON request body, parsed into a `serde_json::Value`.
#[derive(Debug, Clone)]
pub struct ScimJson(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ScimError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            if !is_json(ct.to_str().unwrap_or("")) {
                return Err(ScimError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    None,
                    "send the body as application/scim+json or application/json (UTF-8)",
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

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn content_types_are_parsed_not_searched() {
        for ok in [
            "application/scim+json",
            "application/json",
            "Application/SCIM+JSON; charset=UTF-8",
            "application/json;charset=utf-8",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for refused in [
            "text/plain; note=json",
            "application/jsonp",
            "application/json; charset=latin1",
            "application/x-json-seq",
            "json",
            "",
        ] {
            assert!(!is_json(refused), "{refused}");
        }
    }
}
