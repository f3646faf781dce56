//! [`HttpTeamApi`]: the Splashtop team API over HTTP with reqwest, each call reported to
//! the [`CallObserver`]s attached to it.
//!
//! Two limits guard the worker against an upstream that misbehaves (or is not Splashtop):
//! - an answer's body is read a chunk at a time and given up past [`MAX_BODY_BYTES`] (or
//!   the limit set with [`HttpTeamApi::with_max_body_bytes`]): a hostile or broken server
//!   cannot make the worker buffer hundreds of megabytes;
//! - redirects are never followed: a 3xx is an error with its status. reqwest drops the
//!   token on a cross-host redirect, but following one would still send the job's
//!   `X-Splashsync-*` headers and a `Referer` with the user's email in its query to
//!   whatever host the `Location` names.

use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use reqwest::{Client, Method, RequestBuilder, Response};
use secrecy::{ExposeSecret, SecretString};

use super::{classify, ApiError, CallContext, CallObserver, TeamApi, UserProfile};
use crate::wire::{
    GroupBody, GroupName, GroupsPage, MembersBody, RemoveMode, TeamGroup, TeamUser, UserBody,
    UsersPage, API_PREFIX, JOB_ID_HEADER, KEY_HEADER, MAX_PAGE_LIMIT, VERSION_HEADER,
};

/// The default limit of an answer's body: 1 MiB. The contract's largest answers (a page of
/// users, a team's groups: at most 2000 of about a hundred bytes each) are a few hundred
/// KiB at most; anything past this is not an answer the client can use.
pub(crate) const MAX_BODY_BYTES: usize = 1 << 20;

/// [`TeamApi`] over HTTP with reqwest; clones share the connection pool, the cached
/// default group and the observers.
#[derive(Debug, Clone)]
pub struct HttpTeamApi {
    client: Client,
    max_body_bytes: usize,
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
            // A 3xx comes back as an answer (an error with its status), never followed.
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()?;
        let root = format!("{}{API_PREFIX}", api_url.trim_end_matches('/'));
        Ok(Self {
            client,
            max_body_bytes: MAX_BODY_BYTES,
            base: format!("{root}/teams/{team_id}"),
            root,
            token,
            default_group: Arc::default(),
            observers: Arc::default(),
        })
    }

    /// Overrides the limit of an answer's body (at least 1 KiB).
    pub fn with_max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit.max(1024);
        self
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

    /// A `GET` of one page of a listing.
    fn list(
        &self,
        cx: &CallContext,
        path: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> RequestBuilder {
        let req = self
            .request(cx, Method::GET, path)
            .query(&[("limit", limit.to_string())]);
        match cursor {
            Some(cursor) => req.query(&[("cursor", cursor)]),
            None => req,
        }
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
            let location = location(response.headers());
            let body = read_capped(response, self.max_body_bytes)
                .await
                .map_err(transport_error)?;
            Ok::<_, ApiError>((status, retry_after, location, body))
        }
        .await;
        let status = answer.as_ref().ok().map(|(status, ..)| status.as_u16());
        self.observe(method.as_str(), status, start.elapsed());
        let (status, retry_after, location, body) = answer?;
        let body = match body {
            Capped::Whole(body) => body,
            // An error answer is classified by its status; its body is only a hint.
            Capped::Truncated(prefix) if !status.is_success() => prefix,
            Capped::Truncated(_) => return Err(too_large(status.as_u16(), self.max_body_bytes)),
        };
        if status.is_redirection() {
            return Err(redirected(status.as_u16(), location));
        }
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

/// A body read up to a limit.
enum Capped {
    /// All of it.
    Whole(Vec<u8>),
    /// The first `limit` bytes of a longer body; the rest was never read.
    Truncated(Vec<u8>),
}

/// Reads `response`'s body a chunk at a time, stopping at `limit` bytes: a larger body is
/// never buffered (a declared length over the limit is refused before any of it is read).
async fn read_capped(mut response: Response, limit: usize) -> Result<Capped, reqwest::Error> {
    let declared = response
        .content_length()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > limit) {
        return Ok(Capped::Truncated(Vec::new()));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            let room = limit - body.len();
            body.extend_from_slice(&chunk[..room]);
            return Ok(Capped::Truncated(body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Capped::Whole(body))
}

/// A success answer too large to use. Permanent: the same request gets the same answer,
/// and retrying would download it again for the whole retry budget.
fn too_large(status: u16, limit: usize) -> ApiError {
    let size = if limit == MAX_BODY_BYTES {
        "1 MiB".to_owned()
    } else {
        format!("{limit} bytes")
    };
    let message = format!("Splashtop answered more than {size}; the answer was not read");
    ApiError::Permanent {
        status,
        code: crate::error::ErrorCode::Other("response_too_large".into()),
        body: message.clone(),
        message,
    }
}

/// A 3xx. Permanent: the configured API URL is wrong (or something stands in front of
/// Splashtop), which only an operator can fix.
fn redirected(status: u16, location: Option<String>) -> ApiError {
    let to = location.map_or_else(String::new, |l| format!(" to {l}"));
    let message = format!(
        "Splashtop answered a redirect ({status}){to}; redirects are not followed: check the API URL"
    );
    ApiError::Permanent {
        status,
        code: crate::error::ErrorCode::Other(format!("http_{status}")),
        body: message.clone(),
        message,
    }
}

/// The `Location` of a redirect, shortened for an error message.
fn location(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let value = headers.get(reqwest::header::LOCATION)?.to_str().ok()?;
    Some(value.chars().take(200).collect())
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
            let body: UsersPage = self.send(req).await?;
            Ok(body
                .users
                .into_iter()
                .find(|u| u.email.eq_ignore_ascii_case(email)))
        })
    }

    fn users_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>> {
        Box::pin(self.send(self.list(cx, "/users", cursor, limit)))
    }

    fn groups_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>> {
        Box::pin(self.send(self.list(cx, "/groups", cursor, limit)))
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
            let body: GroupsPage = self.send(req).await?;
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
            // Page through the groups: the default group sorts by its name like any other.
            let mut cursor: Option<String> = None;
            loop {
                let page = self.list(cx, "/groups", cursor.as_deref(), MAX_PAGE_LIMIT);
                let page: GroupsPage = self.send(page).await?;
                if let Some(group) = page.groups.into_iter().find(|g| g.is_default) {
                    return Ok(self.default_group.get_or_init(|| group).clone());
                }
                cursor = match page.next_cursor {
                    Some(next) => Some(next),
                    None => return Err(ApiError::transient("the team lists no default group")),
                };
            }
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
mod tests;
