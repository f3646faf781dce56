//! The outbox relay: publishes committed jobs to RabbitMQ and marks them sent only after
//! the broker confirmed them.
//!
//! A job is published persistent, `mandatory` (an unroutable job comes back as a
//! returned message instead of vanishing), with its job id as `message_id`. An ack with a
//! returned message, or a nack, is a failure: the job stays pending and is published
//! again. A job may therefore be published twice (crash between confirm and mark); the
//! worker's per-key version check makes that harmless (docs/DESIGN.md, invariant 4).
//! While RabbitMQ is unreachable the relay retries with backoff; the receiver keeps
//! answering, since the outbox is in the directory store. One [`Relay::run`] lives as long
//! as one connection: when the broker goes away it fails, and its supervisor starts a new
//! one.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_runtime::supervisor::Health;
use tokio_util::sync::CancellationToken;

use splashsync_directory::model::PendingJob;
use splashsync_directory::{Directory, StoreError};

use crate::link::Link;

/// The relay's name in [`Health`], logs and metrics.
pub const COMPONENT: &str = "relay";

/// Jobs fetched and published per round.
const BATCH: u32 = 500;

/// Publishes the outbox to RabbitMQ.
#[derive(Debug, Clone)]
pub struct Relay {
    directory: Arc<dyn Directory>,
    topology: Topology,
    link: Link,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the connection to RabbitMQ was lost")]
    Disconnected,
}

impl Relay {
    /// A relay for `directory`'s outbox, to the broker and prefix of `link`.
    pub fn new(directory: Arc<dyn Directory>, link: Link) -> Self {
        Self {
            directory,
            topology: link.topology().clone(),
            link,
        }
    }

    /// Connects (reporting in `health` while it cannot) and claims the prefix, then
    /// publishes until the broker goes away (an error: the supervisor starts a new relay)
    /// or `stop` fires. Another tenant's prefix is a fatal error: the relay stays down.
    pub async fn run(self, health: Health, stop: CancellationToken) -> anyhow::Result<()> {
        let conn = self
            .link
            .connect("splashsync-receiver-relay", COMPONENT, &health, &stop)
            .await?;
        let Some(conn) = conn else {
            return Ok(());
        };
        let channel = match conn.create_channel().await {
            Ok(c) => c,
            Err(e) => {
                let _ = conn.close(200, "relay restarting".into()).await;
                return Err(e.into());
            }
        };
        let result = tokio::select! {
            r = self.publish_loop(&channel) => r.map_err(anyhow::Error::from),
            () = stop.cancelled() => Ok(()),
        };
        let reason = if stop.is_cancelled() {
            "receiver shutting down"
        } else {
            "relay restarting"
        };
        // The channel first: one still open while its connection closes is closed in the
        // background and lapin logs that at ERROR on every clean stop.
        let _ = channel.close(200, reason.into()).await;
        let _ = conn.close(200, reason.into()).await;
        result
    }

    async fn publish_loop(&self, channel: &lapin::Channel) -> Result<(), RelayError> {
        self.topology.declare(channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        loop {
            // Register interest before reading, so a commit between the read and the
            // wait still wakes us.
            let changed = self.directory.outbox_changed();
            let jobs = self.directory.pending_jobs(BATCH).await?;
            if jobs.is_empty() {
                let _ = tokio::time::timeout(Duration::from_secs(1), changed).await;
                // An idle relay publishes nothing, so it would not notice a lost connection
                // until the next commit: look at each wake-up instead.
                if !channel.status().connected() {
                    return Err(RelayError::Disconnected);
                }
                continue;
            }
            drop(changed);
            let full = jobs.len() as u32 == BATCH;
            let confirmed = self.publish_batch(channel, &jobs).await?;
            let failed = jobs.len() - confirmed.len();
            self.directory.mark_sent(confirmed).await?;
            if failed > 0 {
                tracing::warn!(
                    failed,
                    "broker refused some jobs; they stay pending and will be published again"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else if !full {
                // Let concurrent writes accumulate into the next batch.
                tokio::task::yield_now().await;
            }
        }
    }

    /// Publishes every job, then waits for every confirm; returns the confirmed seqs.
    async fn publish_batch(
        &self,
        channel: &Channel,
        jobs: &[PendingJob],
    ) -> Result<Vec<i64>, RelayError> {
        let exchange = self.topology.jobs_exchange();
        let mut confirms = Vec::with_capacity(jobs.len());
        for job in jobs {
            // A user's jobs follow its Splashtop account (see Job::route); rows written
            // before the route column existed fall back to the key.
            let route = if job.route.is_empty() {
                &job.key
            } else {
                &job.route
            };
            let partition = self.topology.partition_of(route);
            let mut headers = FieldTable::default();
            headers.insert(
                "key".into(),
                AMQPValue::LongString(LongString::from(job.key.as_str())),
            );
            let props = BasicProperties::default()
                .with_message_id(job.job_id.as_str().into())
                .with_type(job.kind.as_str().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(2) // persistent
                .with_headers(headers);
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    self.topology.routing_key(partition).as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    job.payload.as_bytes(),
                    props,
                )
                .await?;
            confirms.push((job, confirm));
        }
        let mut confirmed = Vec::with_capacity(confirms.len());
        for (job, confirm) in confirms {
            let confirmation = confirm.await?;
            if confirmation.is_ack() && confirmation.take_message().is_none() {
                confirmed.push(job.seq);
            } else {
                tracing::warn!(
                    seq = job.seq,
                    job_id = %job.job_id,
                    key = %job.key,
                    email = %email_of(job),
                    "job not accepted by the broker (nack or returned); it stays pending"
                );
            }
        }
        Ok(confirmed)
    }
}

/// The account email of a user job, for its log lines (empty for group jobs).
fn email_of(job: &PendingJob) -> String {
    match serde_json::from_str::<Job>(&job.payload) {
        Ok(Job::UserV1(user)) => user.state.email,
        _ => String::new(),
    }
}
