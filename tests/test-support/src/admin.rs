//! Reading the receiver's admin API the way an operator does.

use serde_json::Value;

use crate::app::TestApp;

/// The status and JSON body of an admin GET (`Null` when the body is not JSON).
pub async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .admin(reqwest::Method::GET, path)
        .send()
        .await
        .expect("admin GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The provisioning state of `user_name` (`None` until the admin API knows it).
pub async fn user_state(app: &TestApp, user_name: &str) -> Option<String> {
    let (status, body) = get_json(app, &format!("/users/{user_name}/status")).await;
    (status == 200)
        .then(|| body["status"]["state"].as_str().map(str::to_string))
        .flatten()
}

/// How many jobs the receiver's outbox holds that the broker has not confirmed.
pub async fn outbox_pending(app: &TestApp) -> i64 {
    let (status, body) = get_json(app, "/queues").await;
    assert_eq!(status, 200, "{body}");
    body["outbox"]["pending"]
        .as_i64()
        .unwrap_or_else(|| panic!("no outbox.pending in {body}"))
}
