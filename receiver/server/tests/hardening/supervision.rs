//! Points 1 and 5: the supervised relay and intake, and the tenant guard.

use splashsync_test_support::{amqp_url, eventually, metric, TcpProxy};

use super::harness::{build, problem_of, start, WAIT};

/// Point 1: the relay loses the broker mid-stream; `/readyz` names it while it is down,
/// the supervisor restarts it, and the outbox drains once the broker is back.
#[tokio::test]
async fn a_relay_cut_from_the_broker_is_reported_restarted_and_drains_the_outbox() {
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    let app = start(|s| s.amqp_url = proxy.url_for(&amqp_url())).await;
    eventually(WAIT, "ready", || async { app.readyz().await.0 == 200 }).await;
    assert_eq!(app.create_user("before@example.com").await, 201);
    eventually(WAIT, "the first job published", || async {
        let text = app.metrics().await;
        metric(&text, "splashsync_outbox_published_jobs_total", &[]) == Some(1.0)
    })
    .await;

    assert!(
        proxy.cut().await >= 1,
        "the receiver was connected through the proxy"
    );
    // The receiver keeps answering while the relay is down.
    assert_eq!(app.create_user("during@example.com").await, 201);
    let down = eventually(WAIT, "the relay reported not ready", || async {
        let (status, body) = app.readyz().await;
        (status == 503)
            .then(|| problem_of(&body, "relay"))
            .flatten()
    })
    .await;
    assert!(!down.is_empty());
    eventually(WAIT, "the relay restarted", || async {
        let text = app.metrics().await;
        metric(
            &text,
            "splashsync_task_restarts_total",
            &[("task", "relay")],
        )
        .is_some_and(|n| n >= 1.0)
    })
    .await;

    proxy.restore().await;
    eventually(WAIT, "the outbox drained", || async {
        let text = app.metrics().await;
        metric(&text, "splashsync_outbox_published_jobs_total", &[]) == Some(2.0)
            && metric(&text, "splashsync_outbox_pending_jobs", &[]) == Some(0.0)
    })
    .await;
    eventually(WAIT, "ready again", || async {
        app.readyz().await.0 == 200
    })
    .await;
    let text = app.metrics().await;
    assert_eq!(
        metric(&text, "splashsync_task_up", &[("task", "relay")]),
        Some(1.0)
    );
    app.stop().await;
}

/// Point 5: a prefix belongs to one tenant. A second receiver of another tenant on the
/// same prefix refuses to start, naming both; one that started while RabbitMQ was away
/// finds out when its relay connects, and stops relaying with the reason in `/readyz`.
#[tokio::test]
async fn a_prefix_held_by_another_tenant_stops_the_receiver() {
    let alpha = start(|s| s.tenant = "alpha".into()).await;
    let prefix = alpha.topology.prefix().to_string();

    let (beta, _dir) = build(|s| {
        s.tenant = "beta".into();
        s.amqp_prefix = prefix.clone();
    })
    .await;
    let err = beta
        .expect_err("another tenant's prefix is refused")
        .to_string();
    assert!(
        err.contains("belongs to tenant \"alpha\", not \"beta\""),
        "{err}"
    );

    // Started while the broker is out of reach: it answers SCIM, and its relay refuses
    // the prefix once it can connect.
    let proxy = TcpProxy::to_amqp(&amqp_url()).await;
    proxy.cut().await;
    let late = start(|s| {
        s.tenant = "beta".into();
        s.amqp_prefix = prefix.clone();
        s.amqp_url = proxy.url_for(&amqp_url());
    })
    .await;
    assert_eq!(late.create_user("ada@example.com").await, 201);
    proxy.restore().await;
    let why = eventually(WAIT, "the relay stopped by the tenant guard", || async {
        let (status, body) = late.readyz().await;
        (status == 503)
            .then(|| problem_of(&body, "relay"))
            .flatten()
            .filter(|p| p.contains("belongs to tenant"))
    })
    .await;
    assert!(why.contains("SPLASHSYNC_AMQP_PREFIX"), "{why}");
    let text = late.metrics().await;
    assert_eq!(
        metric(&text, "splashsync_outbox_pending_jobs", &[]),
        Some(1.0),
        "nothing published to the other tenant's queues"
    );
    late.stop().await;
    alpha.stop().await;
}
