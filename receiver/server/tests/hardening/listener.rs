//! Points 2, 3 and 7: the listener's limits, bounded metric labels, and every error
//! in its caller's shape.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::harness::{start, WAIT};

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
