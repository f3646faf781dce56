//! Drift reconciliation end to end: the real receiver, RabbitMQ, a worker and the
//! simulator. The team is provisioned through SCIM, then changed behind splashsync's back
//! through the simulator's API (a rename, a removal, a hand-made invite, a move to another
//! group, a deactivated user invited again, a group deleted and one made by hand). A dry
//! run reports every kind and writes nothing; a real run fixes what the directory owns and
//! only reports the rest; `prune` removes the hand-made account; a last dry run finds
//! nothing but the hand-made group.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::reconcile::{DriftAction, DriftKind, ReconcileReport};
use splashsync_test_support::{
    eventually, find_user, get_json, has_user, metric, patch_op, sim_reaches, user_state, ScimUser,
    TestApp,
};

const WAIT: Duration = Duration::from_secs(30);

/// A call to the simulated Splashtop API, as someone editing the team by hand would make.
async fn by_hand(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}/teams/{}{path}", app.sim.api_url(), app.sim.team_id());
    let mut req = app.http.request(method, url).bearer_auth(app.sim.token());
    if let Some(body) = body {
        req = req.json(&body);
    }
    let r = req.send().await.expect("simulator answers");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap_or(Value::Null)
}

fn sim_id(state: &Value, email: &str) -> String {
    find_user(state, email).expect("user in the team")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn group_id(state: &Value, name: &str) -> String {
    state["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("group {name} in {state}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn has_group(state: &Value, name: &str) -> bool {
    state["groups"]
        .as_array()
        .is_some_and(|gs| gs.iter().any(|g| g["name"] == name))
}

async fn create_user(app: &TestApp, email: &str) -> String {
    let body = ScimUser::new(email).name("Test", email).active(true).json();
    let r = app.create_user(&body).await;
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn create_group(app: &TestApp, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let r = app
        .scim(Method::POST, "/Groups")
        .json(&json!({"displayName": name, "members": members}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Starts a run and waits for its report.
async fn reconcile(app: &TestApp, body: Value) -> ReconcileReport {
    let r = app
        .admin(Method::POST, "/reconcile")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["run"].as_i64().unwrap();
    eventually(WAIT, "the run ends", || async {
        let (status, body) = get_json(app, &format!("/reconcile/{id}")).await;
        let report: Option<ReconcileReport> = serde_json::from_value(body.clone()).ok();
        match report {
            Some(r) if status == 200 && r.state != "running" => Ok(r),
            _ => Err(body),
        }
    })
    .await
}

fn action_of(report: &ReconcileReport, kind: DriftKind, subject: &str) -> Option<DriftAction> {
    report
        .of_kind(kind)
        .find(|i| i.subject.eq_ignore_ascii_case(subject))
        .map(|i| i.action)
}

/// Jobs the outbox ever held.
async fn outbox_total(app: &TestApp) -> i64 {
    let (_, body) = get_json(app, "/queues").await;
    body["outbox"]["pending"].as_i64().unwrap() + body["outbox"]["sent"].as_i64().unwrap()
}

async fn all_applied(app: &TestApp, emails: &[&str]) {
    for email in emails {
        eventually(WAIT, &format!("{email} applied"), || async {
            match user_state(app, email).await {
                Some(s) if s == "applied" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reports_every_drift_fixes_what_the_directory_owns_and_prunes_on_demand() {
    let app = TestApp::spawn().await;
    let emails = [
        "ada@example.com",
        "bob@example.com",
        "cy@example.com",
        "dee@example.com",
        "eve@example.com",
        "fay@example.com",
    ];
    let mut ids = Vec::new();
    for email in emails {
        ids.push(create_user(&app, email).await);
    }
    create_group(&app, "Sales", &[&ids[0], &ids[1]]).await;
    create_group(&app, "Ops", &[&ids[2]]).await;
    create_group(&app, "Empty", &[]).await;
    let r = app
        .scim(Method::PATCH, &format!("/Users/{}", ids[5]))
        .json(&patch_op(
            json!([{"op": "replace", "path": "active", "value": false}]),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state = sim_reaches(&app.sim, WAIT, "the team is provisioned", |s| {
        emails[..5].iter().all(|e| has_user(s, e))
            && !has_user(s, "fay@example.com")
            && has_group(s, "Empty")
            && find_user(s, "bob@example.com").is_some_and(|u| u["group"] == "Sales")
            && find_user(s, "cy@example.com").is_some_and(|u| u["group"] == "Ops")
    })
    .await;
    all_applied(&app, &emails).await;

    // Behind splashsync's back.
    let bob = sim_id(&state, "bob@example.com");
    by_hand(
        &app,
        Method::PATCH,
        &format!("/users/{bob}"),
        Some(json!({"first_name": "Robert"})),
    )
    .await;
    let cy = sim_id(&state, "cy@example.com");
    by_hand(&app, Method::DELETE, &format!("/users/{cy}"), None).await;
    let ops = group_id(&state, "Ops");
    let dee = sim_id(&state, "dee@example.com");
    by_hand(
        &app,
        Method::PATCH,
        &format!("/users/{dee}"),
        Some(json!({"group_id": ops})),
    )
    .await;
    let invite = |email: &str| json!({"email": email, "first_name": "Hand", "last_name": "Made"});
    by_hand(
        &app,
        Method::POST,
        "/users",
        Some(invite("stranger@example.com")),
    )
    .await;
    by_hand(
        &app,
        Method::POST,
        "/users",
        Some(invite("fay@example.com")),
    )
    .await;
    let empty = group_id(&state, "Empty");
    by_hand(&app, Method::DELETE, &format!("/groups/{empty}"), None).await;
    by_hand(
        &app,
        Method::POST,
        "/groups",
        Some(json!({"name": "Handmade"})),
    )
    .await;
    let drifted = app.sim.snapshot();
    let listed_users = drifted["users"].as_array().unwrap().len() as u64;
    let listed_groups = drifted["groups"].as_array().unwrap().len() as u64;

    // A dry run reports each kind and writes nothing.
    let jobs_before = outbox_total(&app).await;
    let dry = reconcile(&app, json!({"dry_run": true})).await;
    assert_eq!(dry.state, "done", "{dry:?}");
    let expected = [
        (
            DriftKind::Unmanaged,
            "stranger@example.com",
            DriftAction::Reported,
        ),
        (DriftKind::Missing, "cy@example.com", DriftAction::WouldFix),
        (DriftKind::Names, "bob@example.com", DriftAction::WouldFix),
        (DriftKind::Group, "dee@example.com", DriftAction::WouldFix),
        (DriftKind::Status, "fay@example.com", DriftAction::WouldFix),
        (DriftKind::GroupMissing, "Empty", DriftAction::WouldFix),
        (DriftKind::GroupUnmanaged, "Handmade", DriftAction::Reported),
    ];
    for (kind, subject, action) in expected {
        assert_eq!(
            action_of(&dry, kind, subject),
            Some(action),
            "{kind:?} {subject}: {dry:#?}"
        );
    }
    assert_eq!(
        dry.found,
        expected.len() as u64,
        "nothing else drifted: {dry:#?}"
    );
    assert_eq!(dry.fixed, 0);
    // The run's cost is pages, three users or groups a page in this test's receiver.
    assert_eq!(
        dry.pages_read,
        listed_users.div_ceil(3) + listed_groups.div_ceil(3)
    );
    assert_eq!(
        (dry.team_users, dry.team_groups),
        (listed_users, listed_groups)
    );
    assert_eq!(
        outbox_total(&app).await,
        jobs_before,
        "a dry run writes no job"
    );

    // A real run fixes what the directory owns; the stranger and the hand-made group are
    // only reported.
    let run = reconcile(&app, json!({})).await;
    assert_eq!(run.state, "done", "{run:?}");
    assert_eq!(run.fixed, 5, "cy, bob, dee, fay and Empty: {run:#?}");
    assert_eq!(outbox_total(&app).await, jobs_before + 5);
    assert_eq!(
        action_of(&run, DriftKind::Unmanaged, "stranger@example.com"),
        Some(DriftAction::Reported)
    );
    assert_eq!(
        action_of(&run, DriftKind::Names, "bob@example.com"),
        Some(DriftAction::Fixed)
    );
    sim_reaches(&app.sim, WAIT, "the team converges", |s| {
        has_user(s, "cy@example.com")
            && !has_user(s, "fay@example.com")
            && has_group(s, "Empty")
            && find_user(s, "bob@example.com").is_some_and(|u| u["first_name"] == "Test")
            && find_user(s, "dee@example.com").is_some_and(|u| u["group_id"] != ops.as_str())
    })
    .await;
    let state = app.sim.snapshot();
    assert!(
        has_user(&state, "stranger@example.com"),
        "an unmanaged account is only reported"
    );

    // With prune the hand-made account goes too.
    let pruned = reconcile(&app, json!({"prune": true})).await;
    assert_eq!(
        action_of(&pruned, DriftKind::Unmanaged, "stranger@example.com"),
        Some(DriftAction::Pruned),
        "{pruned:#?}"
    );
    sim_reaches(&app.sim, WAIT, "the stranger is removed", |s| {
        !has_user(s, "stranger@example.com")
    })
    .await;

    // Once every fix is applied, only the hand-made group is left.
    all_applied(&app, &emails).await;
    let last = eventually(WAIT, "a dry run finds only the hand-made group", || async {
        let r = reconcile(&app, json!({"dry_run": true})).await;
        let kinds: Vec<DriftKind> = r.items.iter().map(|i| i.kind).collect();
        match kinds == [DriftKind::GroupUnmanaged] {
            true => Ok(r),
            false => Err(format!("{:?}", r.items)),
        }
    })
    .await;
    assert_eq!(last.pending, 0);

    // The reports are listed, shown in the console, and counted.
    let (status, list) = get_json(&app, "/reconcile?limit=10").await;
    assert_eq!(status, 200);
    assert!(list["count"].as_u64().unwrap() >= 4, "{list}");
    let page = app
        .http
        .get(format!(
            "{}/console/reconcile?run={}",
            app.base_url(),
            run.id
        ))
        .bearer_auth(splashsync_test_support::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("id=\"run-summary\"") && html.contains("bob@example.com"),
        "{html}"
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let found = |kind: &str| metric(&metrics, "splashsync_drift_found_total", &[("kind", kind)]);
    assert!(found("unmanaged").unwrap_or(0.0) >= 3.0, "{metrics}");
    assert!(metric(&metrics, "splashsync_drift_fixed_total", &[]).unwrap_or(0.0) >= 6.0);
    assert!(metric(&metrics, "splashsync_reconcile_pages_read_total", &[]).unwrap_or(0.0) >= 4.0);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_while_one_goes_is_refused_and_bad_requests_get_400() {
    let app = TestApp::spawn().await;
    let bad = app
        .admin(Method::POST, "/reconcile")
        .json(&json!({"dryrun": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let (status, _) = get_json(&app, "/reconcile/999999").await;
    assert_eq!(status, 404);
    let (status, _) = get_json(&app, "/reconcile?limit=0").await;
    assert_eq!(status, 400);
    // Slow the simulator down so that the first run is still reading when the second
    // is asked for.
    let mut faults = app.sim.faults();
    faults.latency_ms = 1500;
    app.sim.set_faults(faults);
    let first = app
        .admin(Method::POST, "/reconcile")
        .json(&json!({"dry_run": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 202);
    let id = first.json::<Value>().await.unwrap()["run"]
        .as_i64()
        .unwrap();
    let second = app
        .admin(Method::POST, "/reconcile")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 409);
    let message = second.json::<Value>().await.unwrap().to_string();
    assert!(message.contains(&format!("run {id}")), "{message}");
    app.shutdown().await;
}
