//! A supervised component's connection to RabbitMQ: retried with capped backoff until it
//! succeeds or the component is stopped, the component reported not ready (with the
//! broker's answer) meanwhile; then the prefix is claimed for the receiver's tenant.
//!
//! The tenant guard: two deployments of different tenants on one prefix would consume
//! each other's outcome events and apply each other's jobs to the wrong Splashtop team.
//! The receiver claims its prefix once at start-up ([`Link::claim_at_start`]: a mismatch
//! stops it with a message naming both tenants), and again on every connection, so a
//! receiver started while RabbitMQ was down finds out when it first connects: the
//! component then stops for good ([`Fatal`]) and `/readyz` says why, while SCIM keeps
//! answering from the outbox.

use std::time::Duration;

use lapin::Connection;
use splashsync_protocol::topology::{TenantClaimError, Topology};
use splashsync_protocol::Tenant;
use splashsync_runtime::supervisor::{Fatal, Health};
use tokio_util::sync::CancellationToken;

/// Where the relay and the intake connect, and the tenant they claim the prefix for.
#[derive(Debug, Clone)]
pub struct Link {
    url: String,
    topology: Topology,
    tenant: Tenant,
}

/// Why a claim did not succeed.
#[derive(Debug)]
enum Unclaimed {
    /// Another tenant holds the prefix.
    Mismatch(TenantClaimError),
    /// The broker failed, or the holder could not be read back: try again later.
    Broker(anyhow::Error),
}

impl Link {
    /// A link to `url` for `topology`'s prefix, claimed for `tenant`.
    pub fn new(url: String, topology: Topology, tenant: Tenant) -> Self {
        Self {
            url,
            topology,
            tenant,
        }
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Claims the prefix once at start-up: an error naming both tenants when another holds
    /// it; when RabbitMQ cannot be reached, fine (each component claims when it connects).
    pub async fn claim_at_start(&self) -> anyhow::Result<()> {
        let name = "splashsync-receiver-claim";
        // Each node's attempt is bounded by the handshake timeout (a black-holed host
        // never answers).
        let conn = match splashsync_protocol::amqp::connect(&self.url, name).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "RabbitMQ unreachable at start-up; the relay and the intake claim the prefix when they connect");
                return Ok(());
            }
        };
        let claimed = self.claim(&conn).await;
        let _ = conn.close(200, "claimed".into()).await;
        match claimed {
            Ok(()) => Ok(()),
            Err(Unclaimed::Mismatch(e)) => Err(e.into()),
            Err(Unclaimed::Broker(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "the prefix could not be claimed at start-up; the relay and the intake claim it when they connect");
                Ok(())
            }
        }
    }

    /// Connects `component` as `name` and claims the prefix: `Ok(None)` once `stop`
    /// fires first; a [`Fatal`] error when another tenant holds the prefix.
    pub async fn connect(
        &self,
        name: &str,
        component: &'static str,
        health: &Health,
        stop: &CancellationToken,
    ) -> anyhow::Result<Option<Connection>> {
        let Some(conn) = connect(&self.url, name, component, health, stop).await else {
            return Ok(None);
        };
        match self.claim(&conn).await {
            Ok(()) => Ok(Some(conn)),
            Err(e) => {
                let _ = conn.close(200, "tenant claim failed".into()).await;
                match e {
                    Unclaimed::Mismatch(e) => Err(Fatal(e.to_string()).into()),
                    Unclaimed::Broker(e) => Err(e),
                }
            }
        }
    }

    /// Claims the prefix for this receiver's tenant (atomic on the broker: see
    /// `splashsync_protocol::topology::Topology::claim_tenant`).
    async fn claim(&self, conn: &Connection) -> Result<(), Unclaimed> {
        match self.topology.claim_tenant(conn, self.tenant.as_str()).await {
            Ok(()) => Ok(()),
            Err(e @ TenantClaimError::Mismatch { .. }) => Err(Unclaimed::Mismatch(e)),
            Err(TenantClaimError::Broker(e)) => Err(Unclaimed::Broker(e.into())),
        }
    }
}

/// Connects `component` to `url` as `name`; `None` once `stop` fires first.
async fn connect(
    url: &str,
    name: &str,
    component: &'static str,
    health: &Health,
    stop: &CancellationToken,
) -> Option<Connection> {
    let mut delay = Duration::from_millis(100);
    loop {
        let problem = tokio::select! {
            r = splashsync_protocol::amqp::connect(url, name) => match r {
                Ok(conn) => {
                    tracing::info!(
                        task = component,
                        amqp = %splashsync_protocol::amqp::redact_url(url),
                        "{component} connected to RabbitMQ"
                    );
                    health.ready(component);
                    return Some(conn);
                }
                Err(e) => format!("cannot reach RabbitMQ: {e}"),
            },
            () = stop.cancelled() => return None,
        };
        tracing::warn!(
            task = component,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "{problem}"
        );
        health.not_ready(component, problem);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
