//! The whole pipe: SCIM create → store + outbox → RabbitMQ → worker → Splashtop (simulated).

use std::time::Duration;

use serde_json::json;
use splashsync_tests::{sim_has_user, Options, TestApp};

fn okta_user(email: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_over_scim_ends_up_in_the_splashtop_team() {
    let app = TestApp::spawn().await;
    let response = app.create_user(&okta_user("ada@example.com")).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body.get("password").is_none());

    let state = app
        .wait_for_sim(Duration::from_secs(20), |s| {
            sim_has_user(s, "ada@example.com")
        })
        .await;
    assert!(
        sim_has_user(&state, "ada@example.com"),
        "simulator state: {state}"
    );
    let user = state["users"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["email"] == "ada@example.com"))
        .cloned()
        .unwrap();
    assert_eq!(user["first_name"], "Test");
    assert_eq!(user["last_name"], "User");
    assert_eq!(user["display_name"], "Test User");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_answers_while_the_broker_is_unreachable_and_delivers_once_it_is_back() {
    // Port 1 on loopback: nothing listens there, so every connect fails at once.
    let mut app = TestApp::spawn_with(Options {
        receiver_amqp_url: "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        ..Options::default()
    })
    .await;
    let response = app.create_user(&okta_user("grace@example.com")).await;
    assert_eq!(
        response.status(),
        201,
        "the receiver must answer during a broker outage"
    );
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Reads come from the directory, not the broker.
    let read = app
        .scim(reqwest::Method::GET, &format!("/Users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    // The worker is up; the job cannot have reached it.
    let state = app
        .wait_for_sim(Duration::from_secs(2), |s| {
            sim_has_user(s, "grace@example.com")
        })
        .await;
    assert!(
        !sim_has_user(&state, "grace@example.com"),
        "job delivered without a broker?"
    );

    // The relay can publish again (same database, reachable broker): the job arrives.
    app.start_receiver(&splashsync_tests::amqp_url()).await;
    let state = app
        .wait_for_sim(Duration::from_secs(20), |s| {
            sim_has_user(s, "grace@example.com")
        })
        .await;
    assert!(
        sim_has_user(&state, "grace@example.com"),
        "simulator state: {state}"
    );
    app.shutdown().await;
}
