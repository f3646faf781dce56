//! The Splashtop team API client: the one module that knows Splashtop's paths and bodies
//! (`docs/splashtop-api.md`), behind the [`TeamApi`] trait so it can follow the official
//! API reference without touching the rest.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

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
}

/// [`TeamApi`] over HTTP with reqwest.
#[derive(Debug, Clone)]
pub struct HttpTeamApi {
    client: Client,
    base: String,
    root: String,
    token: SecretString,
    default_group: Arc<OnceLock<TeamGroup>>,
}

#[derive(Deserialize)]
struct UsersBody {
    users: Vec<TeamUser>,
}
#[derive(Deserialize)]
struct UserBody {
    user: TeamUser,
}
#[derive(Deserialize)]
struct GroupsBody {
    groups: Vec<TeamGroup>,
}
#[derive(Deserialize)]
struct MembersBody {
    members: Vec<TeamUser>,
}
#[derive(Deserialize)]
struct GroupBody {
    group: TeamGroup,
}
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

impl HttpTeamApi {
    /// A client for `team_id` at `api_url`.
    pub fn new(
        api_url: &str,
        team_id: &str,
        token: SecretString,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        // reqwest is built without a bundled crypto provider; ring is the lean one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .user_agent(concat!("splashsync/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let root = format!("{}/api/open/v1", api_url.trim_end_matches('/'));
        Ok(Self {
            client,
            base: format!("{root}/teams/{team_id}"),
            root,
            token,
            default_group: Arc::default(),
        })
    }

    fn request(&self, cx: &CallContext, method: Method, path: &str) -> RequestBuilder {
        self.request_url(cx, method, format!("{}{}", self.base, path))
    }

    fn request_url(&self, cx: &CallContext, method: Method, url: String) -> RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose_secret())
            .header("X-Splashsync-Job-Id", &cx.job_id)
            .header("X-Splashsync-Key", &cx.key)
            .header("X-Splashsync-Version", cx.version.to_string())
    }

    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, ApiError> {
        let response = req.send().await.map_err(transport_error)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let body = response.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            let bytes: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(bytes).map_err(|e| ApiError::Transient {
                status: Some(status.as_u16()),
                retry_after: None,
                detail: format!("unexpected response body: {e}"),
            });
        }
        Err(classify(status, retry_after, &body))
    }
}

fn transport_error(e: reqwest::Error) -> ApiError {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "transport error"
    };
    ApiError::Transient {
        status: None,
        retry_after: None,
        detail: format!("{kind}: {}", e.without_url()),
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
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

fn is_not_found(e: &ApiError) -> bool {
    matches!(e, ApiError::Permanent { status: 404, .. })
}

impl TeamApi for HttpTeamApi {
    fn find_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamUser>, ApiError>> {
        Box::pin(async move {
            let req = self
                .request(cx, Method::GET, "/users")
                .query(&[("email", email)]);
            let body: UsersBody = self.send(req).await?;
            Ok(body
                .users
                .into_iter()
                .find(|u| u.email.eq_ignore_ascii_case(email)))
        })
    }

    fn invite_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        Box::pin(async move {
            #[derive(Serialize)]
            struct Invite<'b> {
                email: &'b str,
                #[serde(flatten)]
                profile: &'b UserProfile,
            }
            let req = self
                .request(cx, Method::POST, "/users")
                .json(&Invite { email, profile });
            let body: UserBody = self.send(req).await?;
            Ok(body.user)
        })
    }

    fn update_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        Box::pin(async move {
            let req = self
                .request(cx, Method::PATCH, &format!("/users/{user_id}"))
                .json(profile);
            let body: UserBody = self.send(req).await?;
            Ok(body.user)
        })
    }

    fn remove_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        delete: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let mode = if delete { "delete" } else { "remove" };
            let req = self
                .request(cx, Method::DELETE, &format!("/users/{user_id}"))
                .query(&[("mode", mode)]);
            match self.send::<serde_json::Value>(req).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(e),
            }
        })
    }

    fn find_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamGroup>, ApiError>> {
        Box::pin(async move {
            let req = self
                .request(cx, Method::GET, "/groups")
                .query(&[("name", name)]);
            let body: GroupsBody = self.send(req).await?;
            Ok(body
                .groups
                .into_iter()
                .find(|g| g.name.eq_ignore_ascii_case(name)))
        })
    }

    fn default_group<'a>(
        &'a self,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        Box::pin(async move {
            if let Some(g) = self.default_group.get() {
                return Ok(g.clone());
            }
            let body: GroupsBody = self.send(self.request(cx, Method::GET, "/groups")).await?;
            let group = body
                .groups
                .into_iter()
                .find(|g| g.is_default)
                .ok_or_else(|| ApiError::Transient {
                    status: None,
                    retry_after: None,
                    detail: "the team lists no default group".into(),
                })?;
            Ok(self.default_group.get_or_init(|| group).clone())
        })
    }

    fn cached_default_group(&self) -> Option<TeamGroup> {
        self.default_group.get().cloned()
    }

    fn group_members<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<TeamUser>, ApiError>> {
        Box::pin(async move {
            let url = format!("{}/groups/{group_id}/members", self.root);
            let body: MembersBody = self.send(self.request_url(cx, Method::GET, url)).await?;
            Ok(body.members)
        })
    }

    fn create_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        Box::pin(async move {
            let req = self
                .request(cx, Method::POST, "/groups")
                .json(&serde_json::json!({ "name": name }));
            let body: GroupBody = self.send(req).await?;
            Ok(body.group)
        })
    }

    fn rename_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        Box::pin(async move {
            let req = self
                .request(cx, Method::PATCH, &format!("/groups/{group_id}"))
                .json(&serde_json::json!({ "name": name }));
            let body: GroupBody = self.send(req).await?;
            Ok(body.group)
        })
    }

    fn delete_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        Box::pin(async move {
            let req = self.request(cx, Method::DELETE, &format!("/groups/{group_id}"));
            match self.send::<serde_json::Value>(req).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(e),
            }
        })
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
