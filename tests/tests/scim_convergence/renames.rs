//! The rename cases the property test meets by chance, spelled out once each, end to end
//! (receiver with the rename policy `reinvite`, RabbitMQ, a worker, the simulator).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_receiver::directory::model::RenamePolicy;
use splashsync_test_support::{find_user, patch_op, sim_reaches, Options, ScimUser, TestApp};

use crate::accounts_in_order;

async fn create(app: &TestApp, email: &str, given: &str) -> String {
    let body = ScimUser::new(email).name(given, "Test").active(true).json();
    let response = app.create_user(&body).await;
    assert_eq!(response.status(), 201, "{email}");
    let created: Value = response.json().await.expect("a user");
    created["id"].as_str().expect("an id").to_string()
}

fn first_name_of(state: &Value, email: &str) -> Option<String> {
    find_user(state, email).map(|u| u["first_name"].as_str().unwrap_or_default().to_string())
}

/// An older user renamed onto an address that a user created after it held and released,
/// then a newer user created with the renamed user's old address: both addresses end up
/// held by the right person. (With SCIM ids as incarnations, the older user's invite
/// would be superseded by the newer id that once acted on the address.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_onto_released_addresses_and_creates_after_them_converge() {
    let app = TestApp::spawn_with(Options {
        rename_policy: RenamePolicy::Reinvite,
        ..Options::default()
    })
    .await;
    let older = create(&app, "ren-a@example.com", "Older").await;
    let newer = create(&app, "ren-b@example.com", "Newer").await;
    assert!(older < newer, "ids are time-ordered");
    sim_reaches(&app.sim, Duration::from_secs(30), "both invited", |s| {
        first_name_of(s, "ren-a@example.com").is_some()
            && first_name_of(s, "ren-b@example.com").is_some()
    })
    .await;
    let deleted = app
        .scim(Method::DELETE, &format!("/Users/{newer}"))
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(deleted.status(), 204);
    let renamed = app
        .scim(Method::PATCH, &format!("/Users/{older}"))
        .json(&patch_op(json!([
            {"op": "replace", "path": "userName", "value": "ren-b@example.com"}
        ])))
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(renamed.status(), 200);
    let third = create(&app, "ren-a@example.com", "Third").await;
    assert!(third > newer);
    let state = sim_reaches(
        &app.sim,
        Duration::from_secs(60),
        "ren-b held by the renamed user and ren-a by the one created after",
        |s| {
            first_name_of(s, "ren-b@example.com").as_deref() == Some("Older")
                && first_name_of(s, "ren-a@example.com").as_deref() == Some("Third")
        },
    )
    .await;
    assert_eq!(
        state["users"].as_array().map(Vec::len),
        Some(2),
        "{state:#}"
    );
    if let Err(e) = accounts_in_order(&app.sim.log()) {
        panic!("{e}");
    }
    app.shutdown().await;
}
