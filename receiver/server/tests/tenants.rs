//! Two tenants of one tenants file in one receiver, on the real broker: the SCIM token
//! decides the tenant, and one tenant's token never reads, lists, filters into or changes
//! the other's users or groups (the same userName in both is two people); each tenant's
//! jobs go to its own queues, carrying its name.

use std::time::Duration;

use clap::Parser;
use futures_util::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use reqwest::StatusCode;
use serde_json::{json, Value};
use splashsync_protocol::job::Job;
use splashsync_protocol::tenants::{self, tenant_prefix, TokenHash};
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;
use splashsync_test_support::{amqp_url, delete_topology, install_crypto, Publisher};
use tokio::sync::oneshot;

const EMEA_TOKEN: &str = "emea-Qm2LrT7vWc8ZpA1sDf4GhJ6kLz9x";
const APAC_TOKEN: &str = "apac-Zq81mN0vB7cX6zL5kJ4hG3fD2sA1";

/// A receiver serving `emea` and `apac`, each with its own SQLite file and prefix.
struct TwoTenants {
    scim_url: String,
    http: reqwest::Client,
    prefix: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TwoTenants {
    async fn start() -> Self {
        install_crypto();
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = format!("t-tenants-{}", uuid::Uuid::new_v4().simple());
        let file = format!(
            "[[tenant]]\nname = \"emea\"\nscim_token_sha256 = \"{}\"\ngroup_policy = \"move\"\n\
             [[tenant]]\nname = \"apac\"\nscim_token_sha256 = \"{}\"\n",
            TokenHash::of(EMEA_TOKEN).to_hex(),
            TokenHash::of(APAC_TOKEN).to_hex()
        );
        let specs = tenants::parse(&file).expect("tenants file");
        let db = format!("sqlite://{}", dir.path().join("splashsync.db").display());
        let amqp = amqp_url();
        let settings = Settings::try_parse_from([
            "splashsync-receiver",
            "--listen=127.0.0.1:0",
            "--partitions=2",
            &format!("--database-url={db}"),
            &format!("--amqp-url={amqp}"),
            &format!("--amqp-prefix={prefix}"),
        ])
        .expect("settings");
        let app = Application::build_tenants(settings, &specs)
            .await
            .expect("receiver builds");
        let scim_url = format!("http://{}/scim/v2", app.addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self {
            scim_url,
            http: reqwest::Client::new(),
            prefix,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    fn topology(&self, tenant: &str) -> Topology {
        let tenant = splashsync_protocol::Tenant::parse(tenant).expect("tenant");
        Topology::new(tenant_prefix(&self.prefix, &tenant), 2)
    }

    async fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.scim_url))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let resp = req.send().await.expect("the receiver answers");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        for tenant in ["emea", "apac"] {
            delete_topology(&self.topology(tenant)).await;
        }
    }
}

fn user(user_name: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": "Same"},
        "active": true
    })
}

fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|u| u["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The tenants of the first `want` jobs on `topology`'s partition queues (consumed: the
/// queues are single-active-consumer quorum queues, which refuse `basic.get`).
async fn job_tenants(topology: &Topology, want: usize) -> Vec<String> {
    let link = Publisher::connect(topology, "t-tenants-reader").await;
    let channel = link.channel().await;
    let mut consumers = Vec::new();
    for queue in topology.partition_queues() {
        let tag = format!("t-tenants-{queue}");
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        consumers.push(consumer);
    }
    let mut deliveries = futures_util::stream::select_all(consumers);
    let mut tenants = Vec::new();
    while tenants.len() < want {
        let next = tokio::time::timeout(Duration::from_secs(30), deliveries.next()).await;
        let delivery = next
            .expect("the tenant's jobs reach its queues")
            .expect("a delivery")
            .expect("no consumer error");
        let job: Job = serde_json::from_slice(&delivery.data).expect("a job");
        tenants.push(job.meta().tenant.to_string());
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    link.close().await;
    tenants
}

#[tokio::test]
async fn one_tenants_token_never_reaches_the_others_users() {
    let app = TwoTenants::start().await;
    let (s, emea_user) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Users",
            Some(user("same@example.com", "Emea")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{emea_user}");
    let (s, apac_user) = app
        .call(
            APAC_TOKEN,
            "POST",
            "/Users",
            Some(user("same@example.com", "Apac")),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the same userName in another tenant is another person: {apac_user}"
    );
    let (emea_id, apac_id) = (
        emea_user["id"].as_str().unwrap(),
        apac_user["id"].as_str().unwrap(),
    );
    assert_ne!(emea_id, apac_id);

    // Reads: its own user by id, never the other's; lists and filters see only its own.
    let (s, own) = app
        .call(EMEA_TOKEN, "GET", &format!("/Users/{emea_id}"), None)
        .await;
    assert_eq!(
        (s, own["name"]["givenName"].as_str()),
        (StatusCode::OK, Some("Emea"))
    );
    let (s, _) = app
        .call(EMEA_TOKEN, "GET", &format!("/Users/{apac_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = app.call(EMEA_TOKEN, "GET", "/Users", None).await;
    assert_eq!(ids(&list), [emea_id]);
    let filter = "/Users?filter=userName%20eq%20%22same@example.com%22";
    let (_, found) = app.call(APAC_TOKEN, "GET", filter, None).await;
    assert_eq!(ids(&found), [apac_id]);
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "name.givenName eq \"Apac\""});
    let (s, found) = app
        .call(EMEA_TOKEN, "POST", "/Users/.search", Some(search))
        .await;
    assert_eq!(
        (s, found["totalResults"].as_u64()),
        (StatusCode::OK, Some(0))
    );

    // Writes to the other tenant's id find nothing, and change nothing there.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let path = format!("/Users/{apac_id}");
    assert_eq!(
        app.call(EMEA_TOKEN, "PATCH", &path, Some(off)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            EMEA_TOKEN,
            "PUT",
            &path,
            Some(user("same@example.com", "Hijack"))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(EMEA_TOKEN, "DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, still) = app.call(APAC_TOKEN, "GET", &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            still["active"].as_bool(),
            still["name"]["givenName"].as_str()
        ),
        (Some(true), Some("Apac"))
    );
    assert_eq!(still["meta"]["version"], apac_user["meta"]["version"]);

    // No token, or a token of no tenant: 401.
    assert_eq!(
        app.call("nobody-Qm2LrT7vWc8ZpA1sDf4GhJ6kLz9", "GET", "/Users", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    // Each tenant's jobs travel on its own queues, under its own name.
    assert_eq!(job_tenants(&app.topology("emea"), 1).await, ["emea"]);
    assert_eq!(job_tenants(&app.topology("apac"), 1).await, ["apac"]);
    app.stop().await;
}

#[tokio::test]
async fn one_tenants_token_never_reaches_the_others_groups() {
    let app = TwoTenants::start().await;
    let (_, emea_user) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Users",
            Some(user("g@example.com", "Emea")),
        )
        .await;
    let (_, apac_user) = app
        .call(
            APAC_TOKEN,
            "POST",
            "/Users",
            Some(user("g@example.com", "Apac")),
        )
        .await;
    let group = |members: Vec<&str>| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales",
               "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()})
    };
    let apac_uid = apac_user["id"].as_str().unwrap();
    let (s, apac_group) = app
        .call(APAC_TOKEN, "POST", "/Groups", Some(group(vec![apac_uid])))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{apac_group}");
    let apac_user_path = format!("/Users/{apac_uid}");
    let before = app.call(APAC_TOKEN, "GET", &apac_user_path, None).await.1;
    // The same group name in another tenant is another group. Naming the other tenant's
    // user id as a member names nobody there (an id unknown to this directory, as any).
    let emea_uid = emea_user["id"].as_str().unwrap();
    let (s, emea_group) = app
        .call(
            EMEA_TOKEN,
            "POST",
            "/Groups",
            Some(group(vec![emea_uid, apac_uid])),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{emea_group}");
    let (emea_gid, apac_gid) = (
        emea_group["id"].as_str().unwrap(),
        apac_group["id"].as_str().unwrap(),
    );

    let filter = "/Groups?filter=displayName%20eq%20%22Sales%22";
    assert_eq!(
        ids(&app.call(EMEA_TOKEN, "GET", filter, None).await.1),
        [emea_gid]
    );
    assert_eq!(
        ids(&app.call(APAC_TOKEN, "GET", filter, None).await.1),
        [apac_gid]
    );
    let path = format!("/Groups/{apac_gid}");
    assert_eq!(
        app.call(EMEA_TOKEN, "GET", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                     "Operations": [{"op": "add", "path": "members", "value": [{"value": emea_uid}]}]});
    assert_eq!(
        app.call(EMEA_TOKEN, "PATCH", &path, Some(add)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(EMEA_TOKEN, "DELETE", &path, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, still) = app.call(APAC_TOKEN, "GET", &path, None).await;
    assert_eq!(s, StatusCode::OK);
    // Neither write of the other tenant touched this tenant's user (a membership change
    // bumps the member's version).
    let after = app.call(APAC_TOKEN, "GET", &apac_user_path, None).await.1;
    assert_eq!(after["meta"]["version"], before["meta"]["version"]);
    let members: Vec<_> = still["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].clone())
        .collect();
    assert_eq!(members, [json!(apac_uid)]);
    app.stop().await;
}
