//! The operators' web console under `/console`: server-rendered HTML, no front-end
//! build, no JavaScript; replay and discard are plain POST forms.
//!
//! Operators log in with the admin token once; the console then keeps an opaque session
//! id in a cookie (the token itself never sits in the browser). Every POST needs the
//! session's CSRF token, and its `Origin`, when sent, must be the console's own (see
//! [`session`]). A script may read pages with the admin token as a bearer token, but the
//! forms need a session: scripts act through `/admin`. Every answer forbids framing,
//! caching, scripts and referrers.
//!
//! # Layout
//! - [`overview`]: the overview: what is wrong first, the chart, the partitions.
//! - [`incidents`]: incidents (list, one incident, replay, discard).
//! - [`bulk`]: replay-all and discard-all, confirmed with the count.
//! - [`pages`]: dead letters, one dead letter, user search.
//! - [`actions`]: the replay and discard forms' handlers.
//! - [`reconcile`]: the reconciliation page and its buttons.
//! - [`workers`]: the workers, live, quiet or stopped, from their heartbeats.
//! - [`session`]: sessions, CSRF tokens, cookies and the `Origin` check.
//! - [`chart`]: the backlog and throughput chart as inline SVG.
//! - [`html`]: escaping, layout, forms.

pub mod actions;
pub mod bulk;
pub mod chart;
pub mod html;
pub mod incidents;
pub mod overview;
pub mod pages;
pub mod reconcile;
pub mod session;
pub mod workers;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::guard::{self, Realm, Refused};
use crate::AdminState;
use html::{parse_form, Csrf};
use session::{random_token, same_token, Sessions, Site, COOKIE, LOGIN_COOKIE};

/// Largest console form accepted (a discard note, a filter).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The console pages use no script, no frame, no external resource: the policy allows
/// only their inline styles, forms posting to themselves, and nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's state.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// What the admin API uses.
    pub admin: AdminState,
    /// Logged-in sessions.
    pub sessions: Arc<Sessions>,
    /// Where the console is served from (cookies, `Origin` check).
    pub site: Site,
}

/// Headers on every console answer.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::CACHE_CONTROL, "no-store"),
        // Not `no-referrer`: under it browsers send `Origin: null` with the console's own
        // form posts (Chromium does; seen in the browser test), which the Origin check
        // must refuse. `same-origin` sends no referrer to any other site either.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A refusal as a page of its own (no session: no log-out form).
fn refused(status: StatusCode, message: &str) -> Response {
    let msg = format!("error: {message}");
    (status, Html(html::page("Refused", Some(&msg), "", None))).into_response()
}

/// The login page with a fresh one-off token, which is also set as a cookie.
fn login_page_with(site: &Site, status: StatusCode, msg: Option<&str>) -> Response {
    let nonce = random_token();
    let form = format!(
        "<form method=\"post\" action=\"/console/login\">{}<label>Admin token \
         <input type=\"password\" name=\"token\" id=\"token\" autocomplete=\"off\"></label> \
         <button id=\"login\">Log in</button></form>",
        Csrf(nonce.clone()).field()
    );
    let mut response = (status, Html(html::page("Log in", msg, &form, None))).into_response();
    let cookie = site.cookie(LOGIN_COOKIE, &nonce, "/console/login", session::LOGIN_TTL);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// A throttled address's answer: the login page saying when to come back.
fn throttled_page(site: &Site, refused: Refused, retry_after: Duration) -> Response {
    let msg = format!(
        "error: too many failed logins from your address; retry in {} s",
        guard::retry_after_secs(retry_after)
    );
    refused.decorate(login_page_with(
        site,
        StatusCode::TOO_MANY_REQUESTS,
        Some(&msg),
    ))
}

/// The body of a form post, at most [`MAX_FORM_BYTES`].
async fn form_bytes(body: Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| refused(StatusCode::PAYLOAD_TOO_LARGE, "the form is too large"))
}

/// Middleware of every page but the login: a session (or, to read, the admin token);
/// each POST from the console's origin with the session's CSRF token.
async fn require_session(
    State(state): State<ConsoleState>,
    mut req: Request,
    next: Next,
) -> Response {
    let csrf = session::cookie(req.headers(), COOKIE).and_then(|id| state.sessions.csrf(&id));
    let Some(csrf) = csrf else {
        return bearer_only(&state, req, next).await;
    };
    if req.method() == Method::POST {
        if !state.site.origin_ok(req.headers()) {
            return refused(StatusCode::FORBIDDEN, "cross-origin form posts are refused");
        }
        let (parts, body) = req.into_parts();
        let bytes = match form_bytes(body).await {
            Ok(b) => b,
            Err(response) => return response,
        };
        let form = parse_form(&bytes);
        if !same_token(form.get("csrf").map(String::as_str), Some(&csrf)) {
            return refused(
                StatusCode::FORBIDDEN,
                "this form expired or did not come from this console: reload the page and try again",
            );
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(Csrf(csrf));
    next.run(req).await
}

/// Without a session: the admin token as a bearer token (throttled like the admin API's),
/// to read pages only.
async fn bearer_only(state: &ConsoleState, mut req: Request, next: Next) -> Response {
    let Some(presented) = req.headers().get(header::AUTHORIZATION).cloned() else {
        return Redirect::to("/console/login").into_response();
    };
    let token = &state.admin.token;
    match guard::attempt(req.extensions(), Realm::Admin, || {
        token.accepts(Some(presented.as_bytes()))
    }) {
        Ok(()) => {}
        Err(Refused::Unauthorized) => return Redirect::to("/console/login").into_response(),
        Err(r @ Refused::Throttled { retry_after }) => {
            return throttled_page(&state.site, r, retry_after)
        }
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return refused(
            StatusCode::FORBIDDEN,
            "the console's forms need a console session; scripts act through /admin",
        );
    }
    req.extensions_mut().insert(Csrf::default());
    next.run(req).await
}

/// The `/console` routes.
pub fn router(admin: AdminState) -> Router {
    let state = ConsoleState {
        site: Site::from_public_url(admin.public_url.as_deref()),
        admin,
        sessions: Arc::new(Sessions::default()),
    };
    let protected = Router::new()
        .route("/console", get(overview::overview))
        .route("/console/incidents", get(incidents::list))
        .route("/console/incidents/replay", post(bulk::replay_all))
        .route("/console/incidents/discard", post(bulk::discard_all))
        .route("/console/incidents/{id}", get(incidents::show))
        .route(
            "/console/incidents/{id}/replay",
            post(incidents::replay_one),
        )
        .route(
            "/console/incidents/{id}/discard",
            post(incidents::discard_one),
        )
        .route("/console/dead-letters", get(pages::dead_letters))
        .route(
            "/console/dead-letters/replay",
            post(actions::replay_matching),
        )
        .route("/console/dead-letters/{id}", get(pages::dead_letter))
        .route(
            "/console/dead-letters/{id}/replay",
            post(actions::replay_one),
        )
        .route("/console/dead-letters/{id}/discard", post(actions::discard))
        .route("/console/users", get(pages::users))
        .route("/console/workers", get(workers::workers))
        .route("/console/logout", post(logout))
        .merge(reconcile::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_session,
        ));
    Router::new()
        .route("/console/login", get(login_page).post(login))
        .merge(protected)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn login_page(State(state): State<ConsoleState>) -> Response {
    login_page_with(&state.site, StatusCode::OK, None)
}

/// `POST /console/login`: the form's one-off token, then the admin token (throttled).
async fn login(State(state): State<ConsoleState>, req: Request) -> Response {
    let site = &state.site;
    let (parts, body) = req.into_parts();
    if !site.origin_ok(&parts.headers) {
        return refused(StatusCode::FORBIDDEN, "cross-origin form posts are refused");
    }
    let bytes = match form_bytes(body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let form = parse_form(&bytes);
    let nonce = session::cookie(&parts.headers, LOGIN_COOKIE);
    if !same_token(form.get("csrf").map(String::as_str), nonce.as_deref()) {
        let msg = "error: the login form expired; log in again";
        return login_page_with(site, StatusCode::FORBIDDEN, Some(msg));
    }
    let token = form.get("token").map(String::as_str).unwrap_or("");
    let presented = format!("Bearer {token}");
    match guard::attempt(&parts.extensions, Realm::Console, || {
        state.admin.token.accepts(Some(presented.as_bytes()))
    }) {
        Ok(()) => {}
        Err(Refused::Unauthorized) => {
            let msg = "error: wrong token";
            return login_page_with(site, StatusCode::UNAUTHORIZED, Some(msg));
        }
        Err(r @ Refused::Throttled { retry_after }) => return throttled_page(site, r, retry_after),
    }
    let sid = state.sessions.open();
    let mut response = Redirect::to("/console").into_response();
    let headers = response.headers_mut();
    let session = site.cookie(COOKIE, &sid, "/console", session::SESSION_TTL);
    headers.append(header::SET_COOKIE, session);
    let spent = site.cookie(LOGIN_COOKIE, "", "/console/login", Duration::ZERO);
    headers.append(header::SET_COOKIE, spent);
    response
}

async fn logout(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    if let Some(sid) = session::cookie(&headers, COOKIE) {
        state.sessions.close(&sid);
    }
    let mut response = Redirect::to("/console/login").into_response();
    let gone = state.site.cookie(COOKIE, "", "/console", Duration::ZERO);
    response.headers_mut().append(header::SET_COOKIE, gone);
    response
}
