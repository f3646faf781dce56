//! The test's own link to RabbitMQ: publish jobs as the relay does, drain and count the
//! dead-letter queue, and delete a test's queues and exchanges when it is done.

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection};
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;

use crate::env::amqp_url;

/// A connection with publisher confirms on one test's topology (declared on connect).
#[derive(Debug)]
pub struct Publisher {
    topology: Topology,
    conn: Connection,
    channel: Channel,
}

impl Publisher {
    /// Connects to the test broker as `name` and declares `topology`.
    pub async fn connect(topology: &Topology, name: &str) -> Self {
        let conn = splashsync_protocol::amqp::connect(&amqp_url(), name)
            .await
            .expect("the test broker is reachable");
        let channel = conn.create_channel().await.expect("channel");
        topology.declare(&channel).await.expect("topology");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        Self {
            topology: topology.clone(),
            conn,
            channel,
        }
    }

    /// The topology published to.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A fresh channel on the connection (close it when done).
    pub async fn channel(&self) -> Channel {
        self.conn.create_channel().await.expect("channel")
    }

    /// Publishes `body` persistent and `mandatory` to `exchange`; panics unless the broker
    /// confirms it.
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        props: BasicProperties,
    ) {
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                props.with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(
            confirm.is_ack() && confirm.take_message().is_none(),
            "the broker refused or returned the message"
        );
    }

    /// Publishes `job` to its partition, as the receiver's relay does.
    pub async fn publish(&self, job: &Job) {
        let p = self.topology.partition_of(&job.route());
        let body = serde_json::to_vec(job).expect("job serialises");
        self.publish_raw(
            &self.topology.jobs_exchange(),
            &self.topology.routing_key(p),
            &body,
            BasicProperties::default()
                .with_message_id(job.meta().job_id.as_str().into())
                .with_content_type("application/json".into()),
        )
        .await;
    }

    /// Takes every message out of the dead-letter queue: (headers, body) pairs.
    pub async fn drain_dead_letters(&self) -> Vec<(FieldTable, Vec<u8>)> {
        self.drain(&self.topology.dead_letter_queue()).await
    }

    /// Takes every job out of the partition queues: each partition's in queue order, the
    /// partitions one after another. Consumes (single-active-consumer quorum queues refuse
    /// `basic.get`) as many jobs as each queue holds when it is reached: call it once
    /// nothing publishes any more.
    pub async fn drain_jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for p in 0..self.topology.partitions() {
            let queue = self.topology.partition_queue(p);
            let channel = self.channel().await;
            let waiting = channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("the partition queue exists")
                .message_count();
            let mut consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "splashsync-test-drain".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .expect("consume");
            for _ in 0..waiting {
                let delivery = consumer
                    .next()
                    .await
                    .expect("a delivery")
                    .expect("a delivery");
                delivery.ack(BasicAckOptions::default()).await.expect("ack");
                jobs.push(serde_json::from_slice(&delivery.data).expect("a job"));
            }
            let _ = channel.close(200, "drained".into()).await;
        }
        jobs
    }

    /// Takes every message out of `queue`: (headers, body) pairs, in queue order.
    async fn drain(&self, queue: &str) -> Vec<(FieldTable, Vec<u8>)> {
        let channel = self.channel().await;
        let mut out = Vec::new();
        while let Some(msg) = channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await
            .expect("basic_get")
        {
            let headers = msg.properties.headers().clone().unwrap_or_default();
            msg.ack(BasicAckOptions::default()).await.expect("ack");
            out.push((headers, msg.data.clone()));
        }
        let _ = channel.close(200, "done".into()).await;
        out
    }

    /// How many messages wait in the dead-letter queue (none is taken).
    pub async fn dead_letter_count(&self) -> u32 {
        let channel = self.channel().await;
        let queue = channel
            .queue_declare(
                self.topology.dead_letter_queue().as_str().into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("the dead-letter queue exists");
        let _ = channel.close(200, "done".into()).await;
        queue.message_count()
    }

    /// Closes the connection.
    pub async fn close(&self) {
        let _ = self.conn.close(200, "done".into()).await;
    }
}

/// Deletes every queue and exchange of `topology` (the broker wedges under leftover quorum
/// queues, so every test cleans up, even after a panic).
pub async fn delete_topology(topology: &Topology) {
    let Ok(conn) = splashsync_protocol::amqp::connect(&amqp_url(), "splashsync-test-cleanup").await
    else {
        return;
    };
    // A failed delete closes its channel and stops the rest (e.g. the tenant queue still
    // held by a connection of a process that is closing): try again on a fresh channel,
    // since deleting what is already gone succeeds; leftovers pile up on the broker.
    let delete = || async {
        let channel = conn.create_channel().await?;
        topology.delete(&channel).await
    };
    let every = backon::ConstantBuilder::default()
        .with_delay(std::time::Duration::from_millis(250))
        .with_max_times(19);
    if let Err(e) = backon::Retryable::retry(delete, every).await {
        eprintln!("cleanup of {} failed: {e}", topology.prefix());
    }
    let _ = conn.close(200, "done".into()).await;
}
