//! Builds the receiver (store, relay, HTTP server) and runs it until stopped.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use secrecy::SecretString;
use splashsync_shared::topology::Topology;
use tokio::net::TcpListener;

use crate::auth::BearerToken;
use crate::config::Settings;
use crate::relay::Relay;
use crate::routes::{router, AppState};
use crate::store::sqlite::SqliteDirectory;
use crate::store::Directory;

/// A receiver bound to its port, ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    relay: Relay,
    addr: SocketAddr,
}

impl Application {
    /// Opens the store (running migrations), binds the listener and wires the routes.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(anyhow::Error::msg)?;
        let directory: Arc<dyn Directory> =
            Arc::new(SqliteDirectory::open(&settings.database_url).await?);
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let state = AppState {
            directory: directory.clone(),
            tenant: settings.tenant.as_str().into(),
            base_url: settings.base_url(addr).into(),
            page_size: settings.page_size,
            max_page_size: settings.max_page_size,
            group_policy: settings.group_policy,
        };
        let token = BearerToken(Arc::new(SecretString::from(
            secrecy::ExposeSecret::expose_secret(&settings.scim_token).to_owned(),
        )));
        let topology = Topology::new(settings.amqp_prefix.clone(), settings.partitions);
        let relay = Relay::new(directory, topology, settings.amqp_url.clone());
        Ok(Self {
            listener,
            router: router(state, token),
            relay,
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
    /// then stops the relay.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_relay, relay_stopped) = tokio::sync::oneshot::channel::<()>();
        let relay = tokio::spawn(self.relay.run(async move {
            let _ = relay_stopped.await;
        }));
        tracing::info!(addr = %self.addr, "SCIM receiver listening");
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        let _ = stop_relay.send(());
        let _ = relay.await;
        tracing::info!("receiver stopped");
        Ok(())
    }
}
