//! Coalescing (docs/DESIGN.md, "Coalescing"): when newer jobs of a key are already
//! delivered to the worker behind an older one, only the newest is applied and the older
//! ones are acked as `superseded`; with `SPLASHSYNC_COALESCE=false` every job is applied.
//! Driven through the real RabbitMQ and the simulator, jobs published straight to the
//! partition queues as the relay would.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use reqwest::Method;
use serde_json::{json, Value};
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::job::Job;
use splashsync_test_support::{
    account_job, email_in_partition, eventually, get_json, has_user, metric, outbox_pending,
    patch_op, sim_reaches, Cluster, Options, Publisher, ScimUser, TestApp, UserSpec, WorkerOptions,
};
use splashtop_sim::{Faults, LogEntry, SimConfig};

mod property;

const WAIT: Duration = Duration::from_secs(60);

fn options(coalesce: bool) -> WorkerOptions {
    WorkerOptions {
        coalesce,
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..WorkerOptions::default()
    }
}

/// Takes every outcome event published so far out of the events queue.
async fn take_events(broker: &Publisher) -> Vec<OutcomeEvent> {
    let topology = broker.topology();
    let channel = broker.channel().await;
    let mut events = Vec::new();
    while let Some(msg) = channel
        .basic_get(
            topology.events_queue().as_str().into(),
            BasicGetOptions::default(),
        )
        .await
        .expect("basic_get")
    {
        msg.ack(BasicAckOptions::default()).await.expect("ack");
        // Workers' heartbeats share the queue; they carry their own AMQP type.
        let kind = msg.properties.kind().as_ref().map(|k| k.as_str());
        if kind == Some(splashsync_protocol::workers::HEARTBEAT_TYPE) {
            continue;
        }
        events.push(serde_json::from_slice(&msg.data).expect("an outcome event"));
    }
    let _ = channel.close(200, "done".into()).await;
    events
}

/// The versions of `key` the simulator's journal shows written, in order.
fn written(log: &[LogEntry], key: &str) -> Vec<i64> {
    log.iter()
        .filter(|e| e.key.as_deref() == Some(key))
        .filter_map(|e| e.version)
        .collect()
}

/// Four versions of one user queued behind a slow job of another account, all on one
/// partition, before the worker starts: they are all delivered while the slow job is
/// applied. Returns the journal, the outcome events, the worker's metrics, and the jobs.
async fn queued_versions(coalesce: bool) -> (Vec<LogEntry>, Vec<OutcomeEvent>, String, Vec<Job>) {
    // Every request takes 300 ms: the slow job's read and write keep the window filling.
    let sim = SimConfig {
        faults: Faults {
            latency_ms: 300,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let mut cluster = Cluster::new(sim, 1).await;
    let slow = account_job("slow", "slow@example.com", 1, UserSpec::active("Slow"));
    cluster.publish(&slow).await;
    let versions: Vec<Job> = (1..=4)
        .map(|v| {
            account_job(
                "ada",
                "ada@example.com",
                v,
                UserSpec::active(&format!("Ada{v}")),
            )
        })
        .collect();
    for job in &versions {
        cluster.publish(job).await;
    }
    let w = cluster.start_worker(options(coalesce)).await;
    let base = cluster.worker_url(w).expect("the worker listens");
    sim_reaches(&cluster.sim, WAIT, "the newest version applied", |s| {
        s["users"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|u| u["first_name"] == "Ada4")
    })
    .await;
    // The newest job's own `applied` event is published before its ack, after every
    // event of the jobs before it: once it is in, they all are.
    let newest = &versions[3].meta().job_id;
    let broker = Publisher::connect(&cluster.topology, "splashsync-test-events").await;
    let events = Mutex::new(Vec::new());
    eventually(WAIT, "the newest job's applied event", || async {
        let taken = take_events(&broker).await;
        let mut events = events.lock().expect("events");
        events.extend(taken);
        events
            .iter()
            .any(|e| &e.job_id == newest && e.status == OutcomeStatus::Applied)
    })
    .await;
    broker.close().await;
    let events = events.into_inner().expect("events");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let log = cluster.sim.log();
    cluster.shutdown().await;
    (log, events, metrics, versions)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_of_a_users_queued_versions_is_applied_the_rest_superseded() {
    let (log, events, metrics, versions) = queued_versions(true).await;
    let key = versions[0].meta().key.to_string();
    assert_eq!(
        written(&log, &key),
        vec![4],
        "one Splashtop write, the newest state's: {log:?}"
    );
    let newest = versions[3].meta();
    let superseded: BTreeMap<i64, &OutcomeEvent> = events
        .iter()
        .filter(|e| e.status == OutcomeStatus::Superseded)
        .map(|e| (e.version, e))
        .collect();
    assert_eq!(
        superseded.keys().copied().collect::<Vec<_>>(),
        vec![1, 2, 3],
        "{events:#?}"
    );
    for (v, e) in &superseded {
        assert_eq!(e.key.to_string(), key);
        assert_eq!(e.job_id, versions[*v as usize - 1].meta().job_id);
        assert_eq!(
            e.detail,
            format!("superseded by job {} (version 4)", newest.job_id),
            "the event names the job applied in its place"
        );
    }
    assert_eq!(
        metric(
            &metrics,
            "splashsync_worker_jobs_coalesced_total",
            &[("kind", "user")]
        ),
        Some(3.0),
        "{metrics}"
    );
    assert_eq!(
        metric(
            &metrics,
            "splashsync_worker_jobs_total",
            &[("kind", "user"), ("outcome", "superseded")]
        ),
        Some(3.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_coalescing_every_queued_version_is_applied() {
    let (log, events, metrics, versions) = queued_versions(false).await;
    let key = versions[0].meta().key.to_string();
    assert_eq!(written(&log, &key), vec![1, 2, 3, 4], "{log:?}");
    // Checked after the newest job's applied event: nothing was superseded before it.
    assert!(
        !events.iter().any(|e| e.status == OutcomeStatus::Superseded),
        "{events:#?}"
    );
    assert_eq!(
        metric(
            &metrics,
            "splashsync_worker_jobs_total",
            &[("kind", "user"), ("outcome", "applied")]
        ),
        Some(5.0),
        "{metrics}"
    );
}

/// Through the receiver: a user created and renamed three times while no worker runs (all
/// four jobs queued behind a slow job on the same partition) is written to Splashtop by
/// its newest job only, and the timeline shows the other three as superseded by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_shows_which_job_superseded_each_version() {
    let app = TestApp::spawn_with(Options {
        worker: false,
        sim: SimConfig {
            faults: Faults {
                latency_ms: 300,
                ..Faults::default()
            },
            ..SimConfig::default()
        },
        ..Options::default()
    })
    .await;
    let slow = email_in_partition(&app.topology, 0, "slow");
    let ada = email_in_partition(&app.topology, 0, "ada");
    let mut id = String::new();
    for (user_name, given) in [(&slow, "Slow"), (&ada, "Ada1")] {
        let body = ScimUser::new(user_name).name(given, "Test").active(true);
        let r = app.create_user(&body.json()).await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.expect("the created user");
        id = created["id"].as_str().expect("an id").to_string();
    }
    for v in 2..=4 {
        let rename = patch_op(json!([
            {"op": "replace", "path": "name.givenName", "value": format!("Ada{v}")}
        ]));
        let r = app
            .scim(Method::PATCH, &format!("/Users/{id}"))
            .json(&rename)
            .send()
            .await
            .expect("PATCH");
        assert_eq!(r.status(), 200, "{:?}", r.text().await);
    }
    eventually(WAIT, "every job published", || async {
        outbox_pending(&app).await == 0
    })
    .await;
    let worker = app.start_extra_worker(0).await;
    let timeline = eventually(WAIT, "ada applied, three versions superseded", || async {
        let (_, body) = get_json(&app, &format!("/users/{ada}/status")).await;
        let timeline = body["timeline"].as_array().cloned().unwrap_or_default();
        let superseded = timeline
            .iter()
            .filter(|e| e["status"] == "superseded")
            .count();
        (body["status"]["state"] == "applied" && superseded == 3)
            .then_some(timeline)
            .ok_or(body)
    })
    .await;
    let applied: Vec<&Value> = timeline
        .iter()
        .filter(|e| e["status"] == "applied")
        .collect();
    assert_eq!(applied.len(), 1, "{timeline:#?}");
    let newest = applied[0]["job_id"].as_str().expect("job id");
    let asked_newest = timeline
        .iter()
        .find(|e| e["what"] == "asked" && e["job_id"] == newest)
        .expect("the newest job was asked");
    assert!(
        asked_newest["detail"]
            .as_str()
            .is_some_and(|d| d.contains("version 4")),
        "{asked_newest}"
    );
    for e in timeline.iter().filter(|e| e["status"] == "superseded") {
        assert_ne!(e["job_id"], newest);
        assert_eq!(
            e["detail"],
            format!("attempt 1: superseded by job {newest} (version 4)"),
            "{timeline:#?}"
        );
    }
    let writes: Vec<LogEntry> = app
        .sim
        .log()
        .into_iter()
        .filter(|e| e.email.as_deref() == Some(ada.as_str()))
        .collect();
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|e| e.job_id.as_deref() == Some(newest)),
        "only the newest job wrote to Splashtop: {writes:?}"
    );
    worker.stop().await;
    app.shutdown().await;
}

/// A window held past its limit goes back to the queue and the partition is consumed
/// again: every job is still applied once, in the order published, nothing dead-lettered.
/// On RabbitMQ 3.x each return counts towards the queue's delivery limit (here 2): the
/// partition catches up one job at a time after a hand-back, so no job waiting at the back
/// of a window is returned past the limit and dead-lettered by the broker unattempted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_held_too_long_is_handed_back_in_order() {
    // Each job takes two requests of 300 ms: longer than the window may hold the next.
    // Without catching up, the window would go back after every job, and the sixth job
    // would be returned five times.
    let sim = SimConfig {
        faults: Faults {
            latency_ms: 300,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let mut cluster = Cluster::with_delivery_limit(sim, 1, 2).await;
    let emails: Vec<String> = (0..6).map(|i| format!("held{i}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        let job = account_job(&format!("held{i}"), email, 1, UserSpec::active("Held"));
        cluster.publish(&job).await;
    }
    let w = cluster
        .start_worker(WorkerOptions {
            window_hold: Some(Duration::from_millis(200)),
            ..options(true)
        })
        .await;
    let base = cluster.worker_url(w).expect("the worker listens");
    sim_reaches(&cluster.sim, WAIT, "every held job applied", |s| {
        emails.iter().all(|e| has_user(s, e))
    })
    .await;
    let written: Vec<String> = cluster
        .sim
        .log()
        .into_iter()
        .filter_map(|e| e.email)
        .collect();
    assert_eq!(written, emails, "each applied once, in the order published");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let handed_back = metric(&metrics, "splashsync_worker_windows_handed_back_total", &[]);
    assert!(handed_back.is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(cluster.dead_letters().await.is_empty());
    cluster.shutdown().await;
}
