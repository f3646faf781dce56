//! Request paths under the SCIM base, made canonical before routing: a resource-type
//! segment in any case (`/scim/v2/users`) and a trailing slash (`/Users/?filter=…`) reach
//! the same endpoint as `/scim/v2/Users`.
//!
//! RFC 7644 spells the endpoints `/Users`, `/Groups`, … and does not make paths
//! case-insensitive (RFC 3986 §6.2.2.1), but Microsoft's validator sends `/users` and
//! `/Users/?filter=`, and accepting them costs nothing. Ids after the resource type stay as
//! sent: they are case-sensitive.

use axum::extract::Request;
use axum::http::uri::{PathAndQuery, Uri};

/// The SCIM base path, with its trailing slash.
const BASE: &str = "/scim/v2/";

/// The resource-type segments the router knows, canonically spelled.
const SEGMENTS: &[&str] = &[
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
];

/// The canonical spelling of `path`, or `None` when it already is canonical (or is not
/// under the SCIM base).
pub fn canonical(path: &str) -> Option<String> {
    let rest = path.strip_prefix(BASE)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (first, tail) = match rest.split_once('/') {
        Some((first, tail)) => (first, Some(tail)),
        None => (rest, None),
    };
    let first = SEGMENTS
        .iter()
        .find(|s| s.eq_ignore_ascii_case(first))
        .copied()
        .unwrap_or(first);
    let mut out = format!("{BASE}{first}");
    if let Some(tail) = tail {
        out.push('/');
        out.push_str(tail);
    }
    (out != path).then_some(out)
}

/// Rewrites the request's path to its canonical spelling, keeping the query.
pub fn normalise(mut req: Request) -> Request {
    let Some(path) = canonical(req.uri().path()) else {
        return req;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_types_in_any_case_become_canonical() {
        assert_eq!(
            canonical("/scim/v2/users").as_deref(),
            Some("/scim/v2/Users")
        );
        assert_eq!(
            canonical("/scim/v2/USERS/AbC-1").as_deref(),
            Some("/scim/v2/Users/AbC-1")
        );
        assert_eq!(
            canonical("/scim/v2/schemas").as_deref(),
            Some("/scim/v2/Schemas")
        );
        assert_eq!(
            canonical("/scim/v2/serviceproviderconfig").as_deref(),
            Some("/scim/v2/ServiceProviderConfig")
        );
        assert_eq!(
            canonical("/scim/v2/groups/.search").as_deref(),
            Some("/scim/v2/Groups/.search")
        );
    }

    #[test]
    fn one_trailing_slash_goes() {
        assert_eq!(
            canonical("/scim/v2/Users/").as_deref(),
            Some("/scim/v2/Users")
        );
        assert_eq!(
            canonical("/scim/v2/Users/x/").as_deref(),
            Some("/scim/v2/Users/x")
        );
    }

    #[test]
    fn canonical_and_foreign_paths_are_left_alone() {
        assert_eq!(canonical("/scim/v2/Users"), None);
        assert_eq!(canonical("/scim/v2/Users/x"), None);
        assert_eq!(canonical("/scim/v2/.search"), None);
        assert_eq!(canonical("/healthz"), None);
        assert_eq!(canonical("/admin/users/"), None);
        assert_eq!(canonical("/scim/v2/Nope"), None);
    }

    #[test]
    fn the_query_survives_the_rewrite() {
        let req = Request::builder()
            .uri("/scim/v2/users/?filter=userName%20eq%20%22a%22")
            .body(axum::body::Body::empty())
            .unwrap();
        let req = normalise(req);
        assert_eq!(
            req.uri().to_string(),
            "/scim/v2/Users?filter=userName%20eq%20%22a%22"
        );
    }
}
