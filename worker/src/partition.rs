//! One partition queue consumed by a task of its own: its jobs one at a time, in order,
//! each acked only after it was handled; stopped only between jobs.

use std::sync::Arc;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::handle::Runtime;

/// One partition being consumed by a task; dropping it aborts the task.
#[derive(Debug)]
pub(crate) struct PartitionTask {
    /// Set to true to stop between jobs.
    pub(crate) stop: watch::Sender<bool>,
    /// The consuming task; it ends after its in-flight job is acked.
    pub(crate) task: JoinHandle<anyhow::Result<()>>,
}

impl Drop for PartitionTask {
    fn drop(&mut self) {
        // Only reached without a graceful stop (the worker itself was aborted).
        self.task.abort();
    }
}

impl PartitionTask {
    /// Starts consuming `queue` on a channel of its own, as consumer `tag`.
    pub(crate) async fn start(
        rt: &Arc<Runtime>,
        conn: &Connection,
        queue: &str,
        tag: &str,
        dead: &Arc<Channel>,
    ) -> anyhow::Result<Self> {
        let channel = conn.create_channel().await?;
        // One job at a time per partition: order first.
        channel.basic_qos(1, BasicQosOptions::default()).await?;
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(consume(
            rt.clone(),
            channel,
            consumer,
            dead.clone(),
            stop_rx,
        ));
        Ok(Self { stop, task })
    }
}

async fn consume(
    rt: Arc<Runtime>,
    channel: Channel,
    mut consumer: lapin::Consumer,
    dead: Arc<Channel>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    loop {
        let delivery = tokio::select! {
            // Stop only between jobs: the in-flight one finishes and is acked.
            biased;
            _ = stop.wait_for(|s| *s) => None,
            d = consumer.next() => d,
        };
        let Some(delivery) = delivery else {
            // Closing the channel returns a prefetched, unhandled job to its queue.
            let _ = channel.close(200, "partition released".into()).await;
            return if *stop.borrow() {
                Ok(())
            } else {
                Err(anyhow::anyhow!("consumer ended"))
            };
        };
        rt.handle(&delivery?, &dead).await?;
    }
}
