//! The SCIM error body (RFC 7644 §3.12) and its HTTP response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::schema;

/// The `scimType` values of RFC 7644 §3.12 that splashsync uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    /// The filter syntax or a filtered attribute is invalid.
    InvalidFilter,
    /// Too many results or operations.
    TooMany,
    /// A unique attribute's value is already taken.
    Uniqueness,
    /// An attempt to change an immutable or read-only attribute.
    Mutability,
    /// The request body is not valid SCIM.
    InvalidSyntax,
    /// The PATCH path is invalid.
    InvalidPath,
    /// The PATCH path matched nothing.
    NoTarget,
    /// A value is missing or of the wrong type.
    InvalidValue,
    /// The SCIM protocol version is not supported.
    InvalidVers,
    /// The request is sensitive and must not be sent in the URL.
    Sensitive,
}

impl ScimType {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// A SCIM error: an HTTP status, an optional `scimType` and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<ScimType>,
    detail: String,
}

#[derive(Serialize)]
struct Body<'a> {
    schemas: [&'static str; 1],
    status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    scim_type: Option<&'static str>,
    detail: &'a str,
}

impl ScimError {
    /// An error with any status.
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// 400 with a scimType.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    /// 401: missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            None,
            "Authorization failed: send the bearer token configured for this SCIM endpoint",
        )
    }

    /// 404 for a resource.
    pub fn not_found(resource: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("{resource} {id:?} not found"),
        )
    }

    /// 409 `uniqueness`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    /// 500 with a generic detail: internal error text never reaches the caller.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Internal error; the request was not applied and can be retried",
        )
    }

    /// 503: a dependency is unavailable; retrying later will work.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, None, detail)
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The scimType, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        self.scim_type
    }

    /// The detail text.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The JSON body.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.body()).unwrap_or(serde_json::Value::Null)
    }

    fn body(&self) -> Body<'_> {
        Body {
            schemas: [schema::ERROR],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type.map(ScimType::as_str),
            detail: &self.detail,
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.body()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::SCIM_CONTENT_TYPE),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 here is momentary (a lost write conflict, a shutdown): retry soon.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_error_schema_and_a_string_status() {
        let body = ScimError::conflict("userName \"a\" is taken").to_json();
        assert_eq!(body["schemas"][0], schema::ERROR);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["detail"], "userName \"a\" is taken");
    }

    #[test]
    fn a_503_tells_the_client_when_to_retry() {
        let response = ScimError::unavailable("busy").into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response = ScimError::conflict("taken").into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn a_404_has_no_scim_type() {
        let body = ScimError::not_found("User", "x").to_json();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "404");
    }
}
