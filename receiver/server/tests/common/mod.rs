//! A router over a real SQLite directory, driven without sockets.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use secrecy::SecretString;
use serde_json::Value;
use splashsync_admin::broker::BrokerProbe;
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::model::RenamePolicy;
use splashsync_directory::sqlite::SqliteDirectory;
use splashsync_directory::{Directory, GroupPolicy};
use splashsync_protocol::topology::Topology;
use splashsync_receiver::auth::{BearerToken, ScimDoor};
use splashsync_receiver::metrics::Metrics;
use splashsync_receiver::routes::{router, AppState, Services};
use tower::ServiceExt;

pub const TOKEN: &str = "router-test-token-0123";

pub struct Api {
    pub router: axum::Router,
    pub directory: Arc<SqliteDirectory>,
    _dir: tempfile::TempDir,
}

pub async fn api() -> Api {
    api_with(GroupPolicy::Reject).await
}

/// The receiver's router (the binary's, every layer included) over a fresh directory
/// whose tenant has `policy`. The broker probe never connects unless `/readyz` is asked.
pub async fn api_with(policy: GroupPolicy) -> Api {
    api_with_policies(policy, RenamePolicy::Reject).await
}

/// As [`api_with`], with the rename policy `rename` too.
pub async fn api_with_policies(policy: GroupPolicy, rename: RenamePolicy) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let directory = Arc::new(SqliteDirectory::open(&url).await.unwrap());
    let state = AppState {
        directory: directory.clone(),
        tenant: splashsync_protocol::Tenant::default(),
        base_url: "http://scim.test/scim/v2".into(),
        page_size: 100,
        max_page_size: 1000,
        filter_scan_limit: 10_000,
        group_policy: policy,
        rename_policy: rename,
        caller: splashsync_receiver::routes::token_fingerprint(TOKEN).into(),
    };
    let services = Services {
        scim: ScimDoor::single(state, BearerToken(Arc::new(SecretString::from(TOKEN)))),
        audit: Arc::new(SqliteAudit::new(&directory)),
        broker: Arc::new(BrokerProbe::new(
            "amqp://127.0.0.1:1/%2f".into(),
            Topology::new("t-router-unused", 1),
        )),
        metrics: Arc::new(Metrics::new()),
        admin: None,
        auth_guard: Arc::new(splashsync_admin::guard::AuthGuard::new(
            10,
            std::time::Duration::from_secs(60),
        )),
    };
    Api {
        router: router(services),
        directory,
        _dir: dir,
    }
}

impl Api {
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<Body>,
        token: Option<&str>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.unwrap_or_else(Body::empty)).unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, ct, value)
    }

    pub async fn post(&self, uri: &str, body: &Value) -> (StatusCode, Option<String>, Value) {
        self.call("POST", uri, Some(Body::from(body.to_string())), Some(TOKEN))
            .await
    }

    pub async fn get(&self, uri: &str) -> (StatusCode, Option<String>, Value) {
        self.call("GET", uri, None, Some(TOKEN)).await
    }
}

pub fn assert_scim_error(
    status: StatusCode,
    ct: &Option<String>,
    body: &Value,
    want: StatusCode,
    scim_type: Option<&str>,
) {
    assert_eq!(status, want, "body: {body}");
    assert_eq!(ct.as_deref(), Some("application/scim+json"));
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], want.as_u16().to_string());
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], t),
        None => assert!(body.get("scimType").is_none()),
    }
}

impl Api {
    /// A request with a JSON body and the right token.
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        body: &Value,
    ) -> (StatusCode, Option<String>, Value) {
        self.call(method, uri, Some(Body::from(body.to_string())), Some(TOKEN))
            .await
    }

    /// Every job in the outbox, oldest first, parsed.
    pub async fn jobs(&self) -> Vec<Value> {
        self.directory
            .pending_jobs(100_000)
            .await
            .unwrap()
            .iter()
            .map(|j| serde_json::from_str(&j.payload).unwrap())
            .collect()
    }

    /// Jobs written after the first `skip`.
    pub async fn jobs_after(&self, skip: usize) -> Vec<Value> {
        self.jobs().await.into_iter().skip(skip).collect()
    }
}
