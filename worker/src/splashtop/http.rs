//! [`HttpTeamApi`]: the Splashtop team API over HTTP with reqwest, each call counted and
//! timed in [`ApiMetrics`].

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::{Client, Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{classify, ApiError, CallContext, TeamApi, TeamGroup, TeamUser, UserProfile};
use crate::metrics::ApiMetrics;

/// [`TeamApi`] over HTTP with reqwest.
#[derive(Debug, Clone)]
pub struct HttpTeamApi {
    client: Client,
    base: String,
    root: String,
    /// Debug shows it as `[REDACTED]`; only `request_url` exposes it, into the header.
    token: SecretString,
    default_group: Arc<OnceLock<TeamGroup>>,
    metrics: ApiMetrics,
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
            metrics: ApiMetrics::default(),
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
        let request = req.build().map_err(transport_error)?;
        let method = request.method().clone();
        let start = Instant::now();
        // The whole answer, body included; a transport failure at either end is an error.
        let answer = async {
            let response = self
                .client
                .execute(request)
                .await
                .map_err(transport_error)?;
            let status = response.status();
            let retry_after = retry_after(response.headers());
            let body = response.bytes().await.map_err(transport_error)?;
            Ok::<_, ApiError>((status, retry_after, body))
        }
        .await;
        let status = answer.as_ref().ok().map(|(status, _, _)| status.as_u16());
        self.metrics
            .observe(method.as_str(), status, start.elapsed().as_secs_f64());
        let (status, retry_after, body) = answer?;
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

    fn request_metrics(&self) -> Option<ApiMetrics> {
        Some(self.metrics.clone())
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
    fn debug_output_never_shows_the_token() {
        let api = HttpTeamApi::new(
            "http://127.0.0.1:1",
            "team-1",
            SecretString::from("super-secret-api-token"),
            Duration::from_secs(1),
        )
        .unwrap();
        let debug = format!("{api:?}");
        assert!(!debug.contains("super-secret-api-token"), "{debug}");
    }

    #[tokio::test]
    async fn a_transport_failure_is_counted_with_status_error() {
        let api = HttpTeamApi::new(
            "http://127.0.0.1:1",
            "team-1",
            SecretString::from("token"),
            Duration::from_secs(2),
        )
        .unwrap();
        let error = api
            .find_user(&CallContext::default(), "a@example.com")
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::Transient { status: None, .. }));
        let text = crate::metrics::encode_for_test(&api.metrics);
        assert!(
            text.contains(
                r#"splashsync_worker_splashtop_requests_total{method="GET",status="error"} 1"#
            ),
            "{text}"
        );
    }
}
