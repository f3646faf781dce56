//! Points 2, 3 and 7: the listener's limits, bounded metric labels, and every error
//! in its caller's shape.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use reqwest::Method;

use super::harness::{
    admin_error, assert_scim_error, raw, scim_error, start, ADMIN_TOKEN, SCIM_TOKEN, WAIT,
};

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

/// Point 7: every error under `/scim/v2` is an RFC 7644 §3.12 body, whoever produced it
/// (the limits before any route, axum's rejections, the extractor), and every `/admin`
/// error the admin JSON error.
#[tokio::test]
async fn every_error_is_in_its_callers_shape() {
    let app = start(|_| {}).await;
    let long = format!("/Users?filter={}", "a".repeat(20_000));
    scim_error(app.scim(Method::GET, &long).send().await.expect("GET"), 414).await;
    let padded = app
        .scim(Method::GET, "/Users")
        .header("x-padding", "p".repeat(20_000));
    scim_error(padded.send().await.expect("GET"), 431).await;
    let mut many = app.scim(Method::GET, "/Users");
    for i in 0..80 {
        many = many.header(format!("x-h{i}"), "1");
    }
    scim_error(many.send().await.expect("GET"), 431).await;

    let user = r#"{"userName": "ada@example.com"}"#;
    let post = |content_type: &'static str| {
        app.scim(Method::POST, "/Users")
            .header("content-type", content_type)
            .body(user)
            .send()
    };
    scim_error(post("text/plain; note=json").await.expect("POST"), 415).await;
    scim_error(
        post("application/json; charset=latin1")
            .await
            .expect("POST"),
        415,
    )
    .await;
    let r = post("Application/SCIM+JSON; charset=UTF-8")
        .await
        .expect("POST");
    assert_eq!(r.status(), 201, "parameters and case are fine");
    let body = scim_error(post("application/json").await.expect("POST"), 409).await;
    assert_eq!(body["scimType"], "uniqueness");
    let r = app
        .scim(Method::POST, "/Users")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_eq!(scim_error(r, 400).await["scimType"], "invalidSyntax");

    scim_error(
        app.scim(Method::DELETE, "/Users")
            .send()
            .await
            .expect("DELETE"),
        405,
    )
    .await;
    let twice = app
        .scim(Method::GET, "/Users?filter=a&filter=b")
        .send()
        .await;
    let body = scim_error(twice.expect("GET"), 400).await;
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    let body = scim_error(
        app.scim(Method::GET, "/Users?count=1&count=2")
            .send()
            .await
            .expect("GET"),
        400,
    )
    .await;
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    scim_error(
        app.scim(Method::GET, "/Users/%FF")
            .send()
            .await
            .expect("GET"),
        400,
    )
    .await;

    // A body declared over the limit is refused before it is sent.
    let (status, body) = raw(
        &app.base,
        &format!(
            "POST /scim/v2/Users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {SCIM_TOKEN}\r\n\
             content-type: application/scim+json\r\ncontent-length: 2097152\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 413);
    assert_scim_error(&serde_json::from_str(&body).expect("JSON"), 413);

    // The admin API: its own JSON error for a wrong method, an 8 MB body, a long URI.
    admin_error(
        app.admin(Method::POST, "/queues")
            .send()
            .await
            .expect("POST"),
        405,
    )
    .await;
    admin_error(
        app.admin(Method::GET, "/nope").send().await.expect("GET"),
        404,
    )
    .await;
    let long = format!("/dead-letters?reason={}", "a".repeat(20_000));
    admin_error(
        app.admin(Method::GET, &long).send().await.expect("GET"),
        414,
    )
    .await;
    let (status, body) = raw(
        &app.base,
        &format!(
            "POST /admin/dead-letters/replay HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {ADMIN_TOKEN}\r\n\
             content-type: application/json\r\ncontent-length: 8388608\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 413);
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(body["error"]["status"], 413, "{body}");
    app.stop().await;
}
