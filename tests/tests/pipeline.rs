//! The whole pipe: SCIM create → store + outbox → RabbitMQ → worker → Splashtop (simulated),
//! and what happens to it when the receiver loses the broker: the receiver keeps answering,
//! the relay reconnects by itself, and every job arrives. The broker is taken away by a
//! proxy between the receiver and RabbitMQ; the worker keeps its own connection.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use splashsync_protocol::keys::{account_route, Email};
use splashsync_test_support::{
    account_job, amqp_url, email_in_partition, eventually, find_user, has_user, outbox_pending,
    sim_reaches, users_in, Options, ScimUser, TcpProxy, TestApp, UserSpec,
};

const WAIT: Duration = Duration::from_secs(30);

/// A system whose receiver reaches RabbitMQ only through `proxy`.
async fn behind(proxy: &TcpProxy) -> TestApp {
    TestApp::spawn_with(Options {
        receiver_amqp_url: proxy.url_for(&amqp_url()),
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_created_over_scim_ends_up_in_the_splashtop_team() {
    let app = TestApp::spawn().await;
    let response = app
        .create_user(&ScimUser::okta("ada@example.com").json())
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(body.get("password").is_none());

    let state = sim_reaches(&app.sim, WAIT, "ada in the team", |s| {
        has_user(s, "ada@example.com")
    })
    .await;
    let user = find_user(&state, "ada@example.com").unwrap();
    assert_eq!(user["first_name"], "Test");
    assert_eq!(user["last_name"], "User");
    assert_eq!(user["display_name"], "Test User");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_answers_while_the_broker_is_unreachable_and_delivers_once_it_is_back() {
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    proxy.cut().await;
    let app = behind(&proxy).await;
    let response = app
        .create_user(&ScimUser::okta("grace@example.com").json())
        .await;
    assert_eq!(
        response.status(),
        201,
        "the receiver must answer during a broker outage"
    );
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Reads come from the directory, not the broker.
    let read = app
        .scim(reqwest::Method::GET, &format!("/Users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    // The worker consumes grace's partition: a marker published there past the receiver is
    // applied. Had grace's job reached the queue, it would have been applied before it.
    let route = account_route(&Default::default(), &Email::new("grace@example.com"));
    let marker = email_in_partition(&app.topology, app.topology.partition_of(&route), "marker");
    let link = app.publisher().await;
    link.publish(&account_job(
        "marker",
        &marker,
        1,
        UserSpec::active("Marker"),
    ))
    .await;
    let state = sim_reaches(&app.sim, WAIT, "the marker in the team", |s| {
        has_user(s, &marker)
    })
    .await;
    assert!(
        !has_user(&state, "grace@example.com"),
        "job delivered without a broker?"
    );
    assert_eq!(outbox_pending(&app).await, 1, "the job waits in the outbox");
    assert_eq!(proxy.forwarded(), 0, "nothing reached the broker");

    // The broker comes back; the receiver is not restarted: its relay reconnects.
    proxy.restore().await;
    sim_reaches(&app.sim, WAIT, "grace in the team", |s| {
        has_user(s, "grace@example.com")
    })
    .await;
    eventually(WAIT, "an empty outbox", || async {
        outbox_pending(&app).await == 0
    })
    .await;
    link.close().await;
    app.shutdown().await;
}

/// Creates `stream-<n>@example.com` users one after another until `stop`, each answered
/// 201; counts them in `created`.
async fn create_until(app: &TestApp, stop: &AtomicBool, created: &AtomicUsize) {
    while !stop.load(Ordering::SeqCst) {
        let n = created.load(Ordering::SeqCst);
        let email = format!("stream-{n}@example.com");
        let response = app.create_user(&ScimUser::okta(&email).json()).await;
        assert_eq!(
            response.status(),
            201,
            "{email}: the receiver always answers"
        );
        created.fetch_add(1, Ordering::SeqCst);
        // Pacing the load generator, not waiting for anything: the stream must still be
        // flowing when the proxy is cut and restored.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_reconnects_after_losing_the_broker_mid_stream_and_every_job_arrives() {
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    let app = behind(&proxy).await;
    let (stop, created) = (AtomicBool::new(false), AtomicUsize::new(0));
    let outage = async {
        sim_reaches(&app.sim, WAIT, "the stream flowing", |s| users_in(s) >= 5).await;
        let closed = proxy.cut().await;
        assert!(closed >= 1, "the receiver was connected through the proxy");
        let at_cut = created.load(Ordering::SeqCst);
        // The stream goes on without a broker: the jobs pile up in the outbox.
        eventually(WAIT, "ten jobs held back in the outbox", || async {
            created.load(Ordering::SeqCst) >= at_cut + 10 && outbox_pending(&app).await >= 10
        })
        .await;
        let forwarded = proxy.forwarded();
        proxy.restore().await;
        eventually(
            WAIT,
            "the relay catching up while the stream goes on",
            || async { outbox_pending(&app).await == 0 },
        )
        .await;
        assert!(proxy.forwarded() > forwarded, "the relay reconnected");
        stop.store(true, Ordering::SeqCst);
    };
    tokio::join!(create_until(&app, &stop, &created), outage);

    let total = created.load(Ordering::SeqCst);
    let state = sim_reaches(&app.sim, WAIT, "every created user in the team", |s| {
        (0..total).all(|n| has_user(s, &format!("stream-{n}@example.com")))
    })
    .await;
    assert_eq!(users_in(&state), total, "each user once: {state}");
    assert_eq!(outbox_pending(&app).await, 0);
    app.shutdown().await;
}
