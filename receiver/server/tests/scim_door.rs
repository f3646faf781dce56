//! The door of /Users, through the binary's router: bodies (POST, PUT) and PATCH results
//! are checked against the schemas and Splashtop's rules, refused with 400 naming the
//! attribute (and no job), passwords in any form dropped, unknown attributes ignored.

mod common;

use axum::http::StatusCode;
use common::{api, assert_scim_error, Api};
use serde_json::{json, Value};
use splashsync_directory::Directory;

const SPLASHTOP: &str = "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User";
const CORE_PASSWORD: &str = "urn:ietf:params:scim:schemas:core:2.0:User:password";

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// A user that passes the door, with `attr` set to `value`.
fn body_with(attr: &str, value: Value) -> Value {
    let mut body =
        json!({"userName": "door@example.com", "name": {"givenName": "D", "familyName": "O"}});
    body[attr] = value;
    body
}

/// The bodies the door refuses, each with the attribute its error must name.
fn refused_bodies() -> Vec<(Value, &'static str)> {
    vec![
        (
            body_with(SPLASHTOP, json!("x")),
            "'urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User'",
        ),
        (
            body_with(SPLASHTOP, json!({"ssoName": 5})),
            "Splashtop:2.0:User:ssoName'",
        ),
        (
            body_with(SPLASHTOP, json!({"ssoName": ["a"]})),
            "Splashtop:2.0:User:ssoName'",
        ),
        (body_with("name", json!("x")), "'name'"),
        (
            body_with("userName", json!("door\u{0}@example.com")),
            "'userName'",
        ),
        (
            body_with("userName", json!("door\u{7}@example.com")),
            "'userName'",
        ),
        (body_with("userName", json!("jdoe")), "'userName'"),
        (
            json!({"userName": "jdoe", "emails": [{"primary": true, "value": "emailName357"}]}),
            "'emails'",
        ),
        (
            body_with("name", json!({"givenName": "g".repeat(10_000)})),
            "'name.givenName'",
        ),
        (body_with("displayName", json!("a\u{0}b")), "'displayName'"),
    ]
}

async fn jobs(api: &Api) -> usize {
    api.directory.pending_jobs(1000).await.unwrap().len()
}

#[tokio::test]
async fn a_create_with_a_bad_attribute_is_400_invalid_value_naming_it() {
    let api = api().await;
    for (body, attr) in refused_bodies() {
        let (s, ct, b) = api.post("/scim/v2/Users", &body).await;
        assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidValue"));
        let detail = b["detail"].as_str().unwrap();
        assert!(detail.contains(attr), "{body} → {detail}");
    }
    // A positive signal first: a good create writes its job; the refused ones wrote none.
    let (s, _, b) = api
        .post("/scim/v2/Users", &body_with("displayName", json!("Ok")))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(jobs(&api).await, 1);
}

#[tokio::test]
async fn a_replace_with_a_bad_attribute_is_refused_and_changes_nothing() {
    let api = api().await;
    let (_, _, created) = api
        .post("/scim/v2/Users", &body_with("displayName", json!("Before")))
        .await;
    let id = created["id"].as_str().unwrap();
    for (body, attr) in refused_bodies() {
        if body["userName"] != "door@example.com" {
            continue; // a PUT changing userName is refused for that reason first
        }
        let (s, ct, b) = api
            .send("PUT", &format!("/scim/v2/Users/{id}"), &body)
            .await;
        assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidValue"));
        assert!(b["detail"].as_str().unwrap().contains(attr), "{body} → {b}");
    }
    let (_, _, after) = api.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(after, created);
    assert_eq!(jobs(&api).await, 1, "only the create wrote a job");
}

#[tokio::test]
async fn a_user_name_that_is_no_email_works_with_an_email() {
    let api = api().await;
    // Entra's and Microsoft's shape: a UPN-like userName and a primary work email.
    let (s, _, b) = api
        .post(
            "/scim/v2/Users",
            &json!({"userName": "UserName123", "active": "True",
                "emails": [{"Primary": true, "type": "work", "value": "testing@bob.com"},
                           {"Primary": false, "type": "home", "value": "testinghome@bob.com"}]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["active"], true);
    let job = &api.jobs().await[0];
    assert_eq!(job["state"]["email"], "testing@bob.com");
}

#[tokio::test]
async fn a_urn_qualified_password_is_never_stored_nor_returned() {
    let api = api().await;
    let mut body = body_with(CORE_PASSWORD, json!("Pw-create-1"));
    body["urn:ietf:params:scim:schemas:core:2.0:User"] = json!({"password": "Pw-create-2"});
    let (s, _, created) = api.post("/scim/v2/Users", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (s, _, patched) = api
        .send(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            &patch(json!([
                {"op": "replace", "path": CORE_PASSWORD, "value": "Pw-patch-1"},
                {"op": "replace", "value": {CORE_PASSWORD: "Pw-patch-2", "displayName": "New"}}
            ])),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["displayName"], "New");
    let (_, _, read) = api.get(&format!("/scim/v2/Users/{id}")).await;
    let stored = api.directory.get_user(&id, None).await.unwrap().unwrap();
    let payloads: Vec<String> = api
        .directory
        .pending_jobs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.payload)
        .collect();
    assert_eq!(payloads.len(), 2, "the create and the displayName change");
    for text in [
        created.to_string(),
        patched.to_string(),
        read.to_string(),
        stored.resource.to_string(),
        payloads.join("\n"),
    ] {
        assert!(!text.contains("Pw-"), "a password leaked: {text}");
        assert!(!text.to_ascii_lowercase().contains("password"), "{text}");
    }
}

#[tokio::test]
async fn a_patch_is_checked_against_the_schemas_and_the_door() {
    let api = api().await;
    let (_, _, created) = api
        .post(
            "/scim/v2/Users",
            &json!({"userName": "jdoe", "emails": [{"primary": true, "value": "jdoe@example.com"}]}),
        )
        .await;
    let id = created["id"].as_str().unwrap();
    let uri = format!("/scim/v2/Users/{id}");
    for (ops, scim_type) in [
        (
            json!([{"op": "replace", "path": "nickname2", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": "name.nickname", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "value": {"adreses": []}}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "name.givenName", "value": "g".repeat(10_000)}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "emails", "value": [{"primary": true, "value": "nope"}]}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": "other"}]),
            "mutability",
        ),
    ] {
        let (s, ct, b) = api.send("PATCH", &uri, &patch(ops.clone())).await;
        assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some(scim_type));
        if scim_type == "mutability" && ops[0]["path"] == "userName" {
            assert!(b["detail"].as_str().unwrap().contains("Splashtop"), "{b}");
        }
    }
    // A case-only change of userName is the same account: accepted, spelling kept.
    let (s, _, b) = api
        .send(
            "PATCH",
            &uri,
            &patch(
                json!([{"op": "replace", "path": "userName", "value": "JDOE"},
                          {"op": "replace", "path": "displayName", "value": "J"}]),
            ),
        )
        .await;
    assert_eq!(
        (s, b["userName"].as_str()),
        (StatusCode::OK, Some("jdoe")),
        "{b}"
    );
    assert_eq!(
        jobs(&api).await,
        2,
        "the create and the accepted PATCH only"
    );
}

#[tokio::test]
async fn unknown_attributes_are_dropped_not_stored() {
    let api = api().await;
    let (s, _, b) = api
        .post(
            "/scim/v2/Users",
            &json!({"userName": "u@example.com", "adreses": [{"country": "DE"}],
                    "urn:ietf:params:scim:schemas:extension:nope:2.0:User": {"a": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b.get("adreses").is_none(), "{b}");
    assert!(!b.to_string().contains("nope"), "{b}");
}
