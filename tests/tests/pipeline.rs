//! The whole pipe: SCIM create → store + outbox → RabbitMQ → worker → Splashtop (simulated).

use std::time::Duration;

use splashsync_test_support::{
    amqp_url, find_user, has_user, sim_reaches, Options, ScimUser, TestApp,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_over_scim_ends_up_in_the_splashtop_team() {
    let app = TestApp::spawn().await;
    let response = app
        .create_user(&ScimUser::okta("ada@example.com").json())
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body.get("password").is_none());

    let state = sim_reaches(&app.sim, Duration::from_secs(20), "ada in the team", |s| {
        has_user(s, "ada@example.com")
    })
    .await;
    let user = find_user(&state, "ada@example.com").unwrap();
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
    let response = app
        .create_user(&ScimUser::okta("grace@example.com").json())
        .await;
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !has_user(&app.sim.snapshot(), "grace@example.com"),
        "job delivered without a broker?"
    );

    // The relay can publish again (same database, reachable broker): the job arrives.
    app.restart_receiver(&amqp_url()).await;
    sim_reaches(
        &app.sim,
        Duration::from_secs(20),
        "grace in the team",
        |s| has_user(s, "grace@example.com"),
    )
    .await;
    app.shutdown().await;
}
