//! Issue 13, the receiver's hardening: one case per point, each over a real socket.
//!
//! 1. supervised tasks: a relay cut off from the broker is reported and restarted;
//! 2. listener limits; 3. bounded metric labels; 4. failed-auth throttling;
//! 5. the tenant guard; 6. the console's headers, CSRF and origin checks;
//! 7. every error in its caller's shape.

#[path = "hardening/harness.rs"]
mod harness;

use splashsync_test_support::{amqp_url, eventually, metric, TcpProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use harness::{
    build, client_from, console_login, problem_of, retry_after, start, ADMIN_TOKEN, SCIM_TOKEN,
    WAIT,
};

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

/// Point 2: the receiver serves under the listener's limits: a client that never finishes
/// its headers is disconnected instead of holding a connection forever.
#[tokio::test]
async fn a_client_trickling_its_headers_is_disconnected() {
    let app = start(|s| s.limits.header_read_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream
        .write_all(b"GET /scim/v2/Users HTTP/1.1\r\nhost: x\r\nx-slow")
        .await
        .expect("partial headers");
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the receiver closes the connection")
        .ok();
    assert!(
        !String::from_utf8_lossy(&rest).contains(" 200 "),
        "never served"
    );
    app.stop().await;
}

/// The series of an OpenMetrics text (sample lines, without their values).
fn series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_string()))
        .collect()
}

/// Point 3: labels come from a fixed set: unknown methods count as `other`, unknown paths
/// as `unmatched`, so a thousand requests with random methods add no series.
#[tokio::test]
async fn random_methods_and_paths_do_not_grow_the_metrics() {
    let app = start(|_| {}).await;
    let paths = ["/Users", "/Users/some-id", "/no/such/endpoint"];
    let random_method = || {
        let m = format!("X{}", uuid::Uuid::new_v4().simple()).to_uppercase();
        reqwest::Method::from_bytes(m.as_bytes()).expect("a method token")
    };
    for path in paths {
        app.scim(random_method(), path)
            .send()
            .await
            .expect("warm-up");
    }
    let before = series(&app.metrics().await);
    for i in 0..1000 {
        let r = app
            .scim(random_method(), paths[i % paths.len()])
            .send()
            .await
            .expect("request");
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let text = app.metrics().await;
    let after = series(&text);
    let grown: Vec<_> = after.difference(&before).take(5).collect();
    assert!(grown.is_empty(), "new series, such as {grown:?}");
    assert!(
        text.contains(r#"endpoint="/scim/v2/Users",method="other",status="405""#),
        "{text}"
    );
    assert!(
        text.contains(r#"endpoint="unmatched",method="other",status="404""#),
        "{text}"
    );
    app.stop().await;
}

/// Point 4: after N failures from one address in a window, that address gets 429 with
/// `Retry-After` in each realm's own error shape, even with the right credentials; other
/// addresses authenticate as before; every failure is counted.
#[tokio::test]
async fn failed_authentications_are_throttled_per_source_address() {
    let app = start(|s| s.limits.auth_failure_limit = 3).await;
    let attacker = client_from([127, 0, 0, 2]);
    let bystander = client_from([127, 0, 0, 3]);

    let users = format!("{}/scim/v2/Users", app.base);
    for _ in 0..3 {
        let r = attacker
            .get(&users)
            .bearer_auth("wrong-token-0000000")
            .send()
            .await;
        assert_eq!(r.expect("GET").status(), 401);
    }
    let r = attacker
        .get(&users)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 429, "throttled, the right token unread");
    assert!(retry_after(&r).is_some_and(|s| s >= 1), "{:?}", r.headers());
    let body: serde_json::Value = r.json().await.expect("a SCIM error body");
    assert_eq!(body["status"], "429");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let r = bystander
        .get(&users)
        .bearer_auth(SCIM_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "another address is not throttled");

    let queues = format!("{}/admin/queues", app.base);
    for _ in 0..3 {
        let r = attacker
            .get(&queues)
            .bearer_auth("wrong-token-0000000")
            .send()
            .await;
        assert_eq!(r.expect("GET").status(), 401);
    }
    let r = attacker
        .get(&queues)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r).is_some());
    let body: serde_json::Value = r.json().await.expect("an admin error body");
    assert_eq!(body["error"]["status"], 429);

    for _ in 0..3 {
        let r = console_login(&attacker, &app.base, "wrong-token-0000000").await;
        assert_eq!(r.status(), 401);
    }
    let r = console_login(&attacker, &app.base, ADMIN_TOKEN).await;
    assert_eq!(r.status(), 429);
    assert!(retry_after(&r).is_some());
    assert!(r
        .text()
        .await
        .unwrap_or_default()
        .contains("too many failed logins"));
    let r = console_login(&bystander, &app.base, ADMIN_TOKEN).await;
    assert!(r.status().is_redirection(), "logged in: {}", r.status());

    let text = app.metrics().await;
    for realm in ["scim", "admin", "console"] {
        let failures = metric(&text, "splashsync_auth_failures_total", &[("realm", realm)]);
        assert_eq!(failures, Some(3.0), "{realm}");
        let throttled = metric(
            &text,
            "splashsync_auth_throttled_total",
            &[("realm", realm)],
        );
        assert_eq!(throttled, Some(1.0), "{realm}");
    }
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
