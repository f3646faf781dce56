//! The operator's endpoints guard themselves: the admin API wants its own token and
//! answers bad input with a JSON error; `/metrics` counts SCIM requests and `/readyz`
//! checks the store and the broker.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_test_support::{
    eventually, get_json, Options, ScimUser, TestApp, ADMIN_TOKEN, SCIM_TOKEN,
};

const WAIT: Duration = Duration::from_secs(20);

async fn app_without_worker() -> TestApp {
    TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn the_admin_api_wants_its_own_token_and_answers_bad_input_with_json_errors() {
    let app = app_without_worker().await;
    let base = app.base_url();
    let r = app
        .http
        .get(format!("{base}/admin/dead-letters"))
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the SCIM token never opens the admin API");
    let r = app
        .http
        .get(format!("{}/Users", app.scim_url))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "nor the admin token the SCIM API");
    for (method, path, body, want) in [
        (Method::GET, "/dead-letters/abc", None, 400),
        (Method::GET, "/dead-letters?state=gone", None, 400),
        (Method::GET, "/dead-letters?older_than=3w", None, 400),
        (Method::GET, "/dead-letters?bogus=1", None, 400),
        (Method::GET, "/dead-letters/999", None, 404),
        (Method::POST, "/dead-letters/999/replay", None, 404),
        (Method::POST, "/dead-letters/1/discard", None, 400),
        (
            Method::POST,
            "/dead-letters/1/discard",
            Some(json!({"note": " "})),
            400,
        ),
        (
            Method::POST,
            "/dead-letters/999/discard",
            Some(json!({"note": "x"})),
            404,
        ),
        (
            Method::POST,
            "/dead-letters/replay",
            Some(json!({"limit": "many"})),
            400,
        ),
        (Method::GET, "/users/nobody@example.com/status", None, 404),
        (Method::GET, "/nothing-here", None, 404),
    ] {
        let mut req = app.admin(method.clone(), path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        let err: Value = r.json().await.expect("a JSON error body");
        assert_eq!(err["error"]["status"], want, "{method} {path}: {err}");
        assert!(err["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let doc: Value = app
        .http
        .get(format!("{base}/admin/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/dead-letters/{id}/replay"]["post"].is_object());
    app.shutdown().await;
}

#[tokio::test]
async fn metrics_count_scim_requests_and_readyz_checks_store_and_broker() {
    let app = app_without_worker().await;
    let body = ScimUser::new("m@example.com").active(true).sso("X");
    assert_eq!(app.create_user(&body.json()).await.status(), 201);
    let r = app.scim(Method::GET, "/Users/nope").send().await.unwrap();
    assert_eq!(r.status(), 404);
    let base = app.base_url();
    let text = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"splashsync_scim_requests_total{endpoint="/scim/v2/Users",method="POST",status="201"} 1"#), "{text}");
    assert!(
        text.contains(r#"endpoint="/scim/v2/Users/{id}",method="GET",status="404""#),
        "{text}"
    );
    assert!(text.contains("splashsync_scim_request_duration_seconds_bucket"));
    assert!(text.contains("splashsync_outbox_pending_jobs"));
    let stats = eventually(WAIT, "queue stats with the job", || async {
        let (_, s) = get_json(&app, "/queues").await;
        let queued: u64 = s["partitions"]
            .as_array()?
            .iter()
            .map(|p| p["messages"].as_u64().unwrap_or(0))
            .sum();
        // The relay marks a job sent just after the broker's confirm: wait for both.
        (queued == 1 && s["outbox"]["pending"] == 0).then_some(s)
    })
    .await;
    assert_eq!(stats["partitions"].as_array().unwrap().len(), 2);
    let r = app.http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let ready: Value = r.json().await.unwrap();
    assert_eq!(ready, json!({"ready": true, "store": "ok", "broker": "ok"}));
    app.shutdown().await;
}
