//! The operator's endpoints guard themselves: the admin API wants its own token and
//! answers bad input with a JSON error; `/metrics` counts SCIM requests and `/readyz`
//! checks the store and the broker. Incidents are listed with filters, pages and totals,
//! replayed and discarded (in bulk only after a counted confirmation), and every answer
//! conforms to the OpenAPI document's schema.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::events::OutcomeStatus;
use splashsync_protocol::job::Job;
use splashsync_protocol::keys::{account_route, Email};
use splashsync_test_support::{
    eventually, get_json, outcome, DeadReason, FakeWorker, Options, ScimUser, TestApp, ADMIN_TOKEN,
    SCIM_TOKEN,
};

#[path = "common/openapi.rs"]
mod openapi;
use openapi::conforms;

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

/// Checks `body`, the answer of `method path` (the document's template), against the
/// OpenAPI document's schema for its 200 answer.
/// The admin API's answer to `method path` with `body`: its status and JSON.
async fn call(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = app.admin(method, path);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn created(app: &TestApp, worker: &FakeWorker, user_name: &str) -> Job {
    let body = ScimUser::new(user_name).active(true).sso("Okta SSO");
    assert_eq!(app.create_user(&body.json()).await.status(), 201);
    let route = account_route(&Default::default(), &Email::new(user_name));
    worker.take_job(&route, WAIT).await.expect("the user's job")
}

#[tokio::test]
async fn incidents_are_filtered_paged_confirmed_in_bulk_and_every_answer_fits_the_openapi_schemas()
{
    let app = app_without_worker().await;
    let worker = FakeWorker::connect(&app.topology).await;
    let doc: Value = app
        .http
        .get(format!("{}/admin/openapi.json", app.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alice = created(&app, &worker, "alice@example.com").await;
    let albert = created(&app, &worker, "albert@example.com").await;
    let bob = created(&app, &worker, "bob@example.com").await;
    let sso = DeadReason::permanent(422, "sso_method_not_found", "no such SSO method");
    let seats = DeadReason::permanent(422, "seat_limit_reached", "licence full");
    worker
        .dead_letter_at(&alice, &sso, 1, "2026-01-01T00:00:01.000Z")
        .await;
    worker
        .dead_letter_at(&alice, &seats, 2, "2026-01-01T00:00:02.000Z")
        .await;
    worker.dead_letter(&albert, &seats, 1).await;
    let budget = DeadReason {
        reason: "retry_budget_exhausted".into(),
        http_status: Some(503),
        error_code: None,
        body: "Splashtop unavailable".into(),
    };
    worker.dead_letter(&bob, &budget, 7).await;
    let list = eventually(
        WAIT,
        "three incidents, alice's with both dead letters",
        || async {
            let (_, b) = get_json(&app, "/incidents").await;
            let alice = b["incidents"]
                .as_array()?
                .iter()
                .find(|i| i["name"] == "alice@example.com")?
                .clone();
            (b["total"] == 3 && alice["dead_letters"] == 2).then_some((b, alice))
        },
    )
    .await;
    conforms(&doc, "get", "/incidents", &list.0);
    let alice_incident = list.1;
    assert_eq!(
        alice_incident["cause"], "seat_limit_reached",
        "the latest cause"
    );
    assert_eq!(alice_incident["email"], "alice@example.com");
    assert!(alice_incident["what_to_do"]
        .as_str()
        .unwrap()
        .contains("seat"));
    let total = |q: &'static str| {
        let app = &app;
        async move { get_json(app, &format!("/incidents{q}")).await.1["total"].clone() }
    };
    assert_eq!(total("?cause=seat_limit_reached").await, 2);
    assert_eq!(total("?person=AL").await, 2, "userName prefix, any case");
    assert_eq!(total("?cause=retry_budget_exhausted&person=bob").await, 1);
    assert_eq!(total("?state=resolved").await, 0);
    let (_, first) = get_json(&app, "/incidents?limit=1").await;
    let (_, second) = get_json(&app, "/incidents?limit=1&offset=1").await;
    assert_eq!(
        (
            first["total"].clone(),
            first["incidents"].as_array().unwrap().len()
        ),
        (json!(3), 1)
    );
    assert_ne!(first["incidents"][0]["id"], second["incidents"][0]["id"]);
    for (path, want) in [
        ("/incidents?state=nope", 400),
        ("/incidents?kind=robot", 400),
        ("/incidents?limit=0", 400),
        ("/incidents/abc", 400),
        ("/incidents/999", 404),
    ] {
        let (status, body) = get_json(&app, path).await;
        assert_eq!(status, want, "{path}: {body}");
        assert_eq!(body["error"]["status"], want);
    }
    let id = alice_incident["id"].as_i64().unwrap();
    let (status, shown) = get_json(&app, &format!("/incidents/{id}")).await;
    assert_eq!(status, 200);
    conforms(&doc, "get", "/incidents/{id}", &shown);
    assert_eq!(shown["dead_letters"].as_array().unwrap().len(), 2);

    // Bulk: an empty filter is refused; a filter is counted first, then confirmed.
    let (status, _) = call(
        &app,
        Method::POST,
        "/incidents/replay",
        Some(json!({"filter": {}})),
    )
    .await;
    assert_eq!(status, 400, "an empty filter needs all: true");
    let filter = json!({"cause": "seat_limit_reached"});
    let (status, counted) = call(
        &app,
        Method::POST,
        "/incidents/replay",
        Some(json!({"filter": filter})),
    )
    .await;
    assert_eq!(status, 200, "{counted}");
    conforms(&doc, "post", "/incidents/replay", &counted);
    assert_eq!(
        (counted["done"].clone(), counted["count"].clone()),
        (json!(false), json!(2))
    );
    let token = counted["confirm"].as_str().unwrap().to_string();
    let (status, _) = call(
        &app,
        Method::POST,
        "/incidents/replay",
        Some(json!({"filter": filter, "confirm": "2-0000000000000000"})),
    )
    .await;
    assert_eq!(status, 409, "a token of another filter or count");
    let (status, done) = call(
        &app,
        Method::POST,
        "/incidents/replay",
        Some(json!({"filter": filter, "confirm": token})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    conforms(&doc, "post", "/incidents/replay", &done);
    let replayed = done["replayed"].as_array().unwrap();
    assert_eq!(replayed.len(), 2, "one job per incident: {done}");
    let alice_replay = replayed.iter().find(|r| r["incident"] == id).unwrap();
    assert_eq!(alice_replay["dead_letters"].as_array().unwrap().len(), 2);
    assert_eq!(total("").await, 1, "only bob's is still open");

    // The replay's job is applied: alice's incident resolves itself, by that job.
    let job = worker
        .take_job(
            &account_route(&Default::default(), &Email::new("alice@example.com")),
            WAIT,
        )
        .await
        .expect("the replay's job");
    assert_eq!(job.meta().job_id, alice_replay["job_id"].as_str().unwrap());
    worker
        .send_event(&outcome(
            &job,
            1,
            OutcomeStatus::Applied,
            "Invited(\"u_1\")",
        ))
        .await;
    let resolved = eventually(WAIT, "alice's incident resolved", || async {
        let (_, b) = get_json(&app, &format!("/incidents/{id}")).await;
        (b["incident"]["state"] == "resolved").then_some(b)
    })
    .await;
    assert_eq!(
        resolved["incident"]["resolved_by_job"],
        alice_replay["job_id"]
    );
    let (_, status_body) = get_json(&app, "/users/alice@example.com/status").await;
    conforms(&doc, "get", "/users/{userName}/status", &status_body);

    // Discard bob's with a note; the one endpoint and the bulk one.
    let bob_id = get_json(&app, "/incidents?person=bob").await.1["incidents"][0]["id"]
        .as_i64()
        .unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/incidents/{bob_id}/discard"),
        Some(json!({"note": " "})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, discarded) = call(
        &app,
        Method::POST,
        &format!("/incidents/{bob_id}/discard"),
        Some(json!({"note": "left the company", "by": "ops"})),
    )
    .await;
    assert_eq!(status, 200, "{discarded}");
    conforms(&doc, "post", "/incidents/{id}/discard", &discarded);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/incidents/{bob_id}/discard"),
        Some(json!({"note": "again"})),
    )
    .await;
    assert_eq!(status, 409);
    let (_, none_left) = call(
        &app,
        Method::POST,
        "/incidents/discard",
        Some(json!({"all": true, "note": "x"})),
    )
    .await;
    assert_eq!(none_left["count"], 0, "{none_left}");

    // The rest of the API against the document.
    for (template, path) in [
        ("/dead-letters", "/dead-letters?state=all".to_string()),
        ("/queues", "/queues".to_string()),
    ] {
        let (status, body) = get_json(&app, &path).await;
        assert_eq!(status, 200);
        conforms(&doc, "get", template, &body);
    }
    let (_, dls) = get_json(&app, "/dead-letters?state=all&limit=1").await;
    assert_eq!(dls["total"], 4, "{dls}");
    let dl = dls["dead_letters"][0]["id"].as_i64().unwrap();
    let (_, shown) = get_json(&app, &format!("/dead-letters/{dl}")).await;
    conforms(&doc, "get", "/dead-letters/{id}", &shown);
    worker.close().await;
    app.shutdown().await;
}
