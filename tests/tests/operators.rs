//! Operators see everything (docs/DESIGN.md, invariant 7): outcome events build a
//! timeline, dead letters are stored, listed, shown, replayed with the current directory
//! state and discarded. A fake worker plays the worker's part on the broker.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::events::OutcomeStatus;
use splashsync_protocol::job::Job;
use splashsync_protocol::keys::{account_route, Email};
use splashsync_test_support::{
    eventually, get_json, outcome, user_state, DeadReason, FakeWorker, Options, ScimUser, TestApp,
};

const WAIT: Duration = Duration::from_secs(20);

async fn app_without_worker() -> TestApp {
    TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await
}

/// Creates a user and returns its id and key.
async fn create(app: &TestApp, user_name: &str, sso: &str) -> (String, String) {
    let body = ScimUser::new(user_name)
        .name("Ada", "Lovelace")
        .active(true)
        .sso(sso);
    let r = app.create_user(&body.json()).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_string();
    (id.clone(), format!("default/user/{id}"))
}

/// The next job on `user_name`'s partition, as the worker would take it.
async fn take(worker: &FakeWorker, user_name: &str) -> Option<Job> {
    let route = account_route(&Default::default(), &Email::new(user_name));
    worker.take_job(&route, WAIT).await
}

async fn dead_letter_ids(app: &TestApp, query: &str) -> Vec<i64> {
    let (status, body) = get_json(app, &format!("/dead-letters{query}")).await;
    assert_eq!(status, 200, "{body}");
    body["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn outcome_events_build_the_timeline_and_a_duplicate_changes_nothing() {
    let app = app_without_worker().await;
    let worker = FakeWorker::connect(&app.topology).await;
    let _ = create(&app, "ada@example.com", "Okta SSO").await;
    assert_eq!(
        user_state(&app, "ada@example.com").await.as_deref(),
        Some("pending")
    );
    let job = take(&worker, "ada@example.com")
        .await
        .expect("the relay published the job");

    let mut retry = outcome(&job, 1, OutcomeStatus::Retrying, "Splashtop answered 503");
    retry.http_status = Some(503);
    worker.send_event(&retry).await;
    eventually(WAIT, "retrying", || async {
        user_state(&app, "ada@example.com").await.as_deref() == Some("retrying")
    })
    .await;
    let mut applied = outcome(&job, 2, OutcomeStatus::Applied, "invited");
    applied.splashtop_id = Some("u-42".into());
    worker.send_event(&applied).await;
    worker.send_event(&applied).await;
    // Then a marker: the intake hands events to the one writer in queue order, so once the
    // marker is applied both deliveries before it have been written.
    let _ = create(&app, "marker@example.com", "Okta SSO").await;
    let marker = take(&worker, "marker@example.com")
        .await
        .expect("the marker's job");
    worker
        .send_event(&outcome(&marker, 1, OutcomeStatus::Applied, "invited"))
        .await;
    eventually(WAIT, "the marker applied", || async {
        user_state(&app, "marker@example.com").await.as_deref() == Some("applied")
    })
    .await;
    let (_, body) = get_json(&app, "/users/ada@example.com/status").await;
    assert_eq!(body["status"]["state"], "applied", "{body}");
    assert_eq!(body["status"]["splashtop_id"], "u-42");
    assert_eq!(body["status"]["last_error"], Value::Null);
    let timeline = body["timeline"].as_array().unwrap();
    let asked: Vec<_> = timeline.iter().filter(|e| e["what"] == "asked").collect();
    assert_eq!(asked.len(), 1);
    assert!(asked[0]["detail"].as_str().unwrap().contains("POST /Users"));
    let attempts: Vec<_> = timeline.iter().filter(|e| e["what"] == "attempt").collect();
    assert_eq!(
        attempts.len(),
        2,
        "the duplicate event was stored once: {timeline:?}"
    );
    assert_eq!(attempts[0]["status"], "retrying");
    assert_eq!(attempts[0]["http_status"], 503);
    assert_eq!(attempts[1]["status"], "applied");

    // The identity admin sees the same over SCIM, in the read-only extension.
    const EXT: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";
    let id = body["id"].as_str().unwrap();
    let user: Value = app
        .scim(Method::GET, &format!("/Users/{id}?attributes={EXT}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(user[EXT]["state"], "applied", "{user}");
    assert_eq!(user[EXT]["splashtopId"], "u-42");
    assert!(user["schemas"].as_array().unwrap().iter().any(|s| s == EXT));
    let projected: Value = app
        .scim(Method::GET, &format!("/Users/{id}?attributes=userName"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(projected.get(EXT).is_none(), "{projected}");
    let schema = app
        .scim(Method::GET, &format!("/Schemas/{EXT}"))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    worker.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_dead_letter_is_listed_shown_and_replayed_with_the_current_state_not_the_stale_body() {
    let app = app_without_worker().await;
    let worker = FakeWorker::connect(&app.topology).await;
    let (id, _) = create(&app, "bob@example.com", "Unknown SSO").await;
    let stale = take(&worker, "bob@example.com")
        .await
        .expect("job published");
    let why = DeadReason::permanent(
        422,
        "sso_method_not_found",
        "no SSO method named 'Unknown SSO'",
    );
    worker
        .send_event(&outcome(&stale, 1, OutcomeStatus::DeadLettered, &why.body))
        .await;
    // The same dead letter twice (a redelivery) is stored once.
    let at = splashsync_scim::now_rfc3339();
    worker.dead_letter_at(&stale, &why, 1, &at).await;
    worker.dead_letter_at(&stale, &why, 1, &at).await;
    // Then a marker: the intake hands dead letters to the one writer in queue order, so
    // once the marker is stored both deliveries before it have been written.
    let (_, marker_key) = create(&app, "marker@example.com", "X").await;
    let marker = take(&worker, "marker@example.com")
        .await
        .expect("the marker's job");
    let seats = DeadReason::permanent(422, "seat_limit_reached", "seats");
    worker.dead_letter(&marker, &seats, 1).await;
    let listed = eventually(WAIT, "the marker's dead letter", || async {
        let (_, body) = get_json(&app, "/dead-letters").await;
        let listed = body["dead_letters"].as_array()?.clone();
        listed
            .iter()
            .any(|d| d["key"] == marker_key.as_str())
            .then_some(listed)
    })
    .await;
    let bobs: Vec<&Value> = listed
        .iter()
        .filter(|d| d["key"] != marker_key.as_str())
        .collect();
    assert_eq!(bobs.len(), 1, "stored once: {listed:?}");
    let dl = bobs[0]["id"].as_i64().unwrap();
    let marker_dl = listed.iter().find(|d| d["key"] == marker_key.as_str());
    let r = app
        .admin(
            Method::POST,
            &format!("/dead-letters/{}/discard", marker_dl.unwrap()["id"]),
        )
        .json(&json!({"note": "a test's marker"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the marker is out of the way");
    assert_eq!(dead_letter_ids(&app, "").await, vec![dl]);
    assert_eq!(
        dead_letter_ids(&app, "?reason=permanent&tenant=default").await,
        vec![dl]
    );
    assert!(dead_letter_ids(&app, "?reason=retry_budget_exhausted")
        .await
        .is_empty());
    assert!(dead_letter_ids(&app, "?older_than=1h").await.is_empty());
    assert_eq!(dead_letter_ids(&app, "?newer_than=1h").await, vec![dl]);
    assert_eq!(
        user_state(&app, "bob@example.com").await.as_deref(),
        Some("dead-lettered")
    );

    let (status, shown) = get_json(&app, &format!("/dead-letters/{dl}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["dead_letter"]["http_status"], 422);
    assert_eq!(shown["dead_letter"]["error_code"], "sso_method_not_found");
    assert!(
        shown["dead_letter"]["origin"]
            .as_str()
            .is_some_and(|o| o.starts_with("POST /Users by token:")),
        "{shown}"
    );
    assert_eq!(
        shown["dead_letter"]["job"]["state"]["sso_name"],
        "Unknown SSO"
    );
    assert_eq!(shown["attempts"][0]["status"], "dead_lettered");

    // The identity admin fixes the user; that change is a job of its own.
    let r = app
        .scim(Method::PATCH, &format!("/Users/{id}"))
        .json(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User:ssoName", "value": "Okta SSO"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let patched = take(&worker, "bob@example.com")
        .await
        .expect("the PATCH job");

    let r = app
        .admin(Method::POST, &format!("/dead-letters/{dl}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let replayed: Value = r.json().await.unwrap();
    let fresh = take(&worker, "bob@example.com")
        .await
        .expect("the replay job");
    let (Job::UserV1(fresh), Job::UserV1(patched)) = (fresh, patched) else {
        panic!("user jobs expected")
    };
    assert_eq!(replayed["replayed"]["job_id"], fresh.meta.job_id.as_str());
    assert_eq!(
        fresh.state.sso_name.as_deref(),
        Some("Okta SSO"),
        "current state, not the stale body"
    );
    assert_eq!(fresh.meta.version, patched.meta.version);
    assert_ne!(fresh.meta.job_id, stale.meta().job_id);
    assert_eq!(
        user_state(&app, "bob@example.com").await.as_deref(),
        Some("pending")
    );

    let r = app
        .admin(Method::POST, &format!("/dead-letters/{dl}/replay"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        409,
        "a replayed dead letter is not replayed twice"
    );
    assert!(
        dead_letter_ids(&app, "").await.is_empty(),
        "no open dead letters left"
    );
    assert_eq!(dead_letter_ids(&app, "?state=replayed").await, vec![dl]);
    worker.close().await;
    app.shutdown().await;
}

#[tokio::test]
async fn replay_all_replays_only_what_matches_and_discard_keeps_the_note() {
    let app = app_without_worker().await;
    let worker = FakeWorker::connect(&app.topology).await;
    let _ = create(&app, "a@example.com", "X").await;
    let (_, key_b) = create(&app, "b@example.com", "X").await;
    let job_a = take(&worker, "a@example.com").await.unwrap();
    let job_b = take(&worker, "b@example.com").await.unwrap();
    worker
        .dead_letter(
            &job_a,
            &DeadReason::permanent(422, "seat_limit_reached", "seats"),
            1,
        )
        .await;
    let budget = DeadReason {
        reason: "retry_budget_exhausted".into(),
        http_status: Some(503),
        error_code: None,
        body: "down".into(),
    };
    worker.dead_letter(&job_b, &budget, 9).await;
    eventually(WAIT, "two dead letters", || async {
        dead_letter_ids(&app, "").await.len() == 2
    })
    .await;
    let r = app
        .admin(Method::POST, "/dead-letters/replay")
        .json(&json!({"reason": "retry_budget_exhausted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["replayed"].as_array().unwrap().len(), 1);
    assert_eq!(body["replayed"][0]["key"], key_b.as_str());
    let open = dead_letter_ids(&app, "").await;
    assert_eq!(open.len(), 1);

    let r = app
        .admin(Method::POST, &format!("/dead-letters/{}/discard", open[0]))
        .json(&json!({"note": "user left the company"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = get_json(&app, "/users/a@example.com/status").await;
    let discarded = body["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["what"] == "discarded")
        .cloned();
    assert!(discarded.unwrap()["detail"]
        .as_str()
        .unwrap()
        .contains("user left the company"));
    assert!(dead_letter_ids(&app, "").await.is_empty());
    worker.close().await;
    app.shutdown().await;
}
