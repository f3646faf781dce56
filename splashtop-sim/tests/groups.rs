//! The team API's group endpoints: one group per user, the default group, names and the limit.

mod common;

use common::start;
use reqwest::{Method, StatusCode};
use serde_json::json;
use splashtop_sim::SimConfig;

#[tokio::test]
async fn a_user_is_in_one_group_and_deleting_a_group_moves_its_members() {
    let sim = start(SimConfig::default()).await;
    let sales = sim.create_group("Sales").await;
    assert_eq!(sales.status, StatusCode::CREATED);
    let sales_id = sales.body["group"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(sales_id.starts_with("g_"));
    let ops = sim.create_group("Ops").await.body["group"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let user = sim
        .invite("a@example.com", json!({"group_id": sales_id}))
        .await;
    let path = sim.team(&format!(
        "/users/{}",
        user.body["user"]["id"].as_str().unwrap_or("")
    ));
    assert_eq!(user.body["user"]["group_id"], json!(sales_id));

    let moved = sim
        .call(Method::PATCH, &path, Some(json!({"group_id": ops})))
        .await;
    assert_eq!(moved.body["user"]["group_id"], json!(ops));
    let sales_members = sim.get(&format!("/groups/{sales_id}/members")).await;
    assert_eq!(sales_members.body["members"], json!([]));
    let ops_members = sim.get(&format!("/groups/{ops}/members")).await;
    assert_eq!(ops_members.body["members"][0]["email"], "a@example.com");
    let group = sim.get(&sim.team(&format!("/groups/{ops}"))).await;
    assert_eq!(group.body["group"]["member_count"], 1);

    let to_default = sim
        .call(Method::PATCH, &path, Some(json!({"group_id": null})))
        .await;
    assert_eq!(
        to_default.body["user"]["group_id"],
        json!(sim.default_group_id())
    );
    sim.call(Method::PATCH, &path, Some(json!({"group_id": ops})))
        .await;
    let deleted = sim
        .call(Method::DELETE, &sim.team(&format!("/groups/{ops}")), None)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let user = sim.get(&path).await;
    assert_eq!(user.body["user"]["group_id"], json!(sim.default_group_id()));
    assert_eq!(
        sim.get(&format!("/groups/{ops}/members")).await.code(),
        "group_not_found"
    );
    let unknown = sim
        .call(Method::PATCH, &path, Some(json!({"group_id": ops})))
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "group_not_found")
    );
}

#[tokio::test]
async fn group_names_and_the_default_group() {
    let config = SimConfig {
        computer_groups: vec!["Servers".into()],
        ..SimConfig::default()
    };
    let sim = start(config).await;
    let default = sim.default_group_id();
    let listed = sim.get(&sim.team("/groups")).await;
    assert_eq!(
        listed.body["groups"],
        json!([{"id": default, "name": "Default", "is_default": true, "member_count": 0}])
    );
    let path = sim.team(&format!("/groups/{default}"));
    let rename = sim
        .call(Method::PATCH, &path, Some(json!({"name": "Other"})))
        .await;
    assert_eq!(
        (rename.status, rename.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "default_group_immutable")
    );
    let delete = sim.call(Method::DELETE, &path, None).await;
    assert_eq!(delete.code(), "default_group_immutable");

    assert_eq!(sim.create_group("default").await.code(), "group_exists");
    let clash = sim.create_group("SERVERS").await;
    assert_eq!(
        (clash.status, clash.code()),
        (StatusCode::CONFLICT, "computer_group_conflict")
    );
    let sales = sim.create_group("Sales").await.body["group"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(sim.create_group("sales").await.code(), "group_exists");
    let sales_path = sim.team(&format!("/groups/{sales}"));
    let renamed = sim
        .call(Method::PATCH, &sales_path, Some(json!({"name": "SALES"})))
        .await;
    assert_eq!(
        (renamed.status, renamed.body["group"]["name"].clone()),
        (StatusCode::OK, json!("SALES"))
    );
    let clash = sim
        .call(Method::PATCH, &sales_path, Some(json!({"name": "servers"})))
        .await;
    assert_eq!(clash.code(), "computer_group_conflict");
    let found = sim.get(&sim.team("/groups?name=sales")).await;
    assert_eq!(found.body["groups"][0]["id"], json!(sales));
}

#[tokio::test]
async fn group_limit_counts_the_default_group() {
    let sim = start(SimConfig {
        max_groups: 3,
        ..SimConfig::default()
    })
    .await;
    assert_eq!(sim.create_group("One").await.status, StatusCode::CREATED);
    assert_eq!(sim.create_group("Two").await.status, StatusCode::CREATED);
    let full = sim.create_group("Three").await;
    assert_eq!(
        (full.status, full.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "group_limit_reached")
    );
}
