//! The API's error answer as the domain decides it: a status, one of the contract's
//! codes and a message. `http` turns it into `{"error":{"code","message"}}`.

use splashtop_api::ErrorCode;

/// An error answer of the simulated API.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: u16,
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    /// `Retry-After` in whole seconds, for 429 answers.
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub(crate) fn new(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `invalid_request`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, ErrorCode::InvalidRequest, message)
    }

    /// 401 `unauthorized`.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            401,
            ErrorCode::Unauthorized,
            "missing or invalid bearer token",
        )
    }

    /// 404 with the given code.
    pub(crate) fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(404, code, message)
    }

    /// 409 with the given code.
    pub(crate) fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 422 with the given code.
    pub(crate) fn unprocessable(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(422, code, message)
    }

    /// 429 `rate_limited` with `Retry-After: secs`.
    pub(crate) fn rate_limited(secs: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(secs),
            ..Self::new(429, ErrorCode::RateLimited, message)
        }
    }

    /// A 5xx `internal_error`.
    pub(crate) fn internal(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, ErrorCode::InternalError, message)
    }
}
