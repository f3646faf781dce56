//! Failed authentications throttled per source address, for each way in: the SCIM bearer
//! token, the admin bearer token (API and console) and the console's login form.
//!
//! The receiver puts one [`AuthGuard`] into every request's extensions, beside the peer
//! address its listener records; each authenticating middleware asks [`attempt`]. An
//! address that failed `limit` times within the window is refused with 429 for a window,
//! without its credentials being looked at (otherwise a throttled guesser would still
//! learn when it guessed right); other addresses are not affected. Each failure is
//! logged at warn with the address and realm, never what was presented; refusals of a
//! throttled address are counted but logged at debug only, so that a client stuck in a
//! loop cannot flood the log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, Extensions, HeaderValue};
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Metric;
use splashsync_runtime::throttle::{FailureThrottle, DEFAULT_CAPACITY};

/// A way to authenticate, throttled on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Realm {
    /// The SCIM bearer token.
    Scim,
    /// The admin bearer token (admin API, console).
    Admin,
    /// The console's login form.
    Console,
}

impl Realm {
    /// The realm's name in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Realm::Scim => "scim",
            Realm::Admin => "admin",
            Realm::Console => "console",
        }
    }
}

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Wrong or missing credentials: 401.
    Unauthorized,
    /// The address failed too often: 429 until `retry_after` has passed.
    Throttled {
        /// How long the address must wait.
        retry_after: Duration,
    },
}

impl Refused {
    /// The `Retry-After` header of a throttled refusal, in whole seconds (at least 1).
    pub fn retry_after_header(&self) -> Option<(header::HeaderName, HeaderValue)> {
        match self {
            Refused::Unauthorized => None,
            Refused::Throttled { retry_after } => Some((
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(*retry_after)),
            )),
        }
    }

    /// Adds the `Retry-After` header of a throttled refusal to `response`.
    pub fn decorate(&self, mut response: Response) -> Response {
        if let Some((name, value)) = self.retry_after_header() {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// `retry_after` in whole seconds, rounded up, at least 1.
pub fn retry_after_secs(retry_after: Duration) -> u64 {
    retry_after
        .as_secs()
        .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
        .max(1)
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RealmLabels {
    realm: &'static str,
}

/// The failed-authentication throttles of one process, and their counters.
#[derive(Debug)]
pub struct AuthGuard {
    scim: FailureThrottle,
    admin: FailureThrottle,
    console: FailureThrottle,
    failures: Family<RealmLabels, Counter>,
    throttled: Family<RealmLabels, Counter>,
}

impl AuthGuard {
    /// `limit` failures of one address within `window` throttle it for `window`.
    pub fn new(limit: u32, window: Duration) -> Self {
        let throttle = || FailureThrottle::new(limit, window, DEFAULT_CAPACITY);
        Self {
            scim: throttle(),
            admin: throttle(),
            console: throttle(),
            failures: Family::default(),
            throttled: Family::default(),
        }
    }

    /// Failed authentications by realm (for the metrics registry).
    pub fn failures(&self) -> impl Metric {
        self.failures.clone()
    }

    /// Attempts refused with 429 by realm (for the metrics registry).
    pub fn throttled(&self) -> impl Metric {
        self.throttled.clone()
    }

    fn throttle(&self, realm: Realm) -> &FailureThrottle {
        match realm {
            Realm::Scim => &self.scim,
            Realm::Admin => &self.admin,
            Realm::Console => &self.console,
        }
    }

    /// One authentication attempt from `peer` in `realm`; `accepted` looks at the
    /// credentials unless the address is throttled.
    pub fn attempt(
        &self,
        realm: Realm,
        peer: Option<SocketAddr>,
        accepted: impl FnOnce() -> bool,
    ) -> Result<(), Refused> {
        let labels = RealmLabels {
            realm: realm.as_str(),
        };
        let throttle = self.throttle(realm);
        if let Some(retry_after) = peer.and_then(|p| throttle.retry_after(p.ip())) {
            self.throttled.get_or_create(&labels).inc();
            tracing::debug!(realm = realm.as_str(), peer = %peer_text(peer), "authentication refused: the address is throttled");
            return Err(Refused::Throttled { retry_after });
        }
        if accepted() {
            if let Some(p) = peer {
                throttle.succeeded(p.ip());
            }
            return Ok(());
        }
        self.failures.get_or_create(&labels).inc();
        let now_throttled = peer.and_then(|p| throttle.failed(p.ip()));
        match now_throttled {
            Some(window) => tracing::warn!(
                realm = realm.as_str(),
                peer = %peer_text(peer),
                throttled_for_secs = window.as_secs(),
                "authentication failed; too many failures from this address, which is refused for a while"
            ),
            None => tracing::warn!(
                realm = realm.as_str(),
                peer = %peer_text(peer),
                "authentication failed"
            ),
        }
        Err(Refused::Unauthorized)
    }
}

fn peer_text(peer: Option<SocketAddr>) -> String {
    peer.map_or_else(|| "unknown".into(), |p| p.ip().to_string())
}

/// One attempt of a request in `realm`: throttled by the guard and keyed by the peer
/// address the receiver's listener put into its extensions. Without a guard (a router
/// driven without the listener, as in router tests) only `accepted` decides.
pub fn attempt(
    extensions: &Extensions,
    realm: Realm,
    accepted: impl FnOnce() -> bool,
) -> Result<(), Refused> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    match extensions.get::<Arc<AuthGuard>>() {
        Some(guard) => guard.attempt(realm, peer, accepted),
        None if accepted() => Ok(()),
        None => {
            tracing::warn!(realm = realm.as_str(), peer = %peer_text(peer), "authentication failed");
            Err(Refused::Unauthorized)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(last: u8) -> Option<SocketAddr> {
        Some(SocketAddr::from(([192, 0, 2, last], 40000)))
    }

    #[test]
    fn a_throttled_address_is_refused_without_its_credentials_being_read() {
        let guard = AuthGuard::new(2, Duration::from_secs(60));
        assert_eq!(
            guard.attempt(Realm::Scim, peer(1), || false),
            Err(Refused::Unauthorized)
        );
        assert_eq!(
            guard.attempt(Realm::Scim, peer(1), || false),
            Err(Refused::Unauthorized)
        );
        let refused = guard.attempt(Realm::Scim, peer(1), || panic!("credentials read"));
        assert!(
            matches!(refused, Err(Refused::Throttled { .. })),
            "{refused:?}"
        );
        assert_eq!(guard.attempt(Realm::Scim, peer(2), || true), Ok(()));
        assert_eq!(guard.attempt(Realm::Admin, peer(1), || true), Ok(()));
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
