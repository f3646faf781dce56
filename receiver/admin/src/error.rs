//! The admin API's errors: a status and `{"error": {"status", "message"}}`, and the
//! mapping of store failures to them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use splashsync_directory::StoreError;
use splashsync_protocol::admin::{ErrorBody, ErrorDetail};

/// An admin API error: a status and a JSON body `{"error": {"status", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the operator.
    pub message: String,
}

impl AdminError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                status: self.status.as_u16(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        let (status, message) = match &e {
            StoreError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string()),
            StoreError::UserNameTaken(_)
            | StoreError::GroupNameTaken(_)
            | StoreError::AlreadyResolved { .. }
            | StoreError::IncidentClosed { .. }
            | StoreError::GroupConflict(..) => (StatusCode::CONFLICT, e.to_string()),
            StoreError::PreconditionFailed { current } => (
                StatusCode::CONFLICT,
                format!("the resource changed (now W/\"{current}\")"),
            ),
            StoreError::Rejected(scim) => {
                (StatusCode::UNPROCESSABLE_ENTITY, scim.detail().to_string())
            }
            StoreError::UnknownMember(_) | StoreError::Unreplayable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            StoreError::Closed => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the receiver is shutting down".into(),
            ),
            StoreError::Contention => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the write conflicted with a concurrent one and was not applied; send it again"
                    .into(),
            ),
            StoreError::Database(err) => {
                // The cause goes to the log, not to the client.
                tracing::error!(error = %err, "admin request failed in the store");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the directory store failed; see the receiver's log".into(),
                )
            }
        };
        Self { status, message }
    }
}
