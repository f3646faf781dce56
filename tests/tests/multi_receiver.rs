//! Several receivers on one PostgreSQL database (issue 12): any of them takes any SCIM
//! call; userName uniqueness, If-Match and the one-group policy hold across them; and the
//! one relay holding the outbox lease publishes every receiver's jobs, handing the lease
//! over when its receiver dies, with nothing committed lost or reordered.
//!
//! Each receiver runs in a Tokio runtime of its own: shutting that runtime down drops
//! its tasks and closes its sockets at once, as `kill -9` of a receiver process would
//! (no graceful close, no last publish).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{JobKey, Tenant};
use splashsync_receiver::app::Application;
use splashsync_test_support::{
    amqp_url, delete_topology, eventually, install_crypto, PgDatabase, Publisher, ScimUser,
    SCIM_TOKEN,
};

/// A receiver's settings on `database_url` publishing to `topology`.
fn settings(database_url: &str, topology: &Topology) -> splashsync_receiver::config::Settings {
    splashsync_receiver::config::Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: database_url.to_string(),
        amqp_url: amqp_url(),
        amqp_prefix: topology.prefix().to_string(),
        partitions: topology.partitions(),
        scim_token: SecretString::from(SCIM_TOKEN),
        tenant: "default".into(),
        public_url: None,
        page_size: 100,
        max_page_size: 1000,
        filter_scan_limit: 10_000,
        group_policy: Default::default(),
        rename_policy: Default::default(),
        admin_token: None,
        sample_interval_secs: 1,
        log_format: splashsync_runtime::telemetry::LogFormat::Text,
        limits: Default::default(),
        reconcile: Default::default(),
    }
}

/// One receiver in a runtime of its own.
struct Receiver {
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    scim_url: String,
}

impl Receiver {
    /// Starts a receiver on `database_url` publishing to `topology`.
    async fn start(database_url: &str, topology: &Topology) -> Self {
        let settings = settings(database_url, topology);
        Self::start_with(settings).await
    }

    /// Starts a receiver with `settings`.
    async fn start_with(settings: splashsync_receiver::config::Settings) -> Self {
        // Built on a thread of its own: the runtime may not be started from the test's.
        let (started, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let app = runtime
                .block_on(Application::build(settings))
                .expect("receiver builds");
            let addr = app.addr();
            runtime.spawn(app.run_until_stopped(std::future::pending::<()>()));
            let _ = started.send((runtime, addr));
        });
        let (runtime, addr) = receiver.await.expect("the receiver starts");
        Self {
            runtime: Mutex::new(Some(runtime)),
            scim_url: format!("http://{addr}/scim/v2"),
        }
    }

    /// Drops every task of the receiver at once.
    fn kill(&self) {
        if let Some(rt) = self.runtime.lock().unwrap().take() {
            rt.shutdown_background();
        }
    }

    fn scim(&self, http: &reqwest::Client, method: Method, path: &str) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.scim_url))
            .bearer_auth(SCIM_TOKEN)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three receivers on a fresh database and a fresh topology of `partitions`.
struct Deployment {
    receivers: Vec<Receiver>,
    topology: Topology,
    http: reqwest::Client,
    db: PgDatabase,
}

impl Deployment {
    async fn new(partitions: u16) -> Self {
        install_crypto();
        let db = PgDatabase::create().await;
        let prefix = format!("t-mr-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        Self {
            receivers: Vec::new(),
            topology: Topology::new(prefix, partitions),
            http: reqwest::Client::new(),
            db,
        }
    }

    async fn start(&mut self, n: usize) {
        for _ in 0..n {
            let r = Receiver::start(&self.db.url(), &self.topology).await;
            self.receivers.push(r);
        }
    }

    async fn done(self) {
        for r in &self.receivers {
            r.kill();
        }
        delete_topology(&self.topology).await;
    }
}

async fn status_of(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the receiver answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uniqueness_etags_and_the_group_policy_hold_across_three_receivers() {
    let mut d = Deployment::new(1).await;
    d.start(3).await;
    let (r, http) = (&d.receivers, &d.http);
    // One userName sent to the three at once, ten times over: one 201, two 409 each time.
    for i in 0..10 {
        let body = ScimUser::new(&format!("same{i}@x.com")).json();
        let creates = r.iter().enumerate().map(|(n, rx)| {
            let body = body.clone();
            // Another case on each receiver: userName is case-insensitive.
            let mut body = body;
            if n == 1 {
                body["userName"] = json!(format!("SAME{i}@X.COM"));
            }
            status_of(rx.scim(http, Method::POST, "/Users").json(&body))
        });
        let mut codes: Vec<u16> = join_all(creates)
            .await
            .into_iter()
            .map(|(s, _)| s.as_u16())
            .collect();
        codes.sort_unstable();
        assert_eq!(codes, [201, 409, 409], "round {i}");
    }
    // The same version named in If-Match on two receivers at once: one write wins.
    let (_, user) = status_of(
        r[0].scim(http, Method::POST, "/Users")
            .json(&ScimUser::new("etag@x.com").active(true).json()),
    )
    .await;
    let id = user["id"].as_str().expect("an id").to_string();
    let etag = user["meta"]["version"]
        .as_str()
        .expect("a version")
        .to_string();
    let puts = [(1, "One"), (2, "Two")].map(|(n, given)| {
        let body = ScimUser::new("etag@x.com").name(given, "X").json();
        status_of(
            r[n].scim(http, Method::PUT, &format!("/Users/{id}"))
                .header("If-Match", etag.as_str())
                .json(&body),
        )
    });
    let mut codes: Vec<u16> = join_all(puts)
        .await
        .into_iter()
        .map(|(s, _)| s.as_u16())
        .collect();
    codes.sort_unstable();
    assert_eq!(
        codes,
        [200, 412],
        "one PUT wins, the other sees the new version"
    );
    // One user put in two groups at once on two receivers (policy reject): one 201, one 409.
    let (_, member) = status_of(
        r[2].scim(http, Method::POST, "/Users")
            .json(&ScimUser::new("member@x.com").json()),
    )
    .await;
    let member_id = member["id"].as_str().expect("an id").to_string();
    let groups = [(0, "Sales"), (1, "Support")].map(|(n, name)| {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": [{"value": member_id}],
        });
        status_of(r[n].scim(http, Method::POST, "/Groups").json(&body))
    });
    let mut codes: Vec<u16> = join_all(groups)
        .await
        .into_iter()
        .map(|(s, _)| s.as_u16())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, [201, 409], "the user joins one group only");
    let (_, read) = status_of(r[1].scim(http, Method::GET, &format!("/Users/{member_id}"))).await;
    assert_eq!(read["groups"].as_array().map(Vec::len), Some(1), "{read}");
    d.done().await;
}

/// Every job the broker delivers on `topology`'s partitions, in arrival order per queue.
async fn collect_jobs(topology: &Topology) -> (Publisher, Arc<Mutex<Vec<Job>>>) {
    let link = Publisher::connect(topology, "splashsync-test-collector").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    for p in 0..topology.partitions() {
        let channel = link.channel().await;
        let mut consumer = channel
            .basic_consume(
                topology.partition_queue(p).as_str().into(),
                format!("collector-{p}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let seen = seen.clone();
        tokio::spawn(async move {
            let _channel = channel;
            while let Some(Ok(d)) = consumer.next().await {
                let job: Job = serde_json::from_slice(&d.data).expect("a job");
                seen.lock().unwrap().push(job);
                let _ = d.ack(BasicAckOptions::default()).await;
            }
        });
    }
    (link, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_lease_moves_when_its_holder_dies_and_no_job_is_lost_or_reordered() {
    let mut d = Deployment::new(1).await;
    let (_link, seen) = collect_jobs(&d.topology).await;
    // The first receiver alone: its relay takes the lease and publishes.
    d.start(1).await;
    let (_, first) = status_of(
        d.receivers[0]
            .scim(&d.http, Method::POST, "/Users")
            .json(&ScimUser::new("lease0@x.com").json()),
    )
    .await;
    assert!(first["id"].is_string(), "{first}");
    eventually(Duration::from_secs(20), "the first job published", || {
        let n = seen.lock().unwrap().len();
        async move { n >= 1 }
    })
    .await;
    d.start(2).await;
    // Writes through all three: users created, then changed over and over on any receiver.
    let users = 6;
    let mut ids = Vec::new();
    for u in 0..users {
        let rx = &d.receivers[u % 3];
        let body = ScimUser::new(&format!("order{u}@x.com"))
            .active(true)
            .json();
        let (status, user) = status_of(rx.scim(&d.http, Method::POST, "/Users").json(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().expect("id").to_string());
    }
    let change = |round: usize, alive: &[usize]| {
        let requests = ids.iter().enumerate().map(|(u, id)| {
            let rx = &d.receivers[alive[(u + round) % alive.len()]];
            let body = ScimUser::new(&format!("order{u}@x.com"))
                .name(&format!("Round{round}"), "X")
                .json();
            status_of(
                rx.scim(&d.http, Method::PUT, &format!("/Users/{id}"))
                    .json(&body),
            )
        });
        join_all(requests)
    };
    for round in 0..10 {
        for (status, body) in change(round, &[0, 1, 2]).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    // The lease holder dies right after its last writes were answered (committed).
    d.receivers[0].kill();
    for round in 10..20 {
        for (status, body) in change(round, &[1, 2]).await {
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    }
    // Every job committed, on any receiver, reaches the broker: the lease moved.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&d.db.url())
        .await
        .expect("the database");
    let committed: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT job_id, key, version FROM outbox ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .expect("the outbox");
    assert_eq!(committed.len(), 1 + users + users * 20);
    let wanted: HashSet<&str> = committed.iter().map(|(j, _, _)| j.as_str()).collect();
    eventually(
        Duration::from_secs(30),
        "every committed job published after the lease holder died",
        || {
            let arrived: HashSet<String> = seen
                .lock()
                .unwrap()
                .iter()
                .map(|j| j.meta().job_id.clone())
                .collect();
            let missing = wanted.iter().filter(|j| !arrived.contains(**j)).count();
            async move {
                if missing == 0 {
                    Ok(())
                } else {
                    Err(format!("{missing} jobs not yet published"))
                }
            }
        },
    )
    .await;
    // Per key, the versions arrive in order (a job republished after a crash between
    // publish and mark may come twice: its first arrival is where it counts).
    let arrived = seen.lock().unwrap().clone();
    let mut first_seen = HashSet::new();
    let mut last: HashMap<String, i64> = HashMap::new();
    for job in &arrived {
        let meta = job.meta();
        if !first_seen.insert(meta.job_id.clone()) {
            continue;
        }
        let key = meta.key.to_string();
        if let Some(before) = last.get(&key) {
            assert!(
                meta.version > *before,
                "{key}: version {} arrived after version {before}",
                meta.version
            );
        }
        last.insert(key, meta.version);
    }
    for id in &ids {
        let key = JobKey::user(&Tenant::default(), id).to_string();
        assert_eq!(
            last.get(&key),
            Some(&21),
            "{key}: every version up to the last"
        );
    }
    drop(conn);
    d.done().await;
}

/// Drift reconciliation runs on SQLite only for now: a receiver on PostgreSQL given a
/// Splashtop client for it refuses to start, saying why (no silently idle reconciler).
#[tokio::test]
async fn a_receiver_on_postgresql_refuses_to_reconcile_with_a_clear_error() {
    install_crypto();
    let db = PgDatabase::create().await;
    let topology = Topology::new(format!("t-mr-rc-{}", uuid::Uuid::new_v4().simple()), 2);
    let mut settings = settings(&db.url(), &topology);
    settings.reconcile.api_url = Some("http://127.0.0.1:9/v1".into());
    settings.reconcile.api_token = Some(SecretString::from("splashtop-token"));
    settings.reconcile.team_id = Some("team-1".into());
    let refused = Application::build(settings)
        .await
        .expect_err("reconciliation on PostgreSQL must refuse to start")
        .to_string();
    assert!(
        refused.contains("drift reconciliation needs the SQLite store"),
        "{refused}"
    );
    assert!(
        !refused.contains("splashtop-token"),
        "no secret in the error"
    );
    // The tenant claim comes before the refusal: its queue is this test's to delete.
    delete_topology(&topology).await;
    drop(db);
}
