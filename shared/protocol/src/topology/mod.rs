//! RabbitMQ topology: every exchange and queue splashsync uses, under one name prefix.
//!
//! Receiver and worker both call [`Topology::declare`] at start-up; declaring is
//! idempotent, and RabbitMQ refuses (PRECONDITION_FAILED) a re-declaration with other
//! arguments, so a mismatched partition count or limit is caught at start, not later.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::partition::partition_of;

mod tenant;

pub use tenant::TenantClaimError;

/// Default number of partition queues.
pub const DEFAULT_PARTITIONS: u16 = 32;
/// Default number of deliveries after which a job that keeps failing to be acked
/// (a worker crashing on it) is dead-lettered instead of redelivered forever.
pub const DEFAULT_DELIVERY_LIMIT: i64 = 20;

/// Names and arguments of every exchange and queue, derived from a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    partitions: u16,
    delivery_limit: i64,
}

impl Topology {
    /// A topology with `partitions` partition queues (at least 1) under `prefix`.
    pub fn new(prefix: impl Into<String>, partitions: u16) -> Self {
        Self {
            prefix: prefix.into(),
            partitions: partitions.max(1),
            delivery_limit: DEFAULT_DELIVERY_LIMIT,
        }
    }

    /// Overrides the quorum queues' delivery limit.
    pub fn with_delivery_limit(mut self, limit: i64) -> Self {
        self.delivery_limit = limit.max(1);
        self
    }

    /// The name prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The number of partitions.
    pub fn partitions(&self) -> u16 {
        self.partitions
    }

    /// The direct exchange jobs are published to.
    pub fn jobs_exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// The fanout exchange dead-lettered jobs go through.
    pub fn dead_exchange(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// The queue holding dead-lettered jobs for operators.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead-letters", self.prefix)
    }

    /// The fanout exchange workers publish outcome events to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    /// The queue the receiver consumes outcome events from.
    pub fn events_queue(&self) -> String {
        format!("{}.events.receiver", self.prefix)
    }

    /// The routing key of partition `p` on the jobs exchange.
    pub fn routing_key(&self, p: u16) -> String {
        format!("p{p:03}")
    }

    /// The queue of partition `p`.
    pub fn partition_queue(&self, p: u16) -> String {
        format!("{}.jobs.p{p:03}", self.prefix)
    }

    /// The partition a job key belongs to.
    pub fn partition_of(&self, key: &str) -> u16 {
        partition_of(key, self.partitions)
    }

    /// Every partition queue name, in partition order.
    pub fn partition_queues(&self) -> Vec<String> {
        (0..self.partitions)
            .map(|p| self.partition_queue(p))
            .collect()
    }

    /// The arguments of a partition queue; each one's reason is beside it.
    fn partition_queue_args(&self) -> FieldTable {
        let mut args = FieldTable::default();
        // Quorum queues are replicated and durable (Raft), and count deliveries, which
        // the delivery limit below needs. Classic mirrored queues are deprecated.
        args.insert("x-queue-type".into(), long_string("quorum"));
        // One active consumer per partition across all workers: jobs of one key are
        // applied one at a time, in commit order (docs/DESIGN.md, invariant 5). Others stand by and
        // take over within seconds when the active one dies.
        args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        // A job that is redelivered this many times (a worker crashing while applying
        // it) is dead-lettered rather than blocking its partition forever.
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(self.delivery_limit),
        );
        // Where such jobs go: the dead-letter exchange, then the dead-letter queue.
        args.insert(
            "x-dead-letter-exchange".into(),
            long_string(&self.dead_exchange()),
        );
        // At-least-once dead-lettering: the broker keeps the message until the dead
        // letter queue has confirmed it, so a poison job is never silently dropped.
        args.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        // At-least-once dead-lettering requires reject-publish overflow: a full queue
        // refuses new publishes (the relay sees a nack and retries) instead of
        // dropping its oldest messages.
        args.insert("x-overflow".into(), long_string("reject-publish"));
        args
    }

    /// Declares every exchange, queue and binding. Idempotent.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.jobs_exchange().as_str().into(),
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let mut dlq_args = FieldTable::default();
        // The dead-letter queue is replicated like the partitions: a dead letter is an
        // operator's to-do item and must survive a broker node loss.
        dlq_args.insert("x-queue-type".into(), long_string("quorum"));
        channel
            .queue_declare(
                self.dead_letter_queue().as_str().into(),
                durable_queue,
                dlq_args,
            )
            .await?;
        channel
            .queue_bind(
                self.dead_letter_queue().as_str().into(),
                self.dead_exchange().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.events_exchange().as_str().into(),
                ExchangeKind::Fanout,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        let mut events_args = FieldTable::default();
        // Outcome events are the operators' audit trail: replicated and durable too.
        events_args.insert("x-queue-type".into(), long_string("quorum"));
        channel
            .queue_declare(
                self.events_queue().as_str().into(),
                durable_queue,
                events_args,
            )
            .await?;
        channel
            .queue_bind(
                self.events_queue().as_str().into(),
                self.events_exchange().as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let args = self.partition_queue_args();
        for p in 0..self.partitions {
            let queue = self.partition_queue(p);
            channel
                .queue_declare(queue.as_str().into(), durable_queue, args.clone())
                .await?;
            channel
                .queue_bind(
                    queue.as_str().into(),
                    self.jobs_exchange().as_str().into(),
                    self.routing_key(p).as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Deletes every queue and exchange of this topology (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> lapin::Result<()> {
        let mut queues = self.partition_queues();
        queues.push(self.dead_letter_queue());
        queues.push(self.events_queue());
        queues.push(self.tenant_queue());
        for queue in queues {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [
            self.jobs_exchange(),
            self.dead_exchange(),
            self.events_exchange(),
        ] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_live_under_the_prefix() {
        let t = Topology::new("t1", 4);
        assert_eq!(t.jobs_exchange(), "t1.jobs");
        assert_eq!(t.partition_queue(3), "t1.jobs.p003");
        assert_eq!(t.routing_key(3), "p003");
        assert_eq!(t.partition_queues().len(), 4);
        assert!(t.partition_of("default/user/x") < 4);
    }

    #[test]
    fn partition_queues_are_quorum_single_active_and_dead_letter_at_least_once() {
        let args = Topology::new("t", 2).partition_queue_args();
        let get = |k: &str| args.inner().get(k).cloned();
        assert_eq!(get("x-queue-type"), Some(long_string("quorum")));
        assert_eq!(
            get("x-single-active-consumer"),
            Some(AMQPValue::Boolean(true))
        );
        assert_eq!(get("x-dead-letter-exchange"), Some(long_string("t.dead")));
        assert_eq!(
            get("x-dead-letter-strategy"),
            Some(long_string("at-least-once"))
        );
        assert_eq!(get("x-overflow"), Some(long_string("reject-publish")));
    }
}
