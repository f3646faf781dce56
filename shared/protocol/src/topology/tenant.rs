//! One tenant per prefix: the guard that stops two deployments of different tenants from
//! sharing queues (they would consume each other's outcome events and apply each other's
//! jobs to the wrong Splashtop team).
//!
//! The prefix's `<prefix>.tenant` queue holds at most one message, the tenant's name
//! (`x-max-length` 1 with `reject-publish`). A process claims the prefix by publishing its
//! tenant with confirms: the first claim is acked; any later one is nacked (the queue is
//! full), and the process reads the message back (requeueing it) to compare. A different
//! tenant is a configuration error, reported at start-up.

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, BasicRejectOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection};

use super::Topology;

/// Why a prefix could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum TenantClaimError {
    /// Another tenant holds the prefix.
    #[error(
        "the AMQP prefix {prefix:?} belongs to tenant {held_by:?}, not {wanted:?}: give each tenant its own SPLASHSYNC_AMQP_PREFIX"
    )]
    Mismatch {
        /// The prefix.
        prefix: String,
        /// The tenant that holds it.
        held_by: String,
        /// The tenant this process serves.
        wanted: String,
    },
    /// The broker failed.
    #[error("claiming the AMQP prefix failed: {0}")]
    Broker(#[from] lapin::Error),
}

impl Topology {
    /// The queue that names the prefix's tenant.
    pub fn tenant_queue(&self) -> String {
        format!("{}.tenant", self.prefix)
    }

    /// Claims this prefix for `tenant`; succeeds when it is free or already `tenant`'s.
    pub async fn claim_tenant(
        &self,
        conn: &Connection,
        tenant: &str,
    ) -> Result<(), TenantClaimError> {
        let channel = conn.create_channel().await?;
        let mut args = FieldTable::default();
        // One message: the first claim fills the queue, every later publish is refused.
        args.insert("x-max-length".into(), AMQPValue::LongLongInt(1));
        args.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
        let queue = self.tenant_queue();
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                args,
            )
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let confirm = channel
            .basic_publish(
                "".into(),
                queue.as_str().into(),
                BasicPublishOptions::default(),
                tenant.as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        let result = if confirm.is_ack() {
            Ok(())
        } else {
            self.compare_claim(&channel, &queue, tenant).await
        };
        let _ = channel.close(200, "claimed".into()).await;
        result
    }

    async fn compare_claim(
        &self,
        channel: &lapin::Channel,
        queue: &str,
        tenant: &str,
    ) -> Result<(), TenantClaimError> {
        let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await?
        else {
            // Emptied between our publish and this read (an operator purged it): free.
            return Ok(());
        };
        let held_by = String::from_utf8_lossy(&message.delivery.data).into_owned();
        message
            .delivery
            .acker
            .reject(BasicRejectOptions { requeue: true })
            .await?;
        if held_by == tenant {
            Ok(())
        } else {
            Err(TenantClaimError::Mismatch {
                prefix: self.prefix.clone(),
                held_by,
                wanted: tenant.to_string(),
            })
        }
    }
}
