//! SCIM JSON responses, ETags, and store errors turned into SCIM errors.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use splashsync_scim::{ScimError, ScimType, SCIM_CONTENT_TYPE};

use splashsync_directory::StoreError;

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

/// A resource response with its ETag (and Location on 201).
pub fn resource(status: StatusCode, body: &serde_json::Value, version: i64) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED {
        if let Some(l) = body["meta"]["location"]
            .as_str()
            .and_then(|l| HeaderValue::from_str(l).ok())
        {
            response.headers_mut().insert(header::LOCATION, l);
        }
    }
    response
}

/// 201 for a resource this request created, without the provisioning extension (it is
/// returned only when asked for; a create's state would be `pending`).
pub fn created(body: serde_json::Value, version: i64) -> Response {
    resource(StatusCode::CREATED, &body, version)
}

/// A new resource id. Time-ordered (UUIDv7), so index inserts stay at the right edge of
/// the B-trees: a group commit dirties a few pages instead of one per row.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// The weak ETag of a version, also `meta.version`.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version an `If-Match` header asks for: `None` when absent or `*`; a value that
/// names no version of ours can never match (412).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let bare = text.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map(Some).map_err(|_| {
        ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!("If-Match {text:?} names no version of this resource"),
        )
    })
}

/// Maps a store failure to the SCIM error the caller sees; internal details are logged,
/// never sent.
pub fn store_error(err: StoreError) -> ScimError {
    match err {
        StoreError::UserNameTaken(_)
        | StoreError::GroupNameTaken(_)
        | StoreError::AlreadyResolved { .. }
        | StoreError::IncidentClosed { .. }
        | StoreError::GroupConflict(..) => ScimError::conflict(err.to_string()),
        StoreError::NotFound(_) => ScimError::new(StatusCode::NOT_FOUND, None, err.to_string()),
        StoreError::PreconditionFailed { current } => ScimError::new(
            StatusCode::PRECONDITION_FAILED,
            None,
            format!(
                "the resource changed: its current version is {}; read it again",
                etag(current)
            ),
        ),
        StoreError::Rejected(e) => e,
        StoreError::UnknownMember(_) | StoreError::Unreplayable(_) => {
            ScimError::bad_request(ScimType::InvalidValue, err.to_string())
        }
        StoreError::Closed => ScimError::unavailable("the service is shutting down; retry shortly"),
        StoreError::Contention => ScimError::unavailable(
            "the write conflicted with a concurrent one and was not applied; send it again",
        ),
        StoreError::Database(e) => {
            tracing::error!(error = %e, "store failure");
            ScimError::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_write_conflict_is_a_503_to_retry_not_a_500() {
        let err = store_error(StoreError::Contention);
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(err.detail().contains("send it again"), "{}", err.detail());
    }
}
