//! Queue depths from RabbitMQ by passive `queue_declare` (its reply carries the message
//! and consumer counts), over one lazily opened connection, for stats and readiness.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use serde::Serialize;
use splashsync_protocol::topology::Topology;
use tokio::sync::Mutex;

/// Longest a probe waits for the broker.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// One queue's depth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct QueueDepth {
    /// The queue name.
    pub queue: String,
    /// The partition, for partition queues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u16>,
    /// Ready messages.
    pub messages: u32,
    /// Consumers attached.
    pub consumers: u32,
}

/// Reads queue depths; reconnects on the next call after a failure.
#[derive(Debug)]
pub struct BrokerProbe {
    url: String,
    topology: Topology,
    link: Mutex<Option<(Connection, Channel)>>,
}

impl BrokerProbe {
    /// A probe of `topology`'s queues at `url`.
    pub fn new(url: String, topology: Topology) -> Self {
        Self {
            url,
            topology,
            link: Mutex::new(None),
        }
    }

    /// The topology probed.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    async fn channel(&self, link: &mut Option<(Connection, Channel)>) -> Result<Channel, String> {
        if let Some((conn, ch)) = link.as_ref() {
            if conn.status().connected() && ch.status().connected() {
                return Ok(ch.clone());
            }
        }
        let conn = splashsync_protocol::amqp::connect(&self.url, "splashsync-receiver-probe")
            .await
            .map_err(|e| format!("cannot reach RabbitMQ: {e}"))?;
        let ch = conn
            .create_channel()
            .await
            .map_err(|e| format!("cannot open a channel: {e}"))?;
        // Declared (idempotently) before the first passive declare: a probe that runs before
        // the relay has declared the topology must not draw a NOT_FOUND channel error, which
        // lapin logs at ERROR on a healthy start.
        self.topology
            .declare(&ch)
            .await
            .map_err(|e| format!("cannot declare the topology: {e}"))?;
        *link = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn depth_of(&self, ch: &Channel, queue: &str) -> Result<(u32, u32), String> {
        let q = ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("{queue}: {e}"))?;
        Ok((q.message_count(), q.consumer_count()))
    }

    /// The partition queues, then the dead-letter and events queues.
    pub async fn depths(&self) -> Result<Vec<QueueDepth>, String> {
        let mut link = self.link.lock().await;
        let result = tokio::time::timeout(PROBE_TIMEOUT, async {
            let ch = self.channel(&mut link).await?;
            let mut out = Vec::new();
            for p in 0..self.topology.partitions() {
                let queue = self.topology.partition_queue(p);
                let (messages, consumers) = self.depth_of(&ch, &queue).await?;
                out.push(QueueDepth {
                    queue,
                    partition: Some(p),
                    messages,
                    consumers,
                });
            }
            for queue in [
                self.topology.dead_letter_queue(),
                self.topology.events_queue(),
            ] {
                let (messages, consumers) = self.depth_of(&ch, &queue).await?;
                out.push(QueueDepth {
                    queue,
                    partition: None,
                    messages,
                    consumers,
                });
            }
            Ok(out)
        })
        .await
        .unwrap_or_else(|_| Err("RabbitMQ did not answer in time".into()));
        if result.is_err() {
            // A failed passive declare closes the channel: start afresh next time.
            if let Some((conn, _)) = link.take() {
                let _ = conn.close(200, "probe reset".into()).await;
            }
        }
        result
    }

    /// Whether the broker answers (the dead-letter queue can be declared passively).
    pub async fn ping(&self) -> Result<(), String> {
        let mut link = self.link.lock().await;
        let queue = self.topology.dead_letter_queue();
        let result = tokio::time::timeout(PROBE_TIMEOUT, async {
            let ch = self.channel(&mut link).await?;
            self.depth_of(&ch, &queue).await.map(|_| ())
        })
        .await
        .unwrap_or_else(|_| Err("RabbitMQ did not answer in time".into()));
        if result.is_err() {
            *link = None;
        }
        result
    }

    /// Closes the connection, if open.
    pub async fn close(&self) {
        if let Some((conn, ch)) = self.link.lock().await.take() {
            let _ = ch.close(200, "receiver shutting down".into()).await;
            let _ = conn.close(200, "receiver shutting down".into()).await;
        }
    }
}
