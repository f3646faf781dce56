//! The control endpoints: `/_sim/log`, `/_sim/state`, `/_sim/stats`, `/_sim/reset`.

mod common;

use common::start;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use splashtop_sim::SimConfig;

#[tokio::test]
async fn the_log_records_applied_requests_with_tracing_headers() {
    let sim = start(SimConfig::default()).await;
    let invite = json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
    let builder = sim
        .request(Method::POST, &sim.team("/users"))
        .header("X-Splashsync-Job-Id", "job-7")
        .header("X-Splashsync-Key", "tenant-1:user-1")
        .header("X-Splashsync-Version", "42")
        .json(&invite);
    assert_eq!(sim.send(builder).await.status, StatusCode::CREATED);
    sim.send(sim.request(Method::POST, &sim.team("/users")).json(&invite))
        .await; // 409: not logged
    sim.create_group("Sales").await;

    let log = sim.get("/_sim/log").await.body;
    assert_eq!(
        log,
        serde_json::to_value(sim.handle.log()).unwrap_or_default()
    );
    let entries = log.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2);
    let first = &entries[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["method"], "POST");
    assert_eq!(first["path"], format!("/api/open/v1{}", sim.team("/users")));
    assert_eq!(first["op"], "invite_user");
    assert_eq!(first["email"], "a@example.com");
    assert_eq!(first["group"], "Default");
    assert_eq!(first["job_id"], "job-7");
    assert_eq!(first["key"], "tenant-1:user-1");
    assert_eq!(first["version"], 42);
    assert_eq!(first["status"], 201);
    assert!(first["at"]
        .as_str()
        .is_some_and(|at| at.len() == 24 && at.ends_with('Z')));
    assert_eq!(entries[1]["op"], "create_group");
    assert_eq!(entries[1]["group"], "Sales");
    assert_eq!(entries[1]["job_id"], Value::Null);
}

#[tokio::test]
async fn state_stats_and_reset() {
    let sim = start(SimConfig {
        team_id: "acme".into(),
        ..SimConfig::default()
    })
    .await;
    sim.create_group("Sales").await;
    let sales = sim.get("/teams/acme/groups?name=Sales").await.body["groups"][0]["id"].clone();
    sim.invite("b@example.com", json!({"group_id": sales}))
        .await;
    sim.invite("a@example.com", json!({"display_name": "Ann"}))
        .await;

    let state = sim.get("/_sim/state").await.body;
    assert_eq!(state, sim.handle.snapshot());
    assert_eq!(state["team_id"], "acme");
    let users = state["users"].as_array().cloned().unwrap_or_default();
    let emails: Vec<&str> = users.iter().filter_map(|u| u["email"].as_str()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com"]);
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    };
    assert_eq!(
        keys(&users[0]),
        [
            "display_name",
            "email",
            "first_name",
            "group",
            "group_id",
            "id",
            "last_name",
            "sso_name",
            "status"
        ]
    );
    assert_eq!(users[0]["group"], "Default");
    assert_eq!(users[0]["display_name"], "Ann");
    assert_eq!(users[1]["group"], "Sales");
    let groups = state["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        keys(&groups[0]),
        ["id", "is_default", "member_count", "name"]
    );
    let names: Vec<&str> = groups.iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["Default", "Sales"]);

    let stats = sim.get("/_sim/stats").await.body;
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["by_status"], json!({"200": 1, "201": 3}));
    assert_eq!(stats["rejected_rate_limited"], 0);

    assert_eq!(
        sim.call(Method::POST, "/_sim/reset", None).await.status,
        StatusCode::NO_CONTENT
    );
    let state = sim.handle.snapshot();
    assert_eq!(state["users"], json!([]));
    assert_eq!(state["groups"].as_array().map(Vec::len), Some(1));
    assert!(sim.handle.log().is_empty());
    assert_eq!(sim.handle.stats()["requests"], 0);
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_future_and_dropping_a_handle_stops_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(splashtop_sim::serve(
        listener,
        SimConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let health = http.get(format!("http://{addr}/healthz")).send().await;
    assert_eq!(health.map(|r| r.status()).ok(), Some(StatusCode::OK));
    let _ = stop.send(());
    let result = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    assert!(matches!(result, Ok(Ok(Ok(())))));

    let bad = SimConfig {
        token: String::new(),
        ..SimConfig::default()
    };
    assert!(splashtop_sim::spawn(bad).await.is_err());

    let sim = start(SimConfig::default()).await;
    let url = format!("{}/healthz", sim.handle.base_url());
    drop(sim.handle);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(url).send().await.is_err());
}
