//! Several tenants in one deployment, in-process: a simulator per tenant (its Splashtop
//! team), one receiver and (optionally) one worker process serving all of them from one
//! tenants file, each tenant under `<prefix>.<tenant>` (docs/DESIGN.md, "Tenants"). Every
//! tenant's queues are deleted afterwards.

use std::time::Duration;

use clap::Parser;
use reqwest::StatusCode;
use serde_json::Value;
use splashsync_protocol::tenants::{self, tenant_prefix, TokenHash};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;
use splashsync_receiver::app::Application;
use splashtop_sim::{SimConfig, SimHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::broker::delete_topology;
use crate::env::{amqp_url, install_crypto, redis_url};

/// One tenant of the test: its name, SCIM token, simulated team and extra file lines.
#[derive(Debug, Clone)]
pub struct TenantSetup {
    /// Its name in the tenants file.
    pub name: &'static str,
    /// Its SCIM bearer token (the file holds its hash).
    pub token: &'static str,
    /// Its simulated Splashtop team.
    pub sim: SimConfig,
    /// More `key = value` lines of its `[[tenant]]` table.
    pub extra: String,
}

/// A task and the sender that stops it.
#[derive(Debug)]
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn spawn<F>(run: impl FnOnce(oneshot::Receiver<()>) -> F) -> Self
    where
        F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        Self {
            stop,
            task: tokio::spawn(run(stopped)),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(60), self.task).await;
    }
}

/// A deployment serving several tenants.
#[derive(Debug)]
pub struct TenantsStack {
    /// `http://127.0.0.1:<port>/scim/v2`.
    pub scim_url: String,
    /// An HTTP client.
    pub http: reqwest::Client,
    prefix: String,
    setups: Vec<TenantSetup>,
    sims: Vec<SimHandle>,
    receiver: Option<Running>,
    workers: Option<Running>,
    _dir: tempfile::TempDir,
}

impl TenantsStack {
    /// Starts the simulators, the receiver and, when `workers`, a worker per tenant.
    pub async fn start(setups: Vec<TenantSetup>, workers: bool) -> Self {
        install_crypto();
        let dir = tempfile::tempdir().expect("tempdir");
        let prefix = format!("t-tenants-{}", uuid::Uuid::new_v4().simple());
        let mut sims = Vec::new();
        for setup in &setups {
            sims.push(
                splashtop_sim::spawn(setup.sim.clone())
                    .await
                    .expect("simulator"),
            );
        }
        let specs = tenants::parse(&tenants_file(&setups, &sims)).expect("tenants file");
        let db = format!("sqlite://{}", dir.path().join("splashsync.db").display());
        let (amqp, prefix_arg) = (amqp_url(), format!("--amqp-prefix={prefix}"));
        let settings = splashsync_receiver::config::Settings::try_parse_from([
            "splashsync-receiver",
            "--listen=127.0.0.1:0",
            "--partitions=2",
            &format!("--database-url={db}"),
            &format!("--amqp-url={amqp}"),
            &prefix_arg,
        ])
        .expect("receiver settings");
        let app = Application::build_tenants(settings, &specs)
            .await
            .expect("receiver builds");
        let scim_url = format!("http://{}/scim/v2", app.addr());
        let receiver = Running::spawn(|stopped| {
            app.run_until_stopped(async move {
                let _ = stopped.await;
            })
        });
        let workers = workers.then(|| {
            let base = splashsync_worker::config::Settings::try_parse_from([
                "splashsync-worker",
                "--listen=127.0.0.1:0",
                "--partitions=2",
                "--retry-budget-secs=120",
                &format!("--amqp-url={amqp}"),
                &format!("--redis-url={}", redis_url()),
                &prefix_arg,
            ])
            .expect("worker settings");
            let all = splashsync_worker::tenants::settings_per_tenant(&base, &specs)
                .expect("worker settings per tenant");
            Running::spawn(|stopped| async move {
                splashsync_worker::tenants::run_all(&all, async move {
                    let _ = stopped.await;
                })
                .await
            })
        });
        Self {
            scim_url,
            http: reqwest::Client::new(),
            prefix,
            setups,
            sims,
            receiver: Some(receiver),
            workers,
            _dir: dir,
        }
    }

    /// The simulated team of `tenant`.
    pub fn sim(&self, tenant: &str) -> &SimHandle {
        let at = self.setups.iter().position(|s| s.name == tenant);
        &self.sims[at.expect("a tenant of this test")]
    }

    /// `tenant`'s topology (`<prefix>.<tenant>`).
    pub fn topology(&self, tenant: &str) -> Topology {
        let tenant = Tenant::parse(tenant).expect("tenant");
        Topology::new(tenant_prefix(&self.prefix, &tenant), 2)
    }

    /// One SCIM call with `token`: its status and JSON body (`Null` when none).
    pub async fn call(
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

    /// Stops the workers and the receiver, and deletes every tenant's queues.
    pub async fn stop(mut self) {
        if let Some(workers) = self.workers.take() {
            workers.stop().await;
        }
        if let Some(receiver) = self.receiver.take() {
            receiver.stop().await;
        }
        for setup in &self.setups {
            delete_topology(&self.topology(setup.name)).await;
        }
    }
}

/// The tenants file of `setups`, each tenant's Splashtop account its simulator.
fn tenants_file(setups: &[TenantSetup], sims: &[SimHandle]) -> String {
    setups
        .iter()
        .zip(sims)
        .map(|(setup, sim)| {
            format!(
                "[[tenant]]\nname = \"{}\"\nscim_token_sha256 = \"{}\"\n\
                 splashtop_api_url = \"{}\"\nsplashtop_api_token = \"{}\"\n\
                 splashtop_team_id = \"{}\"\n{}\n",
                setup.name,
                TokenHash::of(setup.token).to_hex(),
                sim.base_url(),
                sim.token(),
                sim.team_id(),
                setup.extra
            )
        })
        .collect()
}
