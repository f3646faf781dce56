//! Every error in its caller's shape: an RFC 7644 §3.12 body under `/scim/`, the admin
//! JSON error (`{"error": {"status", "message"}}`) under `/admin`, whoever produced it.
//!
//! The handlers answer in their shape already; what they do not control does not: axum's
//! rejections (a query string it cannot deserialize, such as a duplicated parameter, or a
//! path that is not UTF-8), its default 405, a body-limit rejection. [`normalize`] turns
//! any error answer not already in the caller's shape into it, keeping the status, the
//! headers (`Allow`, `Retry-After`) and, when it was short text, the message.

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use splashsync_admin::AdminError;
use splashsync_scim::{ScimError, ScimType};

/// The longest rejection text kept as an error's detail.
const MAX_DETAIL_BYTES: usize = 1024;

/// Which error shape a path's callers expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Identity providers under `/scim/`: SCIM errors.
    Scim,
    /// Operators' scripts under `/admin`: admin JSON errors.
    Admin,
    /// Anything else (console pages, ops endpoints): plain text.
    Plain,
}

impl Shape {
    /// The shape of `path`'s errors.
    pub fn of(path: &str) -> Self {
        if path == "/scim" || path.starts_with("/scim/") {
            Shape::Scim
        } else if path == "/admin" || path.starts_with("/admin/") {
            Shape::Admin
        } else {
            Shape::Plain
        }
    }

    /// An error answer in this shape.
    pub fn error(self, status: StatusCode, detail: impl Into<String>) -> Response {
        let detail = detail.into();
        match self {
            Shape::Scim => ScimError::new(status, scim_type(status), detail).into_response(),
            Shape::Admin => AdminError {
                status,
                message: detail,
            }
            .into_response(),
            Shape::Plain => (status, detail).into_response(),
        }
    }

    /// Whether `response` is already in this shape.
    fn holds(self, response: &Response) -> bool {
        let essence = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<mime::Mime>().ok())
            .map(|m| m.essence_str().to_string());
        match self {
            Shape::Scim => essence.as_deref() == Some(splashsync_scim::SCIM_CONTENT_TYPE),
            Shape::Admin => essence.as_deref() == Some("application/json"),
            Shape::Plain => true,
        }
    }

    /// `response` itself when it is no error or already in this shape, else the same
    /// error in this shape.
    pub async fn conform(self, response: Response) -> Response {
        let status = response.status();
        if !(status.is_client_error() || status.is_server_error()) || self.holds(&response) {
            return response;
        }
        let (parts, body) = response.into_parts();
        let is_text = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
        let text = match is_text {
            true => axum::body::to_bytes(body, MAX_DETAIL_BYTES)
                .await
                .ok()
                .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                .filter(|t| !t.is_empty()),
            false => None,
        };
        let detail = text.unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("request refused")
                .to_string()
        });
        let mut shaped = self.error(status, detail);
        for (name, value) in &parts.headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                shaped.headers_mut().insert(name.clone(), value.clone());
            }
        }
        shaped
    }
}

/// The `scimType` of an error produced outside the handlers: a 400 there is a query or
/// path value that could not be read.
fn scim_type(status: StatusCode) -> Option<ScimType> {
    match status {
        StatusCode::BAD_REQUEST => Some(ScimType::InvalidValue),
        StatusCode::PAYLOAD_TOO_LARGE => Some(ScimType::TooMany),
        _ => None,
    }
}

/// Middleware: every error answer under `/scim/` and `/admin` in its caller's shape.
pub async fn normalize(req: Request, next: Next) -> Response {
    let shape = Shape::of(req.uri().path());
    let response = next.run(req).await;
    shape.conform(response).await
}

/// An answer that also closes the connection (the request's body was not read).
pub fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    /// A response as a rejection makes it.
    fn bare(
        status: StatusCode,
        content_type: Option<&'static str>,
        body: &'static str,
    ) -> Response {
        let mut r = (status, Body::from(body)).into_response();
        r.headers_mut().remove(header::CONTENT_TYPE);
        if let Some(ct) = content_type {
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        r
    }

    async fn json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_text_rejection_under_scim_becomes_a_scim_error_with_its_message() {
        let r = bare(
            StatusCode::BAD_REQUEST,
            Some("text/plain; charset=utf-8"),
            "Failed to deserialize query string: duplicate field `filter`",
        );
        let r = Shape::Scim.conform(r).await;
        assert_eq!(r.status(), 400);
        let body = json(r).await;
        assert_eq!(body["scimType"], "invalidValue");
        assert!(body["detail"].as_str().unwrap().contains("duplicate field"));
    }

    #[tokio::test]
    async fn an_empty_405_under_admin_becomes_an_admin_error_and_keeps_allow() {
        let mut r = bare(StatusCode::METHOD_NOT_ALLOWED, None, "");
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        let r = Shape::Admin.conform(r).await;
        assert_eq!(r.headers()[header::ALLOW], "GET");
        let body = json(r).await;
        assert_eq!(body["error"]["status"], 405);
    }

    #[tokio::test]
    async fn answers_already_in_shape_and_successes_are_untouched() {
        let scim = ScimError::conflict("taken").into_response();
        let r = Shape::Scim.conform(scim).await;
        assert_eq!(json(r).await["scimType"], "uniqueness");
        let ok = bare(StatusCode::OK, Some("text/plain"), "fine");
        let r = Shape::Scim.conform(ok).await;
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
    }

    #[test]
    fn paths_have_shapes() {
        assert_eq!(Shape::of("/scim/v2/Users"), Shape::Scim);
        assert_eq!(Shape::of("/admin/queues"), Shape::Admin);
        assert_eq!(Shape::of("/administrator"), Shape::Plain);
        assert_eq!(Shape::of("/console/login"), Shape::Plain);
    }
}
