//! Losing the workers' Redis state never moves Splashtop back (docs/DESIGN.md, "Redis: what
//! the workers share, and what losing it does"): after a flush of the workers' keys, or a
//! Sentinel failover to a replica that missed the last writes, a re-published older job of
//! a key whose newer job was applied is skipped on the directory's word, and the workers
//! carry on.
//!
//! Each test runs the real receiver (its directory answers `GET /admin/floor`), a worker,
//! RabbitMQ and the simulator; the stale job is the relay's own body, read back from the
//! outbox and published again, as the relay does when the broker refused its first confirm.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::job::Job;
use splashsync_test_support::{
    eventually, find_user, get_json, patch_op, redis_url, sim_reaches, versions_never_decrease,
    Options, RedisProcess, ScimUser, TcpProxy, TestApp, WorkerOptions, ADMIN_TOKEN,
};
use splashsync_worker::store::Store;

const EMAIL: &str = "ada@example.com";

/// A worker that checks jobs committed before a loss against `app`'s directory, on
/// `redis_url` (the shared test Redis when `None`).
fn worker_options(app: &TestApp, redis_url: Option<String>) -> WorkerOptions {
    WorkerOptions {
        floors: Some((app.base_url(), ADMIN_TOKEN.to_string())),
        redis_url,
        ..WorkerOptions::default()
    }
}

/// Creates the user with first name `first`; returns its id once Splashtop has it.
async fn create(app: &TestApp, first: &str) -> String {
    let response = app
        .create_user(&ScimUser::okta(EMAIL).name(first, "Lovelace").json())
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("JSON");
    let id = body["id"].as_str().expect("an id").to_string();
    reaches_first_name(app, first).await;
    id
}

/// Changes the user's first name to `first`, and waits until Splashtop has it and the
/// directory has its outcome (so the worker recorded it).
async fn rename(app: &TestApp, id: &str, first: &str) {
    let patch = patch_op(json!([{"op": "replace", "path": "name.givenName", "value": first}]));
    let response = app
        .scim(Method::PATCH, &format!("/Users/{id}"))
        .json(&patch)
        .send()
        .await
        .expect("PATCH");
    assert_eq!(response.status(), 200);
    reaches_first_name(app, first).await;
    eventually(
        Duration::from_secs(20),
        "the outcome in the directory",
        || async {
            let (_, body) = get_json(app, &format!("/users/{EMAIL}/status")).await;
            body["status"]["state"] == "applied"
        },
    )
    .await;
}

async fn reaches_first_name(app: &TestApp, first: &str) {
    sim_reaches(&app.sim, Duration::from_secs(20), first, |s| {
        find_user(s, EMAIL).is_some_and(|u| u["first_name"] == first)
    })
    .await;
}

/// The jobs the relay published for user `id`, in commit order, byte for byte.
async fn outbox_jobs(app: &TestApp, id: &str) -> Vec<Job> {
    let pool = sqlx::SqlitePool::connect(&app.database_url())
        .await
        .expect("directory opens");
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT payload FROM outbox WHERE key = ? ORDER BY seq")
            .bind(format!("default/user/{id}"))
            .fetch_all(&pool)
            .await
            .expect("outbox read");
    pool.close().await;
    rows.iter()
        .map(|(p,)| serde_json::from_str(p).expect("a job"))
        .collect()
}

/// Publishes `stale` again and waits until the worker reported it skipped.
async fn republish_and_see_it_skipped(app: &TestApp, stale: &Job) {
    let publisher = app.publisher().await;
    publisher.publish(stale).await;
    publisher.close().await;
    let job_id = stale.meta().job_id.clone();
    eventually(Duration::from_secs(20), "the stale job skipped", || async {
        let (_, body) = get_json(app, &format!("/users/{EMAIL}/status")).await;
        let timeline = body["timeline"].as_array().cloned().unwrap_or_default();
        timeline
            .iter()
            .any(|e| e["job_id"] == job_id.as_str() && e["status"] == "skipped_stale")
            .then_some(())
            .ok_or(body)
    })
    .await;
}

/// How far a server's replication stream has come.
async fn repl_offset(server: &RedisProcess) -> Option<i64> {
    let mut info = redis::cmd("INFO");
    info.arg("replication");
    let text: String = server.cmd(&info).await.ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("master_repl_offset:"))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flush_an_older_job_never_moves_splashtop_back() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let worker = app.start_worker_with(worker_options(&app, None)).await;
    let id = create(&app, "First").await;
    rename(&app, &id, "Second").await;
    let jobs = outbox_jobs(&app, &id).await;
    assert_eq!(jobs.len(), 2, "a create and an update");
    // What a FLUSHALL does, to this test's keys only: versions, incarnations, the mirror
    // and the epoch marker are gone.
    let store = Store::new(&redis_url(), app.topology.prefix()).expect("redis url");
    store.delete_all().await.expect("keys deleted");
    republish_and_see_it_skipped(&app, &jobs[0]).await;
    rename(&app, &id, "Third").await;
    let log = app.sim.log();
    assert_eq!(versions_never_decrease(&log), Ok(()), "{log:?}");
    worker.stop().await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_to_a_replica_that_missed_writes_never_moves_splashtop_back() {
    let mut master = RedisProcess::master().await;
    // The replica reaches its master through a proxy, so the test can cut replication.
    let link = TcpProxy::start(([127, 0, 0, 1], master.port()).into()).await;
    let replica = RedisProcess::replica_of(link.addr().port()).await;
    let sentinel = RedisProcess::sentinel(master.port(), "splashsync").await;
    eventually(
        Duration::from_secs(30),
        "the sentinel knows the replica",
        || async {
            let replicas: Result<Vec<redis::Value>, _> = sentinel
                .cmd(redis::cmd("SENTINEL").arg("REPLICAS").arg("splashsync"))
                .await;
            replicas.is_ok_and(|r| !r.is_empty())
        },
    )
    .await;
    let url = format!("redis+sentinel://127.0.0.1:{}/splashsync", sentinel.port());

    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let worker = app.start_worker_with(worker_options(&app, Some(url))).await;
    let id = create(&app, "First").await;
    // The replica has everything so far, then misses what follows.
    eventually(Duration::from_secs(10), "the replica in sync", || async {
        let (m, r) = (repl_offset(&master).await, repl_offset(&replica).await);
        m.is_some() && m == r
    })
    .await;
    link.cut().await;
    rename(&app, &id, "Second").await;
    rename(&app, &id, "Third").await;
    master
        .cmd::<()>(redis::cmd("SET").arg("written-after-the-cut").arg(1))
        .await
        .expect("master answers");
    master.kill();
    // The sentinel promotes the replica, which never saw the last writes.
    eventually(Duration::from_secs(30), "the replica promoted", || async {
        let role: Result<Vec<redis::Value>, _> = replica.cmd(&redis::cmd("ROLE")).await;
        matches!(role.as_deref(), Ok([redis::Value::BulkString(r), ..]) if r == b"master")
    })
    .await;
    let lost: Option<String> = replica
        .cmd(redis::cmd("GET").arg("written-after-the-cut"))
        .await
        .expect("the new master answers");
    assert_eq!(lost, None, "the promoted replica missed the last writes");

    let jobs = outbox_jobs(&app, &id).await;
    assert_eq!(jobs.len(), 3, "a create and two updates");
    // The replica still holds version 1 of the key: without the epoch, version 2 would
    // pass the version check and undo version 3.
    republish_and_see_it_skipped(&app, &jobs[1]).await;
    rename(&app, &id, "Fourth").await;
    let log = app.sim.log();
    assert_eq!(versions_never_decrease(&log), Ok(()), "{log:?}");
    worker.stop().await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_names_the_newest_version_and_holder_and_refuses_what_is_no_key() {
    let app = TestApp::spawn().await;
    let id = create(&app, "First").await;
    let key = format!("default/user/{id}");
    let floor = |query: &'static [(&'static str, &'static str)], key: Option<String>| {
        let mut request = app.admin(Method::GET, "/floor").query(query);
        if let Some(key) = key {
            request = request.query(&[("key", key)]);
        }
        async move {
            let answer = request.send().await.expect("GET /admin/floor");
            let status = answer.status().as_u16();
            (status, answer.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = floor(&[("account", "ADA@example.com")], Some(key.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"version": 1, "holder": id}));
    let (status, body) = floor(&[], Some("default/user/nobody".into())).await;
    assert_eq!(
        (status, body),
        (200, json!({"version": null, "holder": null}))
    );
    for bad in ["not a key", "other/user/x"] {
        let (status, body) = floor(&[], Some(bad.into())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["status"], 400, "{body}");
    }
    let (status, _) = floor(&[], None).await;
    assert_eq!(status, 400, "the key is required");
    let anonymous = app
        .http
        .get(format!("{}/admin/floor?key={key}", app.base_url()))
        .send()
        .await
        .expect("GET");
    assert_eq!(anonymous.status(), 401);
    app.shutdown().await;
}
