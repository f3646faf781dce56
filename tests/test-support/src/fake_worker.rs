//! A connection that plays the worker's part on the broker: take a job off its partition,
//! publish outcome events, dead-letter a job with the worker's headers.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::BasicProperties;
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;

use crate::broker::Publisher;

/// A connection that stands in for a worker.
#[derive(Debug)]
pub struct FakeWorker {
    link: Publisher,
}

/// Why a fake worker dead-letters a job (the worker's `x-splashsync-*` headers).
#[derive(Debug, Clone)]
pub struct DeadReason {
    /// `permanent`, `retry_budget_exhausted`…
    pub reason: String,
    /// Splashtop's HTTP status.
    pub http_status: Option<i64>,
    /// Splashtop's error code.
    pub error_code: Option<String>,
    /// Splashtop's answer.
    pub body: String,
}

impl DeadReason {
    /// A permanent failure with Splashtop's status, code and message.
    pub fn permanent(status: i64, code: &str, body: &str) -> Self {
        Self {
            reason: "permanent".into(),
            http_status: Some(status),
            error_code: Some(code.into()),
            body: body.into(),
        }
    }
}

impl FakeWorker {
    /// Connects (with publisher confirms) to the broker of `topology`.
    pub async fn connect(topology: &Topology) -> Self {
        Self {
            link: Publisher::connect(topology, "splashsync-test-fake-worker").await,
        }
    }

    /// Takes the next job of `route`'s partition (a user's route is
    /// `splashsync_protocol::keys::account_route(tenant, email)`), waiting up to `timeout`
    /// for the relay.
    /// (Partition queues have single active consumer, which refuses `basic.get`: this
    /// consumes one delivery and cancels by closing its channel.)
    pub async fn take_job(&self, route: &str, timeout: Duration) -> Option<Job> {
        let topology = self.link.topology();
        let queue = topology.partition_queue(topology.partition_of(route));
        // RabbitMQ 3.10 was seen to answer a consume on a fresh quorum queue with
        // INTERNAL_ERROR once under load: that channel is closed, so try a new one.
        let start = || async {
            let channel = self.link.channel().await;
            channel.basic_qos(1, BasicQosOptions::default()).await?;
            let consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "fake-worker".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((channel, consumer))
        };
        let every = backon::ConstantBuilder::default()
            .with_delay(Duration::from_millis(200))
            .with_max_times(4);
        let (channel, mut consumer) = backon::Retryable::retry(start, every)
            .await
            .expect("consume");
        let job = match tokio::time::timeout(timeout, consumer.next()).await {
            Ok(Some(Ok(d))) => {
                d.ack(BasicAckOptions::default()).await.expect("ack");
                Some(serde_json::from_slice(&d.data).expect("a job"))
            }
            _ => None,
        };
        let _ = channel.close(200, "taken".into()).await;
        job
    }

    /// Publishes an outcome event to `<prefix>.events`.
    pub async fn send_event(&self, event: &OutcomeEvent) {
        let body = serde_json::to_vec(event).expect("event serialises");
        self.link
            .publish_raw(
                &self.link.topology().events_exchange(),
                "",
                &body,
                BasicProperties::default().with_content_type("application/json".into()),
            )
            .await;
    }

    /// Dead-letters `job` the way the worker does: its body, `x-splashsync-*` headers.
    pub async fn dead_letter(&self, job: &Job, why: &DeadReason, attempts: i64) {
        let now = splashsync_scim::now_rfc3339();
        self.dead_letter_at(job, why, attempts, &now).await;
    }

    /// [`Self::dead_letter`] with the attempts' time given: the same call twice is a
    /// redelivery of one dead letter.
    pub async fn dead_letter_at(&self, job: &Job, why: &DeadReason, attempts: i64, now: &str) {
        let meta = job.meta();
        let text = |s: &str| AMQPValue::LongString(LongString::from(s));
        let mut headers = FieldTable::default();
        headers.insert("key".into(), text(&meta.key.to_string()));
        splashsync_protocol::DeadLetterHeaders {
            reason: splashsync_protocol::DeadReason::parse(&why.reason),
            attempts: Some(attempts),
            first_attempt: Some(now.to_string()),
            last_attempt: Some(now.to_string()),
            http_status: why.http_status.and_then(|s| u16::try_from(s).ok()),
            error_code: why.error_code.clone(),
            error_body: why.body.clone(),
        }
        .encode_into(&mut headers);
        let body = serde_json::to_vec(job).expect("job serialises");
        self.link
            .publish_raw(
                &self.link.topology().dead_exchange(),
                "",
                &body,
                BasicProperties::default()
                    .with_message_id(meta.job_id.as_str().into())
                    .with_headers(headers),
            )
            .await;
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.link.close().await;
    }
}

/// The outcome event of one attempt at `job`.
pub fn outcome(job: &Job, attempt: u32, status: OutcomeStatus, detail: &str) -> OutcomeEvent {
    let meta = job.meta();
    OutcomeEvent {
        event_id: uuid::Uuid::new_v4().to_string(),
        job_id: meta.job_id.clone(),
        tenant: meta.tenant.clone(),
        key: meta.key.clone(),
        version: meta.version,
        kind: job.kind().into(),
        attempt,
        at: splashsync_scim::now_rfc3339(),
        status,
        detail: detail.into(),
        http_status: None,
        error_code: None,
        reason: None,
        splashtop_id: None,
        worker: "fake-worker".into(),
        next_attempt_at: None,
        name: Some(job.name().to_owned()),
    }
}
