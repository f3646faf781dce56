//! The admin API's errors are its JSON error whatever produced them: a wrong method, a
//! body over its limit whether or not it declared its length. Driven without sockets.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use secrecy::SecretString;
use splashsync_admin::broker::BrokerProbe;
use splashsync_admin::samples::Samples;
use splashsync_admin::token::BearerToken;
use splashsync_admin::AdminState;
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::sqlite::SqliteDirectory;
use splashsync_protocol::topology::Topology;
use tower::ServiceExt;

const TOKEN: &str = "admin-errors-token-0123";

async fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let directory = SqliteDirectory::open(&url).await.unwrap();
    let state = AdminState {
        audit: Arc::new(SqliteAudit::new(&directory)),
        workers: Arc::new(splashsync_directory::workers::sqlite::SqliteWorkers::new(
            &directory,
        )),
        broker: Arc::new(BrokerProbe::new(
            "amqp://127.0.0.1:1/%2f".into(),
            Topology::new("t-admin-unused", 1),
        )),
        samples: Arc::new(Samples::default()),
        token: BearerToken(Arc::new(SecretString::from(TOKEN))),
        tenant: Default::default(),
        group_policy: Default::default(),
        public_url: None,
    };
    (splashsync_admin::router(state), dir)
}

async fn call(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: Body,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap();
    let response = router.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let (router, _dir) = router().await;
    let (status, body) = call(&router, "POST", "/admin/queues", Body::empty()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["status"], 405, "{body}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413_not_a_400() {
    let (router, _dir) = router().await;
    let big = vec![b' '; splashsync_admin::MAX_BODY_BYTES + 1];
    let (status, body) = call(
        &router,
        "POST",
        "/admin/dead-letters/replay",
        Body::from(big),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["status"], 413, "{body}");
    // Without a declared length (streamed), the same.
    let chunks = futures_util::stream::iter(
        (0..3).map(|_| Ok::<_, std::io::Error>(vec![b' '; splashsync_admin::MAX_BODY_BYTES / 2])),
    );
    let (status, body) = call(
        &router,
        "POST",
        "/admin/dead-letters/1/discard",
        Body::from_stream(chunks),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["error"]["status"], 413, "{body}");
}
