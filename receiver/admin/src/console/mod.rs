//! The operators' web console under `/console`: server-rendered HTML, no front-end
//! build, no JavaScript; replay and discard are plain POST forms.
//!
//! Operators log in with the admin token once; the console then keeps an opaque session
//! id in an `HttpOnly`, `SameSite=Strict` cookie (the token itself never sits in the
//! browser), and POSTs from another origin are refused.
//!
//! # Layout
//! - [`pages`]: the pages (overview, dead letters, one dead letter, user search).
//! - [`chart`]: the backlog and throughput chart as inline SVG.
//! - [`html`]: escaping, layout, forms.

pub mod chart;
pub mod html;
pub mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::guard::{self, Realm, Refused};
use crate::params::{DiscardBody, FilterParams, Validate};
use crate::{api, AdminError, AdminState};
use html::{enc, parse_form};

/// How long a console session lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const COOKIE: &str = "splashsync_console";
/// Largest console form accepted (a discard note, a filter).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Console sessions: opaque ids and their expiry, in memory (a restart logs everyone out).
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn open(&self) -> String {
        let id = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        if let Ok(mut s) = self.inner.lock() {
            let now = Instant::now();
            s.retain(|_, exp| *exp > now);
            s.insert(id.clone(), now + SESSION_TTL);
        }
        id
    }

    fn valid(&self, id: &str) -> bool {
        self.inner
            .lock()
            .map(|s| s.get(id).is_some_and(|exp| *exp > Instant::now()))
            .unwrap_or(false)
    }

    fn close(&self, id: &str) {
        if let Ok(mut s) = self.inner.lock() {
            s.remove(id);
        }
    }
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// What the admin API uses.
    pub admin: AdminState,
    /// Logged-in sessions.
    pub sessions: Arc<Sessions>,
}

fn session_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether a POST comes from this console (no Origin header: a non-browser client).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest == host)
}

/// A throttled address's answer: the login page saying when to come back.
fn throttled_page(refused: Refused, retry_after: Duration) -> Response {
    refused.decorate(
        (
            StatusCode::TOO_MANY_REQUESTS,
            login_form(Some(&format!(
                "error: too many failed logins from your address; retry in {} s",
                guard::retry_after_secs(retry_after)
            ))),
        )
            .into_response(),
    )
}

async fn require_session(State(state): State<ConsoleState>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    let in_session = session_of(headers).is_some_and(|s| state.sessions.valid(&s));
    if !in_session {
        // A non-browser client may send the admin token instead: a bearer attempt like
        // the admin API's, throttled alike.
        let Some(presented) = headers.get(header::AUTHORIZATION) else {
            return Redirect::to("/console/login").into_response();
        };
        let token = &state.admin.token;
        match guard::attempt(req.extensions(), Realm::Admin, || {
            token.accepts(Some(presented.as_bytes()))
        }) {
            Ok(()) => {}
            Err(Refused::Unauthorized) => return Redirect::to("/console/login").into_response(),
            Err(refused @ Refused::Throttled { retry_after }) => {
                return throttled_page(refused, retry_after)
            }
        }
    }
    if req.method() == Method::POST && !same_origin(headers) {
        return (StatusCode::FORBIDDEN, "cross-origin form posts are refused").into_response();
    }
    next.run(req).await
}

/// The `/console` routes.
pub fn router(admin: AdminState) -> Router {
    let state = ConsoleState {
        admin,
        sessions: Arc::new(Sessions::default()),
    };
    let protected = Router::new()
        .route("/console", get(pages::overview))
        .route("/console/dead-letters", get(pages::dead_letters))
        .route("/console/dead-letters/replay", post(replay_matching))
        .route("/console/dead-letters/{id}", get(pages::dead_letter))
        .route("/console/dead-letters/{id}/replay", post(replay_one))
        .route("/console/dead-letters/{id}/discard", post(discard))
        .route("/console/users", get(pages::users))
        .route("/console/logout", post(logout))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    Router::new()
        .route("/console/login", get(login_page).post(login))
        .merge(protected)
        .with_state(state)
}

fn login_form(msg: Option<&str>) -> Html<String> {
    Html(html::page(
        "Log in",
        msg,
        "<form method=\"post\" action=\"/console/login\"><label>Admin token \
         <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\"></label> \
         <button id=\"login\">Log in</button></form>",
    ))
}

async fn login_page() -> Html<String> {
    login_form(None)
}

async fn login(State(state): State<ConsoleState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            login_form(Some("error: the form is too large")),
        )
            .into_response();
    };
    let form = parse_form(&body);
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let presented = format!("Bearer {token}");
    match guard::attempt(&parts.extensions, Realm::Console, || {
        state.admin.token.accepts(Some(presented.as_bytes()))
    }) {
        Ok(()) => {}
        Err(Refused::Unauthorized) => {
            return (
                StatusCode::UNAUTHORIZED,
                login_form(Some("error: wrong token")),
            )
                .into_response()
        }
        Err(refused @ Refused::Throttled { retry_after }) => {
            return throttled_page(refused, retry_after)
        }
    }
    let sid = state.sessions.open();
    let cookie = format!(
        "{COOKIE}={sid}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_TTL.as_secs()
    );
    let mut response = Redirect::to("/console").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

async fn logout(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Some(sid) = session_of(&headers) {
        state.sessions.close(&sid);
    }
    Redirect::to("/console/login").into_response()
}

fn back(to: &str, result: Result<String, AdminError>) -> Response {
    let msg = match result {
        Ok(m) => m,
        Err(e) => format!("error: {}", e.message),
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}msg={}", enc(&msg))).into_response()
}

async fn replay_one(State(state): State<ConsoleState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return back(
            "/console/dead-letters",
            Err(AdminError::bad_request("no such dead letter")),
        );
    };
    let admin = &state.admin;
    let result = admin
        .audit
        .replay(admin.write_ctx("console replay"), id)
        .await;
    if let Ok(r) = &result {
        tracing::info!(dead_letter = id, job_id = %r.job_id, key = %r.key, tenant = %admin.tenant, "dead letter replayed from the console");
    }
    back(
        "/console/dead-letters",
        result
            .map(|r| format!("dead letter {id} replayed as job {} ({})", r.job_id, r.key))
            .map_err(AdminError::from),
    )
}

async fn discard(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return back(
            "/console/dead-letters",
            Err(AdminError::bad_request("no such dead letter")),
        );
    };
    let note = parse_form(&body).remove("note").unwrap_or_default();
    let result = async {
        let note = DiscardBody { note }.validate()?;
        state.admin.audit.discard(id, note).await?;
        tracing::info!(dead_letter = id, tenant = %state.admin.tenant, "dead letter discarded from the console");
        Ok(format!("dead letter {id} discarded"))
    }
    .await;
    back("/console/dead-letters", result)
}

async fn replay_matching(State(state): State<ConsoleState>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let field = |k: &str| form.get(k).cloned().filter(|v| !v.is_empty());
    let params = FilterParams {
        reason: field("reason"),
        tenant: field("tenant"),
        older_than: field("older_than"),
        limit: Some(api::MAX_REPLAY_BATCH),
        ..FilterParams::default()
    };
    let result = async {
        let (replayed, failed) = api::replay_all(&state.admin, params.validate()?).await?;
        Ok(format!(
            "{} replayed, {} failed",
            replayed.len(),
            failed.len()
        ))
    }
    .await;
    back("/console/dead-letters", result)
}
