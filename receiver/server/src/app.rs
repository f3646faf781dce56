//! Builds the receiver (store, relay, intake, HTTP server) and runs it until stopped.
//!
//! The relay, the intake and the console's sampler run supervised: a task that fails or
//! panics is logged, counted and restarted with backoff, and `/readyz` names it while it
//! is down (docs/DESIGN.md, invariant 7).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use splashsync_admin::broker::BrokerProbe;
use splashsync_admin::samples::{run_sampler, Finished, Samples};
use splashsync_admin::AdminState;
use splashsync_directory::audit::AuditStore;
use splashsync_directory::Directory;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;
use splashsync_runtime::supervisor::{supervise, Health, RestartPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::BearerToken;
use crate::config::Settings;
use crate::events::{Intake, IntakeMetrics};
use crate::link::Link;
use crate::metrics::Metrics;
use crate::relay::Relay;
use crate::routes::{router, AppState, Services};

/// A receiver bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    relay: Relay,
    intake: Intake,
    sampler: Option<Sampler>,
    broker: Arc<BrokerProbe>,
    health: Health,
    limits: splashsync_runtime::http::Limits,
    addr: SocketAddr,
    schedule: Option<crate::reconcile::Schedule>,
}

/// What the console's sampler task needs.
#[derive(Clone)]
struct Sampler {
    samples: Arc<Samples>,
    audit: Arc<dyn AuditStore>,
    finished: Arc<dyn Finished>,
    every: Duration,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Opens the store (running migrations), claims the AMQP prefix for the tenant (an
    /// error when another tenant holds it; fine when RabbitMQ is down: the relay and the
    /// intake claim it when they connect), binds the listener and wires the routes.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        // SQLite or PostgreSQL, by the URL's scheme.
        let stores = splashsync_directory::engine::open(&settings.database_url).await?;
        let (directory, audit): (Arc<dyn Directory>, Arc<dyn AuditStore>) =
            (stores.directory, stores.audit);
        let workers = stores.workers;
        let reconcile_store = match stores.reconcile {
            Some(store) => Some(store),
            None if settings.reconcile.enabled() => anyhow::bail!(
                "drift reconciliation needs the SQLite store for now (docs/DESIGN.md, \"PostgreSQL\"): \
                 use a sqlite: SPLASHSYNC_DATABASE_URL, or unset SPLASHTOP_API_URL, \
                 SPLASHTOP_API_TOKEN and SPLASHTOP_TEAM_ID"
            ),
            None => None,
        };
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let tenant = Tenant::parse(&settings.tenant)
            .ok_or_else(|| anyhow::anyhow!("SPLASHSYNC_TENANT must be non-empty, without '/'"))?;
        let scim = AppState {
            directory: directory.clone(),
            tenant: tenant.clone(),
            base_url: settings.base_url(addr).into(),
            page_size: settings.page_size,
            max_page_size: settings.max_page_size,
            filter_scan_limit: settings.filter_scan_limit,
            group_policy: settings.group_policy,
            rename_policy: settings.rename_policy,
            caller: crate::routes::token_fingerprint(settings.scim_token.expose_secret()).into(),
        };
        let topology = Topology::new(settings.amqp_prefix.clone(), settings.partitions);
        let metrics = Arc::new(Metrics::new());
        let health = metrics.health().clone();
        let broker = Arc::new(BrokerProbe::new(
            settings.amqp_url.clone(),
            topology.clone(),
        ));
        let link = Link::new(settings.amqp_url.clone(), topology, tenant.clone());
        link.claim_at_start().await?;
        let relay = Relay::new(directory, link.clone());
        let intake_metrics = IntakeMetrics::register(&metrics);
        let intake = Intake::new(audit.clone(), workers.clone(), link, intake_metrics.clone());
        let reconcile_tenant = tenant.clone();
        let mut sampler = None;
        let admin = settings.admin_token.as_ref().map(|admin_token| {
            let samples = Arc::new(Samples::default());
            sampler = Some(Sampler {
                samples: samples.clone(),
                audit: audit.clone(),
                finished: intake_metrics,
                every: Duration::from_secs(settings.sample_interval_secs),
            });
            AdminState {
                audit: audit.clone(),
                workers,
                broker: broker.clone(),
                samples,
                token: token_of(admin_token),
                tenant,
                group_policy: settings.group_policy,
                public_url: settings.public_url.clone(),
            }
        });
        let auth_guard = Arc::new(settings.limits.auth_guard());
        metrics.register(
            "splashsync_auth_failures",
            "Failed authentications (wrong or missing token or login), by realm: scim, admin, console",
            auth_guard.failures(),
        );
        metrics.register(
            "splashsync_auth_throttled",
            "Authentication attempts refused with 429 because their address failed too often, by realm",
            auth_guard.throttled(),
        );
        let reconciler = match reconcile_store {
            Some(store) => crate::reconcile::from_settings(
                &settings.reconcile,
                store,
                splashsync_directory::WriteCtx {
                    tenant: reconcile_tenant,
                    origin: "reconciliation".into(),
                    policy: settings.group_policy,
                    verify: false,
                },
                &metrics,
            )?,
            None => None,
        };
        let mut app = router(Services {
            scim,
            scim_token: token_of(&settings.scim_token),
            audit,
            broker: broker.clone(),
            metrics,
            admin,
            auth_guard,
        });
        if let Some(reconciler) = &reconciler {
            let control: splashsync_admin::reconcile::Control = Arc::new(reconciler.clone());
            app = app.layer(axum::Extension(control));
        }
        let every = settings.reconcile.interval;
        let schedule = reconciler
            .filter(|_| !every.is_zero())
            .map(|reconciler| crate::reconcile::Schedule { reconciler, every });
        Ok(Self {
            listener,
            router: app,
            relay,
            intake,
            sampler,
            broker,
            health,
            limits: settings.limits.listener(),
            addr,
            schedule,
        })
    }

    /// The bound address (port 0 in settings picks a free port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until `shutdown` resolves, under the listener's limits (header and body
    /// read timeouts, idle keep-alive, connection cap): stops accepting, finishes in-flight
    /// requests, then stops the relay, the intake and the sampler.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let tasks = self.spawn_tasks(&stop);
        tracing::info!(addr = %self.addr, "SCIM receiver listening");
        let served =
            splashsync_runtime::http::serve(self.listener, self.router, self.limits, shutdown)
                .await;
        stop.cancel();
        for task in tasks {
            let _ = task.await;
        }
        self.broker.close().await;
        served?;
        tracing::info!("receiver stopped");
        Ok(())
    }

    /// Starts the relay, the intake and the sampler, each under its supervisor.
    fn spawn_tasks(&self, stop: &CancellationToken) -> Vec<JoinHandle<()>> {
        let policy = RestartPolicy::default();
        let health = &self.health;
        let mut tasks = Vec::new();
        let (relay, on) = (self.relay.clone(), health.clone());
        tasks.push(tokio::spawn(supervise(
            crate::relay::COMPONENT,
            health.clone(),
            policy,
            stop.clone(),
            move |stop| relay.clone().run(on.clone(), stop),
        )));
        let (intake, on) = (self.intake.clone(), health.clone());
        tasks.push(tokio::spawn(supervise(
            crate::events::COMPONENT,
            health.clone(),
            policy,
            stop.clone(),
            move |stop| intake.clone().run(on.clone(), stop),
        )));
        if let Some(schedule) = self.schedule.clone() {
            tasks.push(tokio::spawn(schedule.run(stop.clone())));
        }
        if let Some(sampler) = self.sampler.clone() {
            let broker = self.broker.clone();
            tasks.push(tokio::spawn(supervise(
                "sampler",
                health.clone(),
                policy,
                stop.clone(),
                move |stop: CancellationToken| {
                    let s = sampler.clone();
                    let broker = broker.clone();
                    async move {
                        run_sampler(
                            s.samples,
                            broker,
                            s.audit,
                            s.finished,
                            s.every,
                            stop.cancelled_owned(),
                        )
                        .await;
                        Ok(())
                    }
                },
            )));
        }
        tasks
    }
}

/// A bearer token holding its own copy of the secret.
fn token_of(secret: &SecretString) -> BearerToken {
    BearerToken(Arc::new(SecretString::from(
        secret.expose_secret().to_owned(),
    )))
}
