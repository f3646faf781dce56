//! Limits every request meets before any route, each refusal in its caller's error shape
//! ([`Shape`]): hyper's own limits (a 65,534-byte URI, 100 headers, a ~400 KiB head)
//! answer with bare statuses, so ours are lower and answer properly.
//!
//! - The URI: [`MAX_URI_BYTES`] → 414. A 4,096-byte filter (the filter parser's own
//!   limit, answered with 400 `invalidFilter`) can take 12 KiB percent-encoded; the
//!   rest of the query fits in what is left.
//! - The headers: [`MAX_HEADERS`] and [`MAX_HEADER_BYTES`] → 431.
//! - A declared `Content-Length` over the path's body limit → 413 at once, before reading
//!   the body, so that the client sees the answer rather than a reset connection. Bodies
//!   without a length are cut at the same limit while they are read.

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::error_shape::{closing, Shape};

/// Longest request URI accepted.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// Most request headers accepted.
pub const MAX_HEADERS: usize = 64;
/// Largest total of the request headers (names, values, and 4 bytes of framing each).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The body limit of a path's requests.
fn body_limit(shape: Shape, path: &str) -> Option<usize> {
    match shape {
        Shape::Scim => Some(crate::extract::MAX_BODY_BYTES),
        Shape::Admin => Some(splashsync_admin::MAX_BODY_BYTES),
        Shape::Plain if path.starts_with("/console") => {
            Some(splashsync_admin::console::MAX_FORM_BYTES)
        }
        Shape::Plain => None,
    }
}

/// Middleware: 414, 431 or 413 in the caller's shape, before any route runs.
pub async fn check(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let shape = Shape::of(path);
    let uri_len = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return closing(shape.error(
            StatusCode::URI_TOO_LONG,
            format!("the request URI is over {MAX_URI_BYTES} bytes"),
        ));
    }
    let headers = req.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return closing(shape.error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request headers are over {MAX_HEADERS} fields or {MAX_HEADER_BYTES} bytes"
            ),
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let (Some(limit), Some(length)) = (body_limit(shape, path), declared) {
        if length > limit as u64 {
            return closing(shape.error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over {limit} bytes"),
            ));
        }
    }
    next.run(req).await
}
