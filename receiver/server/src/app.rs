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
use splashsync_protocol::tenants::TenantSpec;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;
use splashsync_runtime::supervisor::{supervise, Health, RestartPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::{BearerToken, ScimDoor};
use crate::config::Settings;
use crate::events::{Intake, IntakeMetrics};
use crate::metrics::Metrics;
use crate::relay::Relay;
use crate::routes::{router, Services};
use crate::tenancy::TenantPlan;

/// A receiver bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    tenants: Vec<TenantTasks>,
    sampler: Option<Sampler>,
    broker: Arc<BrokerProbe>,
    health: Health,
    limits: splashsync_runtime::http::Limits,
    addr: SocketAddr,
    schedule: Option<crate::reconcile::Schedule>,
}

/// One tenant's relay and intake, and the names they run under.
#[derive(Debug)]
struct TenantTasks {
    relay: Relay,
    intake: Intake,
    relay_name: &'static str,
    intake_name: &'static str,
}

impl TenantTasks {
    /// `relay` and `intake` alone, `relay:<tenant>` and `intake:<tenant>` among several.
    fn named(relay: Relay, intake: Intake, several: bool, tenant: &Tenant) -> Self {
        // The supervisor names components with `&'static str`; a receiver names each
        // tenant's once at start-up, so the leak is bounded by the tenants file.
        let name = |component: &'static str| -> &'static str {
            if several {
                Box::leak(format!("{component}:{tenant}").into_boxed_str())
            } else {
                component
            }
        };
        Self {
            relay_name: name(crate::relay::COMPONENT),
            intake_name: name(crate::events::COMPONENT),
            relay,
            intake,
        }
    }
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
        let plan = crate::tenancy::single(&settings, token_of(&settings.scim_token))?;
        Self::build_for(settings, vec![plan]).await
    }

    /// The same for the tenants of a tenants file: a directory, a prefix, a relay and an
    /// intake per tenant, each tenant's SCIM requests recognised by its token's hash.
    pub async fn build_tenants(settings: Settings, specs: &[TenantSpec]) -> anyhow::Result<Self> {
        settings
            .validate_with_tenants_file()
            .map_err(anyhow::Error::msg)?;
        let plans = crate::tenancy::from_file(&settings, specs)?;
        Self::build_for(settings, plans).await
    }

    async fn build_for(settings: Settings, plans: Vec<TenantPlan>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let metrics = Arc::new(Metrics::new());
        let health = metrics.health().clone();
        let intake_metrics = IntakeMetrics::register(&metrics);
        let shared = crate::tenancy::Shared {
            settings: &settings,
            base_url: settings.base_url(addr).into(),
            intake_metrics: intake_metrics.clone(),
        };
        let several = plans.len() > 1;
        let mut opened = Vec::with_capacity(plans.len());
        for plan in plans {
            opened.push(crate::tenancy::open(plan, &shared).await?);
        }
        let first = opened
            .first()
            .ok_or_else(|| anyhow::anyhow!("no tenant to serve"))?;
        let (audit, tenant) = (first.audit.clone(), first.door.1.tenant.clone());
        let workers = first.workers.clone();
        let reconcile_store = match first.reconcile.clone() {
            Some(store) => Some(store),
            None if settings.reconcile.enabled() => anyhow::bail!(
                "drift reconciliation needs the SQLite store for now (docs/DESIGN.md, \"PostgreSQL\"): \
                 use a sqlite: SPLASHSYNC_DATABASE_URL, or unset SPLASHTOP_API_URL, \
                 SPLASHTOP_API_TOKEN and SPLASHTOP_TEAM_ID"
            ),
            None => None,
        };
        let topology = Topology::new(settings.amqp_prefix.clone(), settings.partitions);
        let broker = Arc::new(BrokerProbe::new(
            settings.amqp_url.clone(),
            topology.clone(),
        ));
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
                workers: workers.clone(),
                broker: broker.clone(),
                samples,
                token: token_of(admin_token),
                tenant: tenant.clone(),
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
                    tenant,
                    origin: "reconciliation".into(),
                    policy: settings.group_policy,
                    verify: false,
                },
                &metrics,
            )?,
            None => None,
        };
        let mut doors = Vec::with_capacity(opened.len());
        let mut links = Vec::with_capacity(opened.len());
        for tenant in opened {
            links.push(TenantTasks::named(
                tenant.relay,
                tenant.intake,
                several,
                &tenant.door.1.tenant,
            ));
            doors.push(tenant.door);
        }
        let mut app = router(Services {
            scim: ScimDoor::new(doors),
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
            tenants: links,
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
        for tenant in &self.tenants {
            let (relay, on) = (tenant.relay.clone(), health.clone());
            tasks.push(tokio::spawn(supervise(
                tenant.relay_name,
                health.clone(),
                policy,
                stop.clone(),
                move |stop| relay.clone().run(on.clone(), stop),
            )));
            let (intake, on) = (tenant.intake.clone(), health.clone());
            tasks.push(tokio::spawn(supervise(
                tenant.intake_name,
                health.clone(),
                policy,
                stop.clone(),
                move |stop| intake.clone().run(on.clone(), stop),
            )));
        }
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
