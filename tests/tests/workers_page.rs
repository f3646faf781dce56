//! Workers announce themselves to the receiver through the broker: each heartbeat names
//! the worker's id, host, pid and partitions, the receiver keeps the last one, and the
//! admin API, the console and an attempt's worker link all show the same worker; a
//! worker cut off from RabbitMQ goes quiet while the other takes its partitions, a
//! stopped one says so. Failures and dead letters are counted by Splashtop's error code on the receiver.

use std::time::Duration;

use serde_json::Value;
use splashsync_test_support::{
    amqp_url, eventually, get_json, metric, Options, ScimUser, TcpProxy, TestApp, WorkerOptions,
    ADMIN_TOKEN,
};

#[path = "common/openapi.rs"]
mod openapi;
use openapi::conforms;

const WAIT: Duration = Duration::from_secs(30);

/// The workers list, once `pick` finds what it wants in it.
async fn workers_when(app: &TestApp, what: &str, pick: impl Fn(&Value) -> Option<Value>) -> Value {
    eventually(WAIT, what, || async {
        let (status, body) = get_json(app, "/workers").await;
        if status != 200 {
            return Err(format!("{status} {body}"));
        }
        pick(&body).ok_or_else(|| body.to_string())
    })
    .await
}

fn worker<'a>(list: &'a Value, id: &str) -> Option<&'a Value> {
    list["workers"].as_array()?.iter().find(|w| w["id"] == id)
}

fn partitions(w: &Value) -> Vec<u64> {
    w["partitions"]
        .as_array()
        .map(|ps| ps.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

async fn console(app: &TestApp, path: &str) -> String {
    let r = app
        .http
        .get(format!("{}{path}", app.base_url()))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn workers_page_shows_each_worker_its_partitions_and_whether_it_is_live_quiet_or_stopped() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let doc: Value = app
        .http
        .get(format!("{}/admin/openapi.json", app.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = app.start_worker_with(WorkerOptions::default()).await;
    let list = workers_when(&app, "the first worker holding both partitions", |l| {
        let w = l["workers"].as_array()?.first()?;
        (w["state"] == "live" && partitions(w) == [0, 1]).then(|| l.clone())
    })
    .await;
    conforms(&doc, "get", "/workers", &list);
    let first_id = list["workers"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list["workers"][0]["pid"], std::process::id(), "{list}");
    assert_eq!(
        (list["live"].as_u64(), list["partitions_held"].as_u64()),
        (Some(1), Some(2))
    );

    // A second worker, through a proxy that can cut it off from RabbitMQ: both live, the
    // partitions shared between them, each held once.
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    let second = app
        .start_worker_with(WorkerOptions {
            amqp_url: Some(proxy.url_for(&amqp_url())),
            ..WorkerOptions::default()
        })
        .await;
    let list = workers_when(&app, "two live workers sharing the partitions", |l| {
        let live: Vec<&Value> = l["workers"]
            .as_array()?
            .iter()
            .filter(|w| w["state"] == "live")
            .collect();
        let mut all: Vec<u64> = live.iter().flat_map(|w| partitions(w)).collect();
        all.sort_unstable();
        (live.len() == 2 && all == [0, 1]).then(|| l.clone())
    })
    .await;
    let second_id = list["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .find(|id| *id != first_id)
        .unwrap()
        .to_string();

    // An attempt names its worker, and the console links that name to the workers page.
    let body = ScimUser::new("mallory@example.com")
        .active(true)
        .sso("No Such SSO");
    assert_eq!(app.create_user(&body.json()).await.status(), 201);
    let (dl, by) = eventually(WAIT, "the dead letter and its attempt", || async {
        let (_, b) = get_json(&app, "/dead-letters").await;
        let dl = b["dead_letters"][0]["id"].as_i64()?;
        let (_, shown) = get_json(&app, &format!("/dead-letters/{dl}")).await;
        let by = shown["attempts"][0]["worker"].as_str()?.to_string();
        Some((dl, by))
    })
    .await;
    assert!(by == first_id || by == second_id, "{by} is one of ours");
    let page = console(&app, &format!("/console/dead-letters/{dl}")).await;
    assert!(
        page.contains(&format!("href=\"/console/workers#worker-{by}\"")),
        "{page}"
    );
    let page = console(&app, "/console/workers").await;
    assert!(page.contains(&format!("id=\"worker-{by}\"")), "{page}");
    let metrics = console(&app, "/metrics").await;
    let code = [("reason", "permanent"), ("code", "sso_method_not_found")];
    assert_eq!(
        metric(&metrics, "splashsync_dead_letters_received_total", &code),
        Some(1.0),
        "{metrics}"
    );
    let failed = [
        ("status", "dead_lettered"),
        ("code", "sso_method_not_found"),
    ];
    assert_eq!(
        metric(&metrics, "splashsync_job_failures_total", &failed),
        Some(1.0)
    );

    // Cut off from RabbitMQ: it goes quiet, and the other's heartbeat shows both partitions.
    assert!(
        proxy.cut().await >= 1,
        "the second worker's connection was cut"
    );
    workers_when(
        &app,
        "the cut-off worker quiet, the other holding both",
        |l| {
            let gone = worker(l, &second_id)?;
            let kept = worker(l, &first_id)?;
            (gone["state"] == "quiet" && kept["state"] == "live" && partitions(kept) == [0, 1])
                .then(|| l.clone())
        },
    )
    .await;

    // Stopped gracefully: it says so, holding nothing.
    second.stop().await;
    first.stop().await;
    let list = workers_when(&app, "the stopped worker", |l| {
        let w = worker(l, &first_id)?;
        (w["state"] == "stopped").then(|| l.clone())
    })
    .await;
    assert!(partitions(worker(&list, &first_id).unwrap()).is_empty());
    assert_eq!(list["live"], 0, "{list}");
    app.shutdown().await;
}
