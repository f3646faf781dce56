//! One incarnation of the `session` task: connect to RabbitMQ (each attempt logged with
//! its reason), claim the AMQP prefix for this worker's tenant, declare the topology, then
//! consume the assigned partitions until stopped or something fails. The supervisor starts the next
//! incarnation after a failure.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use lapin::Connection;
use splashsync_protocol::amqp::redact_url;
use splashsync_protocol::topology::TenantClaimError;
use splashsync_protocol::Tenant;
use tokio_util::sync::CancellationToken;

use crate::handle::Runtime;
use crate::ops::BrokerLink;
use crate::partitions::{self, Assignment, Member};

/// How long claiming the prefix may take before the session fails and starts over.
const CLAIM_TIMEOUT: Duration = Duration::from_secs(30);

/// What every incarnation of the session shares.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) amqp_url: String,
    pub(super) tenant: Tenant,
    pub(super) rt: Arc<Runtime>,
    pub(super) me: Member,
    pub(super) broker: Arc<BrokerLink>,
    pub(super) assignment: Arc<Assignment>,
    /// The whole worker's stop, given when the prefix belongs to another tenant.
    pub(super) root: CancellationToken,
    /// Why the worker cannot run, once it is known.
    pub(super) fatal: Mutex<Option<anyhow::Error>>,
    /// Why the previous incarnation ended, for the next one's log line.
    pub(super) last_failure: Mutex<Option<String>>,
}

impl Session {
    /// Connects, claims, consumes; returns when `stop` fires or something fails.
    pub(super) async fn incarnation(
        self: Arc<Self>,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let reason = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .map_or_else(
                || "starting".to_string(),
                |f| format!("reconnecting after: {f}"),
            );
        tracing::info!(url = %redact_url(&self.amqp_url), %reason, "connecting to RabbitMQ");
        let mut stopped = std::pin::pin!(stop.cancelled());
        let Some(conn) = splashsync_protocol::amqp::connect_with_retry(
            &self.amqp_url,
            &self.me.name,
            &mut stopped,
        )
        .await
        else {
            return Ok(());
        };
        tracing::info!("connected to RabbitMQ");
        let result = self.on(&conn, &stop).await;
        self.broker.disconnected();
        let goodbye = if stop.is_cancelled() {
            "worker shutting down"
        } else {
            "worker reconnecting"
        };
        let _ = conn.close(200, goodbye.into()).await;
        if let Err(e) = &result {
            *self
                .last_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(format!("{e:#}"));
        }
        result
    }

    async fn on(&self, conn: &Connection, stop: &CancellationToken) -> anyhow::Result<()> {
        let topology = &self.rt.topology;
        let claim = tokio::select! {
            claim = tokio::time::timeout(CLAIM_TIMEOUT, topology.claim_tenant(conn, self.tenant.as_str())) => claim,
            () = stop.cancelled() => return Ok(()),
        };
        match claim {
            Ok(Ok(())) => {}
            Ok(Err(mismatch @ TenantClaimError::Mismatch { .. })) => {
                // Restarting cannot help: stop the worker, with the reason as its error.
                *self.fatal.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some(anyhow::Error::new(mismatch));
                self.root.cancel();
                return Ok(());
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => anyhow::bail!(
                "claiming the AMQP prefix took longer than {} s",
                CLAIM_TIMEOUT.as_secs()
            ),
        }
        let setup = conn.create_channel().await?;
        topology.declare(&setup).await?;
        // Closed here rather than dropped: a dropped channel closes itself in the
        // background, racing the connection's own close at shutdown (lapin logs an ERROR).
        setup.close(200, "topology declared".into()).await?;
        // Ready from here on: the topology exists, so jobs published now are routed.
        self.broker.connected(conn.status());
        partitions::session(&self.rt, &self.me, conn, self.assignment.subscribe(), stop).await
    }
}
