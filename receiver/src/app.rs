//! Builds the receiver (store, relay, intake, HTTP server) and runs it until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::broker::BrokerProbe;
use crate::admin::samples::{run_sampler, Samples};
use crate::admin::AdminState;
use crate::auth::BearerToken;
use crate::config::Settings;
use crate::events::Intake;
use crate::metrics::Metrics;
use crate::relay::Relay;
use crate::routes::{router, AppState};
use crate::store::audit::sqlite::SqliteAudit;
use crate::store::audit::AuditStore;
use crate::store::sqlite::SqliteDirectory;
use crate::store::Directory;

/// A receiver bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    relay: Relay,
    intake: Intake,
    sampler: Option<Sampler>,
    broker: Arc<BrokerProbe>,
    addr: SocketAddr,
}

/// What the console's sampler task needs.
#[derive(Debug)]
struct Sampler {
    samples: Arc<Samples>,
    audit: Arc<dyn AuditStore>,
    metrics: Arc<Metrics>,
    every: Duration,
}

impl std::fmt::Debug for dyn AuditStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditStore")
    }
}

/// A background task and the means to stop it.
struct Stoppable {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Stoppable {
    fn spawn<F: Future<Output = ()> + Send + 'static>(
        make: impl FnOnce(oneshot::Receiver<()>) -> F,
    ) -> Self {
        let (stop, stopped) = oneshot::channel();
        Self {
            stop,
            task: tokio::spawn(make(stopped)),
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

impl Application {
    /// Opens the store (running migrations), binds the listener and wires the routes.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let sqlite = SqliteDirectory::open(&settings.database_url).await?;
        let audit: Arc<dyn AuditStore> = Arc::new(SqliteAudit::new(&sqlite));
        let directory: Arc<dyn Directory> = Arc::new(sqlite);
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let tenant = Tenant::parse(&settings.tenant)
            .ok_or_else(|| anyhow::anyhow!("SPLASHSYNC_TENANT must be non-empty, without '/'"))?;
        let state = AppState {
            directory: directory.clone(),
            tenant: tenant.clone(),
            base_url: settings.base_url(addr).into(),
            page_size: settings.page_size,
            max_page_size: settings.max_page_size,
            group_policy: settings.group_policy,
            caller: crate::routes::token_fingerprint(settings.scim_token.expose_secret()).into(),
        };
        let token = BearerToken(Arc::new(SecretString::from(
            settings.scim_token.expose_secret().to_owned(),
        )));
        let topology = Topology::new(settings.amqp_prefix.clone(), settings.partitions);
        let metrics = Arc::new(Metrics::new());
        let broker = Arc::new(BrokerProbe::new(
            settings.amqp_url.clone(),
            topology.clone(),
        ));
        let relay = Relay::new(directory, topology.clone(), settings.amqp_url.clone());
        let intake = Intake::new(
            audit.clone(),
            topology,
            settings.amqp_url.clone(),
            metrics.clone(),
        );
        // The provisioning extension is added to SCIM responses on the way out.
        let annotate = axum::middleware::from_fn_with_state(
            (audit.clone(), tenant.clone()),
            crate::provisioning::annotate,
        );
        let mut app = router(state, token).layer(annotate).merge(ops_router(
            audit.clone(),
            broker.clone(),
            metrics.clone(),
        ));
        let mut sampler = None;
        if let Some(admin_token) = &settings.admin_token {
            let samples = Arc::new(Samples::default());
            let admin = AdminState {
                audit: audit.clone(),
                broker: broker.clone(),
                samples: samples.clone(),
                token: BearerToken(Arc::new(SecretString::from(
                    admin_token.expose_secret().to_owned(),
                ))),
                tenant,
                group_policy: settings.group_policy,
            };
            app = app
                .merge(crate::admin::router(admin.clone()))
                .merge(crate::console::router(admin));
            sampler = Some(Sampler {
                samples,
                audit,
                metrics: metrics.clone(),
                every: Duration::from_secs(settings.sample_interval_secs),
            });
        }
        let app = app.layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ));
        Ok(Self {
            listener,
            router: app,
            relay,
            intake,
            sampler,
            broker,
            addr,
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

    /// Serves until `shutdown` resolves: stops accepting, finishes in-flight requests,
    /// then stops the relay, the intake and the sampler.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let relay = self.relay;
        let relay = Stoppable::spawn(|stopped| {
            relay.run(async move {
                let _ = stopped.await;
            })
        });
        let intake = self.intake;
        let intake = Stoppable::spawn(|stopped| {
            intake.run(async move {
                let _ = stopped.await;
            })
        });
        let sampler = self.sampler.map(|s| {
            let broker = self.broker.clone();
            Stoppable::spawn(move |stopped| {
                run_sampler(s.samples, broker, s.audit, s.metrics, s.every, async move {
                    let _ = stopped.await;
                })
            })
        });
        tracing::info!(addr = %self.addr, "SCIM receiver listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        if let Some(s) = sampler {
            s.stop().await;
        }
        intake.stop().await;
        relay.stop().await;
        self.broker.close().await;
        tracing::info!("receiver stopped");
        Ok(())
    }
}

/// `/metrics` and `/readyz`: open like `/healthz`, for scrapers and orchestrators.
fn ops_router(
    audit: Arc<dyn AuditStore>,
    broker: Arc<BrokerProbe>,
    metrics: Arc<Metrics>,
) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(crate::metrics::serve).with_state((metrics, audit.clone())),
        )
        .route("/readyz", get(readyz).with_state((audit, broker)))
}

/// 200 when the store and the broker both answer, else 503 naming what does not.
async fn readyz(
    State((audit, broker)): State<(Arc<dyn AuditStore>, Arc<BrokerProbe>)>,
) -> Response {
    let store = match audit.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("unreachable: {e}"),
    };
    let broker = match broker.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let ready = store == "ok" && broker == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"ready": ready, "store": store, "broker": broker})),
    )
        .into_response()
}
