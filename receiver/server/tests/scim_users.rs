//! The SCIM /Users endpoints against a real SQLite directory, through the router (no sockets).

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{api, assert_scim_error, TOKEN};
use serde_json::{json, Value};
use splashsync_directory::Directory;
use tower::ServiceExt;

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
           "name": {"givenName": "G", "familyName": "F"}, "password": "t0pSecret!", "active": true})
}

#[tokio::test]
async fn create_answers_201_with_the_whole_user_and_writes_one_job() {
    let api = api().await;
    let (status, ct, body) = api.post("/scim/v2/Users", &user("ada@example.com")).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ct.as_deref(), Some("application/scim+json"));
    let id = body["id"].as_str().unwrap();
    assert_eq!(body["userName"], "ada@example.com");
    assert_eq!(body["name"]["givenName"], "G");
    assert_eq!(body["active"], true);
    assert!(
        body.get("password").is_none(),
        "the password is never returned"
    );
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_eq!(
        body["meta"]["location"],
        format!("http://scim.test/scim/v2/Users/{id}")
    );
    let jobs = api.directory.pending_jobs(10).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key, format!("default/user/{id}"));
    assert!(
        !jobs[0].payload.contains("t0pSecret!"),
        "the password never reaches the outbox"
    );
    let job: Value = serde_json::from_str(&jobs[0].payload).unwrap();
    assert_eq!(job["type"], "UserV1");
    assert_eq!(job["version"], 1);
    assert_eq!(job["state"]["email"], "ada@example.com");
}

#[tokio::test]
async fn get_returns_the_user_and_404_for_an_unknown_id() {
    let api = api().await;
    let (_, _, created) = api.post("/scim/v2/Users", &user("bob@example.com")).await;
    let id = created["id"].as_str().unwrap();
    let (status, _, body) = api.get(&format!("/scim/v2/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, created);
    // Asked for, the read says the user is pending in Splashtop (the router is the
    // binary's): version 1, stamped with the job's time.
    let ext = splashsync_receiver::provisioning::PROVISIONING;
    let (_, _, asked) = api
        .get(&format!("/scim/v2/Users/{id}?attributes={ext}"))
        .await;
    assert_eq!(asked[ext]["state"], "pending");
    assert_eq!(asked[ext]["version"], 1);
    let (status, ct, body) = api
        .get("/scim/v2/Users/010101001010101011001010101011")
        .await;
    assert_scim_error(status, &ct, &body, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn a_duplicate_user_name_in_any_case_is_409_uniqueness_and_writes_no_job() {
    let api = api().await;
    api.post("/scim/v2/Users", &user("Carol@Example.com")).await;
    let (status, ct, body) = api.post("/scim/v2/Users", &user("carol@example.COM")).await;
    assert_scim_error(status, &ct, &body, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(api.directory.pending_jobs(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_repeated_identical_create_is_409_uniqueness_with_a_detail_and_no_job() {
    let api = api().await;
    // Entra's shape, externalId included: what the retried-create shortcut once answered 201.
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "emp3@example.com", "externalId": "0a21", "active": true,
        "emails": [{"primary": true, "type": "work", "value": "emp3@example.com"}]});
    let (status, _, first) = api.post("/scim/v2/Users", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    for _ in 0..2 {
        let (status, ct, again) = api.post("/scim/v2/Users", &body).await;
        assert_scim_error(
            status,
            &ct,
            &again,
            StatusCode::CONFLICT,
            Some("uniqueness"),
        );
        assert!(
            again["detail"]
                .as_str()
                .unwrap()
                .contains("emp3@example.com"),
            "{again}"
        );
    }
    let jobs = api.directory.pending_jobs(10).await.unwrap();
    assert_eq!(jobs.len(), 1, "only the first create wrote a job");
    let (_, _, list) = api.get("/scim/v2/Users").await;
    assert_eq!(list["totalResults"], 1);
}

#[tokio::test]
async fn filter_by_user_name_is_case_insensitive_and_unknown_gives_an_empty_list() {
    let api = api().await;
    api.post("/scim/v2/Users", &user("dan@example.com")).await;
    let (status, _, body) = api
        .get("/scim/v2/Users?filter=userName%20eq%20%22DAN%40EXAMPLE.COM%22&startIndex=1&count=100")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1);
    assert_eq!(body["Resources"][0]["userName"], "dan@example.com");
    let (_, _, body) = api
        .get("/scim/v2/Users?filter=userName%20eq%20%22nobody%40x.com%22")
        .await;
    assert_eq!(
        body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
               "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );
}

#[tokio::test]
async fn paging_is_stable_and_numeric() {
    let api = api().await;
    for i in 0..5 {
        api.post("/scim/v2/Users", &user(&format!("u{i}@example.com")))
            .await;
    }
    let (_, _, p1) = api.get("/scim/v2/Users?startIndex=1&count=2").await;
    let (_, _, p2) = api.get("/scim/v2/Users?startIndex=3&count=2").await;
    let (_, _, p0) = api.get("/scim/v2/Users?startIndex=0&count=0").await;
    assert_eq!(p1["totalResults"], 5);
    assert_eq!(p1["itemsPerPage"], 2);
    assert_eq!(p1["Resources"][0]["userName"], "u0@example.com");
    assert_eq!(p2["startIndex"], 3);
    assert_eq!(p2["Resources"][0]["userName"], "u2@example.com");
    assert_eq!(p0["startIndex"], 1);
    assert_eq!(p0["itemsPerPage"], 0);
    assert_eq!(p0["totalResults"], 5);
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_with_a_scim_error() {
    let api = api().await;
    let (status, ct, body) = api.call("GET", "/scim/v2/Users", None, None).await;
    assert_scim_error(status, &ct, &body, StatusCode::UNAUTHORIZED, None);
    let (status, ct, body) = api
        .call("GET", "/scim/v2/Users", None, Some("wrong-token"))
        .await;
    assert_scim_error(status, &ct, &body, StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn bad_input_gets_a_scim_error_never_a_500() {
    let api = api().await;
    let (s, ct, b) = api
        .call(
            "POST",
            "/scim/v2/Users",
            Some(Body::from("{\"userName\": ")),
            Some(TOKEN),
        )
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    let (s, ct, b) = api
        .post("/scim/v2/Users", &json!({"name": {"givenName": "x"}}))
        .await;
    assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let big = json!({"userName": "big@example.com", "displayName": "x".repeat(1024 * 1024 + 1)});
    let (s, ct, b) = api.post("/scim/v2/Users", &big).await;
    assert_scim_error(s, &ct, &b, StatusCode::PAYLOAD_TOO_LARGE, Some("tooMany"));
    let (s, ct, b) = api.get("/scim/v2/Users?filter=title%20zz%20%22x%22").await;
    assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    let (s, ct, b) = api.get("/scim/v2/Users?count=ten").await;
    assert_scim_error(s, &ct, &b, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let (s, ct, b) = api.get("/scim/v2/Nope").await;
    assert_scim_error(s, &ct, &b, StatusCode::NOT_FOUND, None);
    assert!(api.directory.pending_jobs(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_user_name_give_one_201_and_49_409s() {
    let api = api().await;
    let mut handles = Vec::new();
    for _ in 0..50 {
        let router = api.router.clone();
        handles.push(tokio::spawn(async move {
            let req = Request::post("/scim/v2/Users")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, "application/scim+json")
                .body(Body::from(user("same@example.com").to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for h in handles {
        match h.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    assert_eq!(api.directory.pending_jobs(100).await.unwrap().len(), 1);
}
