//! Resource-type segments in any case and a trailing slash reach the canonical endpoint,
//! through the binary's router; ids stay case-sensitive.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{api, assert_scim_error};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

#[tokio::test]
async fn lower_case_resource_types_are_routed() {
    let api = api().await;
    let (s, _, created) = api
        .post("/scim/v2/users", &json!({"userName": "ada@example.com"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (s, _, list) = api.get("/scim/v2/users").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["totalResults"], 1);
    assert_eq!(
        list["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    let (s, _, one) = api.get(&format!("/scim/v2/USERS/{id}")).await;
    assert_eq!((s, one["id"].as_str()), (StatusCode::OK, Some(id)));
    for path in [
        "/scim/v2/groups",
        "/scim/v2/schemas",
        "/scim/v2/resourcetypes",
        "/scim/v2/serviceproviderconfig",
        "/scim/v2/resourceTypes/user",
    ] {
        let (s, _, b) = api.get(path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
    }
    // The id after the resource type is left as sent: ids are case-sensitive.
    let (s, ct, b) = api
        .get(&format!("/scim/v2/users/{}", id.to_uppercase()))
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn a_trailing_slash_is_dropped_and_the_query_kept() {
    let api = api().await;
    for (name, display) in [
        ("a@example.com", "BobIsAmazing"),
        ("b@example.com", "Other"),
    ] {
        let (s, _, b) = api
            .post(
                "/scim/v2/Users",
                &json!({"userName": name, "displayName": display}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, _, list) = api
        .get("/scim/v2/Users/?filter=DisplayName+eq+%22BobIsAmazing%22")
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["userName"], "a@example.com");
    let id = list["Resources"][0]["id"].as_str().unwrap();
    let (s, _, one) = api.get(&format!("/scim/v2/Users/{id}/")).await;
    assert_eq!((s, one["id"].as_str()), (StatusCode::OK, Some(id)));
    let (s, _, _) = api.get("/scim/v2/Schemas/").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn requests_are_counted_under_the_canonical_route() {
    let api = api().await;
    let (s, _, _) = api.get("/scim/v2/users/").await;
    assert_eq!(s, StatusCode::OK);
    let resp = api
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let counted = text
        .lines()
        .find(|l| l.starts_with("splashsync_scim_requests_total{") && l.contains("GET"))
        .unwrap_or_else(|| panic!("no SCIM request counted:\n{text}"));
    assert!(counted.contains("endpoint=\"/scim/v2/Users\""), "{counted}");
}
