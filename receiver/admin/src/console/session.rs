//! Console sessions and what every form post is checked against.
//!
//! - A session is an opaque id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when
//!   the public URL is https); the admin token never sits in the browser.
//! - Each session has its own CSRF token, which every form carries and every POST must
//!   return. The login form, before any session exists, carries a one-off token that must
//!   match a cookie set with the form (a double-submit token).
//! - A POST's `Origin`, when the browser sends one, must be the console's own: the public
//!   URL's origin when `SPLASHSYNC_PUBLIC_URL` is set, else the request's `Host` (any
//!   scheme: without the public URL the console cannot know whether a proxy terminates
//!   TLS in front of it). A missing `Origin` is allowed, the CSRF token being mandatory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue, Uri};
use subtle::ConstantTimeEq;

/// The session cookie.
pub const COOKIE: &str = "splashsync_console";
/// The login form's cookie.
pub const LOGIN_COOKIE: &str = "splashsync_console_login";
/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a login form stays usable.
pub const LOGIN_TTL: Duration = Duration::from_secs(3600);

/// An unguessable token: 244 random bits, hex.
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `presented` is `expected`, compared in constant time; never for an empty one.
pub fn same_token(presented: Option<&str>, expected: Option<&str>) -> bool {
    match (presented, expected) {
        (Some(p), Some(e)) if !e.is_empty() => bool::from(p.as_bytes().ct_eq(e.as_bytes())),
        _ => false,
    }
}

#[derive(Debug)]
struct Session {
    expires: Instant,
    csrf: String,
}

/// Console sessions and their CSRF tokens, in memory (a restart logs everyone out).
#[derive(Debug, Default)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session's id.
    pub fn open(&self) -> String {
        let id = random_token();
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(
            id.clone(),
            Session {
                expires: now + SESSION_TTL,
                csrf: random_token(),
            },
        );
        id
    }

    /// The CSRF token of session `id`, while it is valid.
    pub fn csrf(&self, id: &str) -> Option<String> {
        self.sessions()
            .get(id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.csrf.clone())
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        self.sessions().remove(id);
    }
}

/// The value of cookie `name`, if the request sent it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Where the console is served from: what its cookies and `Origin` check need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    origin: Option<String>,
    secure: bool,
}

impl Site {
    /// The site of the public URL (`SPLASHSYNC_PUBLIC_URL`), if set.
    pub fn from_public_url(public_url: Option<&str>) -> Self {
        let Some(uri) = public_url.and_then(|u| u.parse::<Uri>().ok()) else {
            return Self::default();
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Self::default();
        };
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        // Browsers leave a scheme's default port out of `Origin`.
        let host = authority.host().to_ascii_lowercase();
        let origin = match authority.port_u16() {
            Some(port) if Some(port) != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        Self {
            secure: scheme == "https",
            origin: Some(origin),
        }
    }

    /// Whether a POST with these headers may come from the console's own pages.
    pub fn origin_ok(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.to_ascii_lowercase();
        match &self.origin {
            Some(expected) => origin == *expected,
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_ascii_lowercase();
                origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"))
                    .is_some_and(|rest| !host.is_empty() && rest == host)
            }
        }
    }

    /// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, `Secure` behind https.
    pub fn cookie(&self, name: &str, value: &str, path: &str, max_age: Duration) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            max_age.as_secs()
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_public_url_sets_the_origin_and_secure_cookies() {
        let site = Site::from_public_url(Some("https://SCIM.example.com:443/base"));
        assert!(site.origin_ok(&headers(&[("origin", "https://scim.example.com")])));
        assert!(!site.origin_ok(&headers(&[("origin", "http://scim.example.com")])));
        assert!(!site.origin_ok(&headers(&[("origin", "null")])));
        assert!(!site.origin_ok(&headers(&[("origin", "https://evil.example")])));
        assert!(
            site.origin_ok(&headers(&[])),
            "no Origin: the CSRF token decides"
        );
        let cookie = site.cookie("a", "b", "/console", SESSION_TTL);
        assert!(cookie.to_str().unwrap().ends_with("; Secure"));
        let plain = Site::from_public_url(Some("http://127.0.0.1:8080"));
        assert!(plain.origin_ok(&headers(&[("origin", "http://127.0.0.1:8080")])));
        assert!(!plain
            .cookie("a", "b", "/", LOGIN_TTL)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }

    #[test]
    fn without_a_public_url_the_origin_must_name_the_host() {
        let site = Site::from_public_url(None);
        let ok = headers(&[("host", "rx:8080"), ("origin", "http://rx:8080")]);
        assert!(site.origin_ok(&ok));
        let bad = headers(&[("host", "rx:8080"), ("origin", "http://evil:8080")]);
        assert!(!site.origin_ok(&bad));
    }

    #[test]
    fn tokens_match_only_exactly_and_never_empty() {
        assert!(same_token(Some("abc"), Some("abc")));
        assert!(!same_token(Some("abd"), Some("abc")));
        assert!(!same_token(None, Some("abc")));
        assert!(!same_token(Some(""), Some("")));
        let sessions = Sessions::default();
        let id = sessions.open();
        assert_eq!(sessions.csrf(&id).map(|t| t.len()), Some(64));
        sessions.close(&id);
        assert_eq!(sessions.csrf(&id), None);
    }
}
