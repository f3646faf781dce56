//! Through the real worker and the simulator: a permanent Splashtop refusal lands in the
//! dead letters with Splashtop's answer; after the operator fixes the cause, a replay
//! provisions the user and its state becomes applied.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_test_support::{
    eventually, get_json, has_user, patch_op, sim_reaches, user_state, Options, ScimUser, TestApp,
};
use splashtop_sim::SimConfig;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_licence_full_dead_letter_is_replayed_after_a_seat_is_freed_and_becomes_applied() {
    let app = TestApp::spawn_with(Options {
        sim: SimConfig {
            seats: 1,
            ..SimConfig::default()
        },
        ..Options::default()
    })
    .await;
    let r = app
        .create_user(&ScimUser::new("first@example.com").active(true).json())
        .await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    sim_reaches(&app.sim, WAIT, "the first user in the team", |s| {
        has_user(s, "first@example.com")
    })
    .await;

    let r = app
        .create_user(&ScimUser::new("second@example.com").active(true).json())
        .await;
    assert_eq!(r.status(), 201);
    let dl = eventually(WAIT, "the licence-full dead letter", || async {
        let (_, body) = get_json(&app, "/dead-letters").await;
        body["dead_letters"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(dl["reason"], "permanent");
    assert_eq!(dl["error_code"], "seat_limit_reached");
    assert_eq!(dl["http_status"], 422);
    assert_eq!(
        user_state(&app, "second@example.com").await.as_deref(),
        Some("dead-lettered")
    );

    // The operator frees a seat: the first user is deactivated (removed from the team).
    let r = app
        .scim(
            Method::PATCH,
            &format!("/Users/{}", first["id"].as_str().unwrap()),
        )
        .json(&patch_op(
            json!([{"op": "replace", "value": {"active": false}}]),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim_reaches(&app.sim, WAIT, "the first user removed", |s| {
        !has_user(s, "first@example.com")
    })
    .await;

    let r = app
        .admin(Method::POST, &format!("/dead-letters/{}/replay", dl["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim_reaches(&app.sim, WAIT, "the replay provisioning the user", |s| {
        has_user(s, "second@example.com")
    })
    .await;
    eventually(
        WAIT,
        "state applied (the worker publishes an OutcomeEvent per attempt)",
        || async { user_state(&app, "second@example.com").await.as_deref() == Some("applied") },
    )
    .await;
    app.shutdown().await;
}
