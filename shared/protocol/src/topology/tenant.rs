//! One tenant per prefix: the guard that stops two deployments of different tenants from
//! sharing queues (they would consume each other's outcome events and apply each other's
//! jobs to the wrong Splashtop team).
//!
//! The prefix's `<prefix>.tenant` queue is declared with the tenant's name as its
//! `x-dead-letter-routing-key` argument. RabbitMQ compares that argument on every later
//! declaration and refuses a different value with `PRECONDITION_FAILED`, atomically, so the
//! first tenant to declare the queue holds the prefix, a restart of the same tenant passes,
//! and any other tenant is refused with the holder's name (read from the broker's answer).
//! No message is involved: nothing can be out with another reader mid-claim. The queue
//! never holds a message; its dead-letter exchange is named only because RabbitMQ requires
//! one beside a dead-letter routing key.

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use lapin::Connection;

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
        /// The tenant that holds it (as RabbitMQ reported it).
        held_by: String,
        /// The tenant this process serves.
        wanted: String,
    },
    /// The broker failed.
    #[error("claiming the AMQP prefix failed: {0}")]
    Broker(#[from] lapin::Error),
}

impl Topology {
    /// The queue whose arguments name the prefix's tenant.
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
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead_exchange().as_str().into()),
        );
        args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(tenant.into()),
        );
        let declared = channel
            .queue_declare(
                self.tenant_queue().as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                args,
            )
            .await;
        match declared {
            Ok(_) => {
                let _ = channel.close(200, "claimed".into()).await;
                Ok(())
            }
            // The broker closed the channel with its answer; nothing to close here.
            Err(e) => match holder_in(&e.to_string()) {
                Some(held_by) if held_by != tenant => Err(TenantClaimError::Mismatch {
                    prefix: self.prefix.clone(),
                    held_by,
                    wanted: tenant.to_string(),
                }),
                _ => Err(e.into()),
            },
        }
    }
}

/// The holder's name in RabbitMQ's refusal: `… inequivalent arg
/// 'x-dead-letter-routing-key' … received 'apac' but current is 'emea'` (3.x), or
/// `… received the value 'apac' of type 'longstr' but current is the value 'emea' …`.
fn holder_in(refusal: &str) -> Option<String> {
    if !refusal.contains("x-dead-letter-routing-key") {
        return None;
    }
    let rest = &refusal[refusal.find("but current is ")? + 15..];
    let rest = rest.strip_prefix("the value ").unwrap_or(rest);
    let rest = rest.strip_prefix('\'')?;
    Some(rest[..rest.find('\'')?].to_string())
}

#[cfg(test)]
mod tests {
    use super::holder_in;

    #[test]
    fn the_holder_is_read_from_the_refusal() {
        let refusal = "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-routing-key' for queue 'p.tenant' in vhost '/': received the value 'apac' of type 'longstr' but current is the value 'emea' of type 'longstr'";
        assert_eq!(holder_in(refusal).as_deref(), Some("emea"));
        let v310 = "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-routing-key' for queue 't.tenant' in vhost '/': received 'apac' but current is 'emea'";
        assert_eq!(holder_in(v310).as_deref(), Some("emea"));
        assert_eq!(
            holder_in("PRECONDITION_FAILED - inequivalent arg 'x-queue-type'"),
            None
        );
    }
}
