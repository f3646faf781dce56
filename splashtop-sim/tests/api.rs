//! The team API's contract and Splashtop's rules, against a spawned simulator.

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
    let health = sim.http.get(format!("{}/healthz", sim.handle.base_url())).send().await;
    assert_eq!(health.map(|r| r.status()).ok(), Some(StatusCode::OK));
    let unknown = sim.get("/teams/other/users").await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "team_not_found"));
    let nowhere = sim.get("/nowhere").await;
    assert_eq!((nowhere.status, nowhere.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn invite_get_patch_remove_and_delete() {
    let sim = start(SimConfig { sso_methods: vec!["Okta SSO".into()], ..SimConfig::default() }).await;
    let invited = sim.invite("Ann@Example.com", json!({"sso_name": "Okta SSO"})).await;
    assert_eq!(invited.status, StatusCode::CREATED);
    let user = &invited.body["user"];
    let id = user["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("u_"));
    assert_eq!(user["display_name"], "First Last");
    assert_eq!(user["role"], "member");
    assert_eq!(user["status"], "invited");
    assert_eq!(user["group_id"], sim.default_group_id().as_str());

    let again = sim.invite("ann@example.COM", json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "user_exists"));

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
    let email = sim.call(Method::PATCH, &path, Some(json!({"email": "x@example.com"}))).await;
    assert_eq!((email.status, email.code()), (StatusCode::UNPROCESSABLE_ENTITY, "email_immutable"));

    let removed = sim.call(Method::DELETE, &path, None).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(sim.get(&path).await.code(), "user_not_found");
    assert_eq!(sim.handle.snapshot()["detached_accounts"], json!(["ann@example.com"]));
    let back = sim.invite("ann@example.com", json!({})).await;
    assert_eq!(back.status, StatusCode::CREATED);
    assert_ne!(back.body["user"]["id"], json!(id));
    let new_path = sim.team(&format!("/users/{}", back.body["user"]["id"].as_str().unwrap_or("")));
    let bad_mode = sim.call(Method::DELETE, &format!("{new_path}?mode=purge"), None).await;
    assert_eq!(bad_mode.status, StatusCode::BAD_REQUEST);
    let deleted = sim.call(Method::DELETE, &format!("{new_path}?mode=delete"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(sim.call(Method::DELETE, &new_path, None).await.status, StatusCode::NOT_FOUND);
    let ops: Vec<String> = sim.handle.log().into_iter().map(|e| e.op).collect();
    assert_eq!(ops, ["invite_user", "update_user", "remove_user", "invite_user", "delete_user"]);
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
        assert_eq!((answer.status, answer.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");
    }
    let not_json = sim.send(sim.request(Method::POST, &path).body("{")).await;
    assert_eq!(not_json.code(), "invalid_request");
    let empty = sim.create_group("  ").await;
    assert_eq!((empty.status, empty.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let unknown_group = sim.invite("a@example.com", json!({"group_id": "g_nope"})).await;
    assert_eq!((unknown_group.status, unknown_group.code()), (StatusCode::NOT_FOUND, "group_not_found"));
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert!(sim.handle.log().is_empty());
}

#[tokio::test]
async fn a_user_is_in_one_group_and_deleting_a_group_moves_its_members() {
    let sim = start(SimConfig::default()).await;
    let sales = sim.create_group("Sales").await;
    assert_eq!(sales.status, StatusCode::CREATED);
    let sales_id = sales.body["group"]["id"].as_str().unwrap_or_default().to_owned();
    assert!(sales_id.starts_with("g_"));
    let ops = sim.create_group("Ops").await.body["group"]["id"].as_str().unwrap_or_default().to_owned();
    let user = sim.invite("a@example.com", json!({"group_id": sales_id})).await;
    let path = sim.team(&format!("/users/{}", user.body["user"]["id"].as_str().unwrap_or("")));
    assert_eq!(user.body["user"]["group_id"], json!(sales_id));

    let moved = sim.call(Method::PATCH, &path, Some(json!({"group_id": ops}))).await;
    assert_eq!(moved.body["user"]["group_id"], json!(ops));
    let sales_members = sim.get(&format!("/groups/{sales_id}/members")).await;
    assert_eq!(sales_members.body["members"], json!([]));
    let ops_members = sim.get(&format!("/groups/{ops}/members")).await;
    assert_eq!(ops_members.body["members"][0]["email"], "a@example.com");
    let group = sim.get(&sim.team(&format!("/groups/{ops}"))).await;
    assert_eq!(group.body["group"]["member_count"], 1);

    let to_default = sim.call(Method::PATCH, &path, Some(json!({"group_id": null}))).await;
    assert_eq!(to_default.body["user"]["group_id"], json!(sim.default_group_id()));
    sim.call(Method::PATCH, &path, Some(json!({"group_id": ops}))).await;
    let deleted = sim.call(Method::DELETE, &sim.team(&format!("/groups/{ops}")), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let user = sim.get(&path).await;
    assert_eq!(user.body["user"]["group_id"], json!(sim.default_group_id()));
    assert_eq!(sim.get(&format!("/groups/{ops}/members")).await.code(), "group_not_found");
    let unknown = sim.call(Method::PATCH, &path, Some(json!({"group_id": ops}))).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "group_not_found"));
}

#[tokio::test]
async fn group_names_and_the_default_group() {
    let config = SimConfig { computer_groups: vec!["Servers".into()], ..SimConfig::default() };
    let sim = start(config).await;
    let default = sim.default_group_id();
    let listed = sim.get(&sim.team("/groups")).await;
    assert_eq!(
        listed.body["groups"],
        json!([{"id": default, "name": "Default", "is_default": true, "member_count": 0}])
    );
    let path = sim.team(&format!("/groups/{default}"));
    let rename = sim.call(Method::PATCH, &path, Some(json!({"name": "Other"}))).await;
    assert_eq!((rename.status, rename.code()), (StatusCode::UNPROCESSABLE_ENTITY, "default_group_immutable"));
    let delete = sim.call(Method::DELETE, &path, None).await;
    assert_eq!(delete.code(), "default_group_immutable");

    assert_eq!(sim.create_group("default").await.code(), "group_exists");
    let clash = sim.create_group("SERVERS").await;
    assert_eq!((clash.status, clash.code()), (StatusCode::CONFLICT, "computer_group_conflict"));
    let sales = sim.create_group("Sales").await.body["group"]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(sim.create_group("sales").await.code(), "group_exists");
    let sales_path = sim.team(&format!("/groups/{sales}"));
    let renamed = sim.call(Method::PATCH, &sales_path, Some(json!({"name": "SALES"}))).await;
    assert_eq!((renamed.status, renamed.body["group"]["name"].clone()), (StatusCode::OK, json!("SALES")));
    let clash = sim.call(Method::PATCH, &sales_path, Some(json!({"name": "servers"}))).await;
    assert_eq!(clash.code(), "computer_group_conflict");
    let found = sim.get(&sim.team("/groups?name=sales")).await;
    assert_eq!(found.body["groups"][0]["id"], json!(sales));
}

#[tokio::test]
async fn group_limit_counts_the_default_group() {
    let sim = start(SimConfig { max_groups: 3, ..SimConfig::default() }).await;
    assert_eq!(sim.create_group("One").await.status, StatusCode::CREATED);
    assert_eq!(sim.create_group("Two").await.status, StatusCode::CREATED);
    let full = sim.create_group("Three").await;
    assert_eq!((full.status, full.code()), (StatusCode::UNPROCESSABLE_ENTITY, "group_limit_reached"));
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
        assert_eq!((answer.status, answer.code()), (status, code), "{:?}", answer.body);
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    check(sim.invite("a@example.com", json!({"sso_name": "Okta  SSO"})).await, unprocessable, "sso_method_not_found");
    check(sim.invite("a@example.com", json!({"sso_name": "okta sso"})).await, unprocessable, "sso_method_not_found");
    check(sim.invite("a@other.org", json!({"sso_name": "Azure AD"})).await, unprocessable, "domain_not_allowed");
    check(sim.invite("Taken@example.com", json!({})).await, StatusCode::CONFLICT, "email_owned_by_other_team");
    assert_eq!(sim.invite("b@other.org", json!({})).await.status, StatusCode::CREATED);
    let a = sim.invite("a@example.com", json!({"sso_name": "Azure AD"})).await;
    assert_eq!(a.status, StatusCode::CREATED);
    check(sim.invite("c@example.com", json!({})).await, unprocessable, "seat_limit_reached");

    let b = sim.get(&sim.team("/users?email=b%40other.org")).await;
    let b_path = sim.team(&format!("/users/{}", b.body["users"][0]["id"].as_str().unwrap_or("")));
    let sso = sim.call(Method::PATCH, &b_path, Some(json!({"sso_name": "Okta SSO"}))).await;
    check(sso, unprocessable, "domain_not_allowed");
    let sso = sim.call(Method::PATCH, &b_path, Some(json!({"sso_name": "Nope"}))).await;
    check(sso, unprocessable, "sso_method_not_found");
}

#[tokio::test]
async fn the_log_records_applied_requests_with_tracing_headers() {
    let sim = start(SimConfig::default()).await;
    let invite = json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
    let builder = sim
        .request(Method::POST, &sim.team("/users"))
        .header("X-Splashsync-Job-Id", "job-7")
        .header("X-Splashsync-Key", "tenant-1:user-1")
        .header("X-Splashsync-Version", "42")
        .json(&invite);
    assert_eq!(sim.send(builder).await.status, StatusCode::CREATED);
    sim.send(sim.request(Method::POST, &sim.team("/users")).json(&invite)).await; // 409: not logged
    sim.create_group("Sales").await;

    let log = sim.get("/_sim/log").await.body;
    assert_eq!(log, serde_json::to_value(sim.handle.log()).unwrap_or_default());
    let entries = log.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2);
    let first = &entries[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], format!("/api/open/v1{}", sim.team("/users")));
    assert_eq!(first["op"], "invite_user");
    assert_eq!(first["email"], "a@example.com");
    assert_eq!(first["group"], "Default");
    assert_eq!(first["job_id"], "job-7");
    assert_eq!(first["key"], "tenant-1:user-1");
    assert_eq!(first["version"], 42);
    assert_eq!(first["status"], 201);
    assert!(first["at"].as_str().is_some_and(|at| at.len() == 24 && at.ends_with('Z')));
    assert_eq!(entries[1]["op"], "create_group");
    assert_eq!(entries[1]["group"], "Sales");
    assert_eq!(entries[1]["job_id"], Value::Null);
}

#[tokio::test]
async fn state_stats_and_reset() {
    let sim = start(SimConfig { team_id: "acme".into(), ..SimConfig::default() }).await;
    sim.create_group("Sales").await;
    let sales = sim.get("/teams/acme/groups?name=Sales").await.body["groups"][0]["id"].clone();
    sim.invite("b@example.com", json!({"group_id": sales})).await;
    sim.invite("a@example.com", json!({"display_name": "Ann"})).await;

    let state = sim.get("/_sim/state").await.body;
    assert_eq!(state, sim.handle.snapshot());
    assert_eq!(state["team_id"], "acme");
    let users = state["users"].as_array().cloned().unwrap_or_default();
    let emails: Vec<&str> = users.iter().filter_map(|u| u["email"].as_str()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&users[0]),
        ["display_name", "email", "first_name", "group", "group_id", "id", "last_name", "sso_name", "status"]
    );
    assert_eq!(users[0]["group"], "Default");
    assert_eq!(users[0]["display_name"], "Ann");
    assert_eq!(users[1]["group"], "Sales");
    let groups = state["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys(&groups[0]), ["id", "is_default", "member_count", "name"]);
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["Default", "Sales"]);

    let stats = sim.get("/_sim/stats").await.body;
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["by_status"], json!({"200": 1, "201": 3}));
    assert_eq!(stats["rejected_rate_limited"], 0);

    assert_eq!(sim.call(Method::POST, "/_sim/reset", None).await.status, StatusCode::NO_CONTENT);
    let state = sim.handle.snapshot();
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["groups"].as_array().map(Vec::len), Some(1));
    assert!(sim.handle.log().is_empty());
    assert_eq!(sim.handle.stats()["requests"], 0);
}
