//! [`HttpTeamApi`]: the Splashtop team API over HTTP with reqwest, each call reported to
//! the [`CallObserver`]s attached to it.

use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::{Client, Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};

use super::{classify, ApiError, CallContext, CallObserver, TeamApi, UserProfile};
use crate::wire::{
    GroupBody, GroupName, GroupsBody, MembersBody, RemoveMode, TeamGroup, TeamUser, UserBody,
    UsersBody, API_PREFIX, JOB_ID_HEADER, KEY_HEADER, VERSION_HEADER,
};

/// [`TeamApi`] over HTTP with reqwest; clones share the connection pool, the cached
/// default group and the observers.
#[derive(Debug, Clone)]
pub struct HttpTeamApi {
    client: Client,
    base: String,
    root: String,
    /// Debug shows it as `[REDACTED]`; only `request_url` exposes it, into the header.
    token: SecretString,
    default_group: Arc<OnceLock<TeamGroup>>,
    observers: Arc<RwLock<Vec<Arc<dyn CallObserver>>>>,
}

impl HttpTeamApi {
    /// A client for `team_id` at `api_url` (the base URL, without [`API_PREFIX`]), each
    /// request given up after `timeout`.
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
        let root = format!("{}{API_PREFIX}", api_url.trim_end_matches('/'));
        Ok(Self {
            client,
            base: format!("{root}/teams/{team_id}"),
            root,
            token,
            default_group: Arc::default(),
            observers: Arc::default(),
        })
    }

    fn request(&self, cx: &CallContext, method: Method, path: &str) -> RequestBuilder {
        self.request_url(cx, method, format!("{}{}", self.base, path))
    }

    fn request_url(&self, cx: &CallContext, method: Method, url: String) -> RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose_secret())
            .header(JOB_ID_HEADER, &cx.job_id)
            .header(KEY_HEADER, &cx.key)
            .header(VERSION_HEADER, cx.version.to_string())
    }

    fn observe(&self, method: &str, status: Option<u16>, elapsed: Duration) {
        let observers = self
            .observers
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        for observer in observers.iter() {
            observer.observe(method, status, elapsed);
        }
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
        self.observe(method.as_str(), status, start.elapsed());
        let (status, retry_after, body) = answer?;
        if status.is_success() {
            let bytes: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(bytes).map_err(|e| ApiError::Transient {
                status: Some(status.as_u16()),
                retry_after: None,
                detail: format!("unexpected response body: {e}"),
            });
        }
        Err(classify(status.as_u16(), retry_after, &body))
    }

    /// Sends a DELETE; 404 means it is already gone, which is what was asked.
    async fn delete(&self, req: RequestBuilder) -> Result<(), ApiError> {
        match self.send::<serde_json::Value>(req).await {
            Ok(_) => Ok(()),
            Err(ApiError::Permanent { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
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
    ApiError::transient(format!("{kind}: {}", e.without_url()))
}

/// Retry-After in whole seconds, the only form the contract uses.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
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
            let req = self
                .request(cx, Method::POST, "/users")
                .json(&profile.invite(email));
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
                .json(&profile.update());
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
            let mode = if delete {
                RemoveMode::Delete
            } else {
                RemoveMode::Remove
            };
            let req = self
                .request(cx, Method::DELETE, &format!("/users/{user_id}"))
                .query(&[("mode", mode.as_str())]);
            self.delete(req).await
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
                .ok_or_else(|| ApiError::transient("the team lists no default group"))?;
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
            let req = self.request(cx, Method::POST, "/groups").json(&GroupName {
                name: name.to_owned(),
            });
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
                .json(&GroupName {
                    name: name.to_owned(),
                });
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
            self.delete(req).await
        })
    }

    fn observe_calls(&self, observer: Arc<dyn CallObserver>) {
        self.observers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(observer);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Calls(Mutex<Vec<(String, Option<u16>)>>);

    impl CallObserver for Calls {
        fn observe(&self, method: &str, status: Option<u16>, _elapsed: Duration) {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((method.to_owned(), status));
        }
    }

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
    async fn a_transport_failure_is_transient_and_observed_without_a_status() {
        let api = HttpTeamApi::new(
            "http://127.0.0.1:1",
            "team-1",
            SecretString::from("token"),
            Duration::from_secs(2),
        )
        .unwrap();
        let calls = Arc::new(Calls::default());
        api.observe_calls(calls.clone());
        let error = api
            .find_user(&CallContext::default(), "a@example.com")
            .await
            .unwrap_err();
        assert!(matches!(error, ApiError::Transient { status: None, .. }));
        let seen = calls.0.lock().unwrap().clone();
        assert_eq!(seen, vec![("GET".to_owned(), None)]);
    }
}
