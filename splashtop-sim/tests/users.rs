//! The team API's user endpoints and Splashtop's user rules, against a spawned simulator.

mod common;

use common::start;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use splashtop_sim::SimConfig;

#[tokio::test]
async fn auth_is_required_on_the_api_only() {
    let sim = start(SimConfig::default()).await;
    let url = format!("{}{}", sim.handle.api_url(), sim.team("/users"));
    for auth in [None, Some("Bearer wrong"), Some("Basic c2ltOnNpbQ==")] {
        let mut builder = sim.http.get(&url);
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        let answer = sim.send(builder).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(answer.code(), "unauthorized");
        assert!(answer.body["error"]["message"].is_string());
    }
    assert_eq!(sim.get(&sim.team("/users")).await.status, StatusCode::OK);
    let health = sim
        .http
        .get(format!("{}/healthz", sim.handle.base_url()))
        .send()
        .await;
    assert_eq!(health.map(|r| r.status()).ok(), Some(StatusCode::OK));
    let unknown = sim.get("/teams/other/users").await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "team_not_found")
    );
    let nowhere = sim.get("/nowhere").await;
    assert_eq!(
        (nowhere.status, nowhere.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn invite_get_patch_remove_and_delete() {
    let sim = start(SimConfig {
        sso_methods: vec!["Okta SSO".into()],
        ..SimConfig::default()
    })
    .await;
    let invited = sim
        .invite("Ann@Example.com", json!({"sso_name": "Okta SSO"}))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED);
    let user = &invited.body["user"];
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("u_"));
    assert_eq!(user["display_name"], "First Last");
    assert_eq!(user["role"], "member");
    assert_eq!(user["status"], "invited");
    assert_eq!(user["group_id"], sim.default_group_id().as_str());

    let again = sim.invite("ann@example.COM", json!({})).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "user_exists")
    );

    let got = sim.get(&sim.team(&format!("/users/{id}"))).await;
    assert_eq!(got.body["user"], *user);
    let found = sim.get(&sim.team("/users?email=ANN%40example.com")).await;
    assert_eq!(found.body["users"].as_array().map(Vec::len), Some(1));
    let none = sim.get(&sim.team("/users?email=bob%40example.com")).await;
    assert_eq!(none.body["users"], json!([]));

    let path = sim.team(&format!("/users/{id}"));
    let patch = json!({"first_name": "Anna", "display_name": "Anna L", "sso_name": null});
    let patched = sim.call(Method::PATCH, &path, Some(patch)).await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["user"]["first_name"], "Anna");
    assert_eq!(patched.body["user"]["sso_name"], Value::Null);
    let email = sim
        .call(
            Method::PATCH,
            &path,
            Some(json!({"email": "x@example.com"})),
        )
        .await;
    assert_eq!(
        (email.status, email.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email_immutable")
    );

    let removed = sim.call(Method::DELETE, &path, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(sim.get(&path).await.code(), "user_not_found");
    assert_eq!(
        sim.handle.snapshot()["detached_accounts"],
        json!(["ann@example.com"])
    );
    let back = sim.invite("ann@example.com", json!({})).await;
    assert_eq!(back.status, StatusCode::CREATED);
    assert_ne!(back.body["user"]["id"], json!(id));
    let new_path = sim.team(&format!(
        "/users/{}",
        back.body["user"]["id"].as_str().unwrap_or("")
    ));
    let bad_mode = sim
        .call(Method::DELETE, &format!("{new_path}?mode=purge"), None)
        .await;
    assert_eq!(bad_mode.status, StatusCode::BAD_REQUEST);
    let deleted = sim
        .call(Method::DELETE, &format!("{new_path}?mode=delete"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        sim.call(Method::DELETE, &new_path, None).await.status,
        StatusCode::NOT_FOUND
    );
    let ops: Vec<String> = sim.handle.log().into_iter().map(|e| e.op).collect();
    assert_eq!(
        ops,
        [
            "invite_user",
            "update_user",
            "remove_user",
            "invite_user",
            "delete_user"
        ]
    );
}

#[tokio::test]
async fn invalid_requests() {
    let sim = start(SimConfig::default()).await;
    let path = sim.team("/users");
    for body in [
        json!({"first_name": "A", "last_name": "B"}),
        json!({"email": "not-an-email", "first_name": "A", "last_name": "B"}),
        json!({"email": "a@example.com", "first_name": 1, "last_name": "B"}),
        json!({"email": "a@example.com", "first_name": "A", "last_name": "B", "role": "admin"}),
        json!(["a@example.com"]),
    ] {
        let answer = sim.call(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{body}"
        );
    }
    let not_json = sim.send(sim.request(Method::POST, &path).body("{")).await;
    assert_eq!(not_json.code(), "invalid_request");
    let empty = sim.create_group("  ").await;
    assert_eq!(
        (empty.status, empty.code()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let unknown_group = sim
        .invite("a@example.com", json!({"group_id": "g_nope"}))
        .await;
    assert_eq!(
        (unknown_group.status, unknown_group.code()),
        (StatusCode::NOT_FOUND, "group_not_found")
    );
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert!(sim.handle.log().is_empty());
}

#[tokio::test]
async fn seats_domains_sso_methods_and_foreign_accounts() {
    let config = SimConfig {
        seats: 2,
        sso_methods: vec!["Okta SSO".into(), "Azure AD".into()],
        allowed_domains: vec!["example.com".into()],
        foreign_emails: vec!["taken@example.com".into()],
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let check = |answer: common::Answer, status: StatusCode, code: &str| {
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{:?}",
            answer.body
        );
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    check(
        sim.invite("a@example.com", json!({"sso_name": "Okta  SSO"}))
            .await,
        unprocessable,
        "sso_method_not_found",
    );
    check(
        sim.invite("a@example.com", json!({"sso_name": "okta sso"}))
            .await,
        unprocessable,
        "sso_method_not_found",
    );
    check(
        sim.invite("a@other.org", json!({"sso_name": "Azure AD"}))
            .await,
        unprocessable,
        "domain_not_allowed",
    );
    check(
        sim.invite("Taken@example.com", json!({})).await,
        StatusCode::CONFLICT,
        "email_owned_by_other_team",
    );
    assert_eq!(
        sim.invite("b@other.org", json!({})).await.status,
        StatusCode::CREATED
    );
    let a = sim
        .invite("a@example.com", json!({"sso_name": "Azure AD"}))
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    check(
        sim.invite("c@example.com", json!({})).await,
        unprocessable,
        "seat_limit_reached",
    );

    let b = sim.get(&sim.team("/users?email=b%40other.org")).await;
    let b_path = sim.team(&format!(
        "/users/{}",
        b.body["users"][0]["id"].as_str().unwrap_or("")
    ));
    let sso = sim
        .call(
            Method::PATCH,
            &b_path,
            Some(json!({"sso_name": "Okta SSO"})),
        )
        .await;
    check(sso, unprocessable, "domain_not_allowed");
    let sso = sim
        .call(Method::PATCH, &b_path, Some(json!({"sso_name": "Nope"})))
        .await;
    check(sso, unprocessable, "sso_method_not_found");
}

#[tokio::test]
async fn an_invite_sets_names_sso_method_and_group_in_one_call() {
    let sim = start(SimConfig {
        sso_methods: vec!["Okta SSO".into()],
        ..SimConfig::default()
    })
    .await;
    let sales = sim.create_group("Sales").await.body["group"]["id"].clone();
    let extra = json!({"first_name": "Ann", "last_name": "Lee", "display_name": "Dr Ann Lee",
        "sso_name": "Okta SSO", "group_id": sales});
    let invited = sim.invite("ann@example.com", extra).await;
    assert_eq!(invited.status, StatusCode::CREATED);
    let user = &invited.body["user"];
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    let got = sim.get(&sim.team(&format!("/users/{id}"))).await.body["user"].clone();
    for field in [
        "first_name",
        "last_name",
        "display_name",
        "sso_name",
        "group_id",
    ] {
        assert_eq!(user[field], got[field], "{field}");
    }
    assert_eq!(
        (
            &got["first_name"],
            &got["display_name"],
            &got["sso_name"],
            &got["group_id"]
        ),
        (
            &json!("Ann"),
            &json!("Dr Ann Lee"),
            &json!("Okta SSO"),
            &sales
        )
    );
    // One applied operation, the invite, already in its group.
    let log = sim.handle.log();
    let ops: Vec<(&str, Option<&str>)> = log
        .iter()
        .map(|e| (e.op.as_str(), e.group.as_deref()))
        .collect();
    assert_eq!(
        ops,
        [
            ("create_group", Some("Sales")),
            ("invite_user", Some("Sales"))
        ]
    );
    // The invite's fields are checked like an update's: an unknown group or SSO method
    // refuses the whole invite.
    let bad_group = sim
        .invite("bob@example.com", json!({"group_id": "g_nope"}))
        .await;
    assert_eq!(bad_group.code(), "group_not_found");
    let bad_sso = sim
        .invite("bob@example.com", json!({"sso_name": "okta sso"}))
        .await;
    assert_eq!(bad_sso.code(), "sso_method_not_found");
    assert_eq!(
        sim.handle.snapshot()["users"].as_array().map(Vec::len),
        Some(1)
    );
}
