//! The Splashtop team API: what the worker asks of a team ([`TeamApi`]) and the types it
//! speaks in. The one module that knows Splashtop's paths and bodies (`docs/splashtop-api.md`)
//! is `http`, so it can follow the official API reference without touching the rest.
//!
//! # Layout
//! - this module: the [`TeamApi`] trait, its types, [`ApiError`] and [`classify`].
//! - `http`: [`HttpTeamApi`], the reqwest implementation.

mod http;

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

pub use http::HttpTeamApi;

use crate::metrics::ApiMetrics;

/// A Splashtop team member.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamUser {
    /// Splashtop's user id.
    pub id: String,
    /// Account email.
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// SSO method name.
    #[serde(default)]
    pub sso_name: Option<String>,
    /// The user's one group.
    #[serde(default)]
    pub group_id: Option<String>,
}

/// A Splashtop user group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TeamGroup {
    /// Splashtop's group id.
    pub id: String,
    /// Group name.
    pub name: String,
    /// The team's default group.
    #[serde(default)]
    pub is_default: bool,
}

/// The desired profile of a user, sent on invite and update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserProfile {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Display name.
    pub display_name: String,
    /// SSO method name, exactly.
    pub sso_name: Option<String>,
    /// The group, `None` for the default group.
    pub group_id: Option<String>,
}

/// Which job a request belongs to; sent as `X-Splashsync-*` headers for tracing.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Job id.
    pub job_id: String,
    /// Job key.
    pub key: String,
    /// Key version.
    pub version: i64,
}

/// A failed call, classified for the retry policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Retrying may succeed: connect errors, timeouts, 5xx, 408, 429.
    #[error("transient failure (status {status:?}): {detail}")]
    Transient {
        /// HTTP status, if an answer came.
        status: Option<u16>,
        /// Retry-After, when the server sent one.
        retry_after: Option<Duration>,
        /// What happened.
        detail: String,
    },
    /// Retrying will not help: a 4xx that names the cause.
    #[error("permanent failure {status} {code}: {message}")]
    Permanent {
        /// HTTP status.
        status: u16,
        /// Splashtop's error code (`seat_limit_reached`, …).
        code: String,
        /// Splashtop's message.
        message: String,
        /// The raw error body.
        body: String,
    },
}

impl ApiError {
    /// The error code for permanent errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Permanent { code, .. } => Some(code),
            ApiError::Transient { .. } => None,
        }
    }
}

/// Splashtop's error body: `{"error":{"code":…,"message":…}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: ErrorDetail,
}
#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Sorts an error answer into transient or permanent.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned();
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        return ApiError::Transient {
            status: Some(status.as_u16()),
            retry_after,
            detail: if parsed.error.message.is_empty() {
                text
            } else {
                parsed.error.message
            },
        };
    }
    ApiError::Permanent {
        status: status.as_u16(),
        code: if parsed.error.code.is_empty() {
            format!("http_{}", status.as_u16())
        } else {
            parsed.error.code
        },
        message: parsed.error.message,
        body: text,
    }
}

/// Everything the worker asks of a Splashtop team.
pub trait TeamApi: Send + Sync + 'static {
    /// The team member with this email, if any.
    fn find_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamUser>, ApiError>>;
    /// Invites a user.
    fn invite_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>>;
    /// Updates a user's profile and group.
    fn update_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>>;
    /// Removes a user from the team (`delete`: deletes the account too).
    fn remove_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        delete: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// The group with this name (case-insensitive), if any.
    fn find_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamGroup>, ApiError>>;
    /// The team's default group (it never changes, so clients may cache it).
    fn default_group<'a>(
        &'a self,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>>;
    /// The default group if it is already known, without a call.
    fn cached_default_group(&self) -> Option<TeamGroup> {
        None
    }
    /// The members of a group.
    fn group_members<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<TeamUser>, ApiError>>;
    /// Creates a group.
    fn create_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>>;
    /// Renames a group.
    fn rename_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>>;
    /// Deletes a group; its members fall back to the default group.
    fn delete_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// The request counters and latency histogram this client records, if it has any;
    /// the worker registers them with its `/metrics`.
    fn request_metrics(&self) -> Option<ApiMetrics> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient_and_keep_retry_after() {
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            b"{}",
        );
        assert!(
            matches!(e, ApiError::Transient { status: Some(429), retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, None, b""),
            ApiError::Transient { .. }
        ));
        assert!(matches!(
            classify(StatusCode::REQUEST_TIMEOUT, None, b""),
            ApiError::Transient { .. }
        ));
    }

    #[test]
    fn a_named_client_error_is_permanent_with_its_code() {
        let body = br#"{"error":{"code":"seat_limit_reached","message":"licence full"}}"#;
        let e = classify(StatusCode::UNPROCESSABLE_ENTITY, None, body);
        assert_eq!(e.code(), Some("seat_limit_reached"));
        assert!(matches!(e, ApiError::Permanent { status: 422, .. }));
        assert_eq!(
            classify(StatusCode::FORBIDDEN, None, b"nope").code(),
            Some("http_403")
        );
    }
}
