//! What a client asks of a Splashtop team ([`TeamApi`]), and how a failed call is
//! classified for the caller's retry policy ([`ApiError`], [`classify`]).
//!
//! # Layout
//! - this module: the [`TeamApi`] trait, [`UserProfile`], [`CallContext`],
//!   [`CallObserver`], [`ApiError`] and [`classify`].
//! - `http`: [`HttpTeamApi`], the reqwest implementation.

mod http;

use std::time::Duration;

use futures_util::future::BoxFuture;

pub use http::HttpTeamApi;

use crate::error::{ErrorBody, ErrorCode};
use crate::wire::{GroupsPage, InviteUser, TeamGroup, TeamUser, UpdateUser, UsersPage};

/// The desired profile of a user, sent on invite and update.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl UserProfile {
    /// The invite of `email` with this profile.
    pub fn invite(&self, email: &str) -> InviteUser {
        InviteUser {
            email: email.to_owned(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            display_name: Some(self.display_name.clone()),
            sso_name: self.sso_name.clone(),
            group_id: self.group_id.clone(),
        }
    }

    /// The update that sets every field of the profile.
    pub fn update(&self) -> UpdateUser {
        UpdateUser {
            first_name: Some(self.first_name.clone()),
            last_name: Some(self.last_name.clone()),
            display_name: Some(self.display_name.clone()),
            sso_name: Some(self.sso_name.clone()),
            group_id: Some(self.group_id.clone()),
        }
    }

    /// Whether `user` already has this profile.
    pub fn matches(&self, user: &TeamUser) -> bool {
        user.first_name == self.first_name
            && user.last_name == self.last_name
            && user.display_name == self.display_name
            && user.sso_name == self.sso_name
            && user.group_id == self.group_id
    }
}

/// Which job a request belongs to; sent as the `X-Splashsync-*` tracing headers.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Job id.
    pub job_id: String,
    /// Job key.
    pub key: String,
    /// Key version.
    pub version: i64,
}

/// Told about every HTTP call a client makes, e.g. to count and time them.
pub trait CallObserver: Send + Sync + std::fmt::Debug + 'static {
    /// One call: its HTTP method, its status (`None`: no answer came) and how long it
    /// took, body included.
    fn observe(&self, method: &str, status: Option<u16>, elapsed: Duration);
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
        /// Splashtop's error code, or `http_<status>` when the answer named none.
        code: ErrorCode,
        /// Splashtop's message.
        message: String,
        /// The raw error body (at most 2 KiB).
        body: String,
    },
}

impl ApiError {
    /// A transient failure without an answer (e.g. a dependency of the caller failed).
    pub fn transient(detail: impl Into<String>) -> Self {
        Self::Transient {
            status: None,
            retry_after: None,
            detail: detail.into(),
        }
    }

    /// The error code of a permanent error.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Permanent { code, .. } => Some(code),
            Self::Transient { .. } => None,
        }
    }

    /// Whether this is a permanent error with `code`.
    pub fn has_code(&self, code: &ErrorCode) -> bool {
        self.code() == Some(code)
    }

    /// The HTTP status, if an answer came.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transient { status, .. } => *status,
            Self::Permanent { status, .. } => Some(*status),
        }
    }

    /// The server's Retry-After, if it sent one with a transient failure.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Transient { retry_after, .. } => *retry_after,
            Self::Permanent { .. } => None,
        }
    }
}

/// Sorts an error answer (`status` is not 2xx) into transient or permanent, following
/// the contract's table (docs/splashtop-api.md, "Error codes"): 5xx, 408 and 429 may
/// pass with time; any other status names a cause retrying cannot fix.
pub fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> ApiError {
    // A gateway may answer without a JSON body: the status alone decides then.
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error)
        .filter(|e| !e.code.as_str().is_empty());
    let text = String::from_utf8_lossy(&body[..body.len().min(2048)]).into_owned();
    if (500..600).contains(&status) || status == 429 || status == 408 {
        let message = detail.map(|d| d.message).filter(|m| !m.is_empty());
        return ApiError::Transient {
            status: Some(status),
            retry_after,
            detail: message.unwrap_or(text),
        };
    }
    let (code, message) = match detail {
        Some(d) => (d.code, d.message),
        None => (ErrorCode::Other(format!("http_{status}")), String::new()),
    };
    ApiError::Permanent {
        status,
        code,
        message,
        body: text,
    }
}

/// Everything a client asks of a Splashtop team.
pub trait TeamApi: Send + Sync + std::fmt::Debug + 'static {
    /// The team member with this email, if any.
    fn find_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamUser>, ApiError>>;
    /// One page of the team's users (sorted by email): the first page with `cursor`
    /// `None`, then each page with the previous page's `next_cursor`, until it is `None`.
    /// `limit` is the page size (1 to [`crate::MAX_PAGE_LIMIT`]).
    fn users_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>>;
    /// One page of the team's groups (sorted by name, the default group included), paged
    /// as [`TeamApi::users_page`].
    fn groups_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>>;
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
    /// Removes a user from the team (`delete`: deletes the account too); a user already
    /// gone is a success.
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
    /// Deletes a group (its members fall back to the default group); a group already
    /// gone is a success.
    fn delete_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
    /// Reports every HTTP call from now on to `observer` as well; a client that makes no
    /// HTTP calls of its own ignores it.
    fn observe_calls(&self, observer: std::sync::Arc<dyn CallObserver>) {
        let _ = observer;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient_and_keep_retry_after() {
        let e = classify(429, Some(Duration::from_secs(3)), b"{}");
        assert!(
            matches!(e, ApiError::Transient { status: Some(429), retry_after: Some(d), .. } if d == Duration::from_secs(3))
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(matches!(
            classify(502, None, b""),
            ApiError::Transient { .. }
        ));
        assert!(matches!(
            classify(408, None, b""),
            ApiError::Transient { .. }
        ));
        let e = classify(
            503,
            None,
            br#"{"error":{"code":"internal_error","message":"down"}}"#,
        );
        assert!(matches!(e, ApiError::Transient { ref detail, .. } if detail == "down"));
    }

    #[test]
    fn a_named_client_error_is_permanent_with_its_code() {
        let body = br#"{"error":{"code":"seat_limit_reached","message":"licence full"}}"#;
        let e = classify(422, None, body);
        assert!(e.has_code(&ErrorCode::SeatLimitReached));
        assert!(matches!(e, ApiError::Permanent { status: 422, .. }));
        assert_eq!(
            classify(403, None, b"nope").code(),
            Some(&ErrorCode::Other("http_403".into()))
        );
    }

    #[test]
    fn a_profile_is_sent_whole_on_invite_and_update() {
        let profile = UserProfile {
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            display_name: "Ann Lee".into(),
            sso_name: None,
            group_id: Some("g_1".into()),
        };
        let invite = serde_json::to_value(profile.invite("ann@example.com")).unwrap();
        assert_eq!(
            invite,
            serde_json::json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
                "display_name": "Ann Lee", "sso_name": null, "group_id": "g_1"})
        );
        let update = serde_json::to_value(profile.update()).unwrap();
        assert_eq!(
            update,
            serde_json::json!({"first_name": "Ann", "last_name": "Lee",
                "display_name": "Ann Lee", "sso_name": null, "group_id": "g_1"})
        );
    }
}
