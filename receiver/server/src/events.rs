//! Intake of what workers report: outcome events from `<prefix>.events.receiver` into
//! the audit log, dead letters from `<prefix>.dead-letters` into the dead-letters table,
//! and the workers' heartbeats (same queue, AMQP `type` set) into the workers table
//! (`heartbeat`); what it counts is `metrics`'s.
//!
//! Each delivery is acked only after its write committed (a crash in between redelivers
//! it, and the store ignores what it already has: event ids and dead-letter delivery ids
//! are unique). Deliveries are written concurrently so that the writer's group commit
//! batches them. Like the relay, one [`Intake::run`] lives as long as one connection, and
//! its supervisor starts a new one when the broker goes away.
//!
//! Each delivery's log lines carry its job id, key and (when the body says) account email
//! through a span the write is instrumented with; a span entered by guard must never be
//! held across an `.await` (the task may resume on another thread, where the guard would
//! enter, exit and close spans out of order).

mod heartbeat;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use splashsync_directory::audit::{AuditStore, NewDeadLetter};
use splashsync_directory::workers::WorkerStore;
use splashsync_directory::StoreError;
use splashsync_protocol::events::OutcomeEvent;
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{DeadLetterHeaders, JobKey};
use splashsync_runtime::supervisor::Health;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::link::Link;
pub use metrics::IntakeMetrics;

/// The intake's name in [`Health`], logs and metrics.
pub const COMPONENT: &str = "intake";

/// Deliveries in flight per queue (written concurrently, one group commit).
const PREFETCH: u16 = 64;

/// Consumes outcome events and dead letters into the audit store.
#[derive(Debug, Clone)]
pub struct Intake {
    audit: Arc<dyn AuditStore>,
    workers: Arc<dyn WorkerStore>,
    topology: Topology,
    link: Link,
    metrics: Arc<IntakeMetrics>,
}

impl Intake {
    /// Intake of the events and dead-letter queues of `link`'s prefix: outcomes and dead
    /// letters into `audit`, worker heartbeats into `workers`.
    pub fn new(
        audit: Arc<dyn AuditStore>,
        workers: Arc<dyn WorkerStore>,
        link: Link,
        metrics: Arc<IntakeMetrics>,
    ) -> Self {
        Self {
            audit,
            workers,
            topology: link.topology().clone(),
            link,
            metrics,
        }
    }

    /// Connects (reporting in `health` while it cannot) and claims the prefix, then
    /// consumes until the broker goes away (an error: the supervisor starts a new intake)
    /// or `stop` fires. Another tenant's prefix is a fatal error: the intake stays down.
    pub async fn run(self, health: Health, stop: CancellationToken) -> anyhow::Result<()> {
        let conn = self
            .link
            .connect("splashsync-receiver-intake", COMPONENT, &health, &stop)
            .await?;
        let Some(conn) = conn else {
            return Ok(());
        };
        let mut channels = Vec::new();
        let result = tokio::select! {
            r = self.consume(&conn, &mut channels) => r,
            () = stop.cancelled() => Ok(()),
        };
        let reason = if stop.is_cancelled() {
            "receiver shutting down"
        } else {
            "intake restarting"
        };
        // The channels first: one still open while its connection closes is closed in the
        // background and lapin logs that at ERROR on every clean stop.
        for channel in channels {
            let _ = channel.close(200, reason.into()).await;
        }
        let _ = conn.close(200, reason.into()).await;
        result
    }

    /// Consumes until a stream ends; every channel it opens goes into `channels` so the
    /// caller can close them, whether this returns or is cancelled.
    async fn consume(
        &self,
        conn: &lapin::Connection,
        channels: &mut Vec<lapin::Channel>,
    ) -> anyhow::Result<()> {
        let setup = conn.create_channel().await?;
        channels.push(setup.clone());
        self.topology.declare(&setup).await?;
        let events_channel = conn.create_channel().await?;
        channels.push(events_channel.clone());
        let events = self
            .consumer(&events_channel, &self.topology.events_queue(), "events")
            .await?;
        let dead_channel = conn.create_channel().await?;
        channels.push(dead_channel.clone());
        let dead = self
            .consumer(
                &dead_channel,
                &self.topology.dead_letter_queue(),
                "dead-letters",
            )
            .await?;
        tracing::info!("intake consuming outcome events and dead letters");
        let events = events.for_each_concurrent(PREFETCH as usize, |d| async move {
            if let Ok(d) = d {
                self.take_event(d).await;
            }
        });
        let dead = dead.for_each_concurrent(PREFETCH as usize, |d| async move {
            if let Ok(d) = d {
                self.take_dead_letter(d).await;
            }
        });
        // Either stream ends when the connection or its channel is gone.
        tokio::select! {
            () = events => {}
            () = dead => {}
        }
        anyhow::bail!("a consumer ended (channel or connection closed)")
    }

    async fn consumer(
        &self,
        channel: &lapin::Channel,
        queue: &str,
        tag: &str,
    ) -> lapin::Result<lapin::Consumer> {
        channel
            .basic_qos(PREFETCH, BasicQosOptions::default())
            .await?;
        channel
            .basic_consume(
                queue.into(),
                format!("splashsync-receiver-{tag}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
    }

    async fn take_event(&self, delivery: Delivery) {
        if heartbeat::is_heartbeat(&delivery) {
            if !heartbeat::take(self.workers.as_ref(), &delivery).await {
                self.requeue(&delivery).await;
            }
            return;
        }
        let event: OutcomeEvent = match serde_json::from_slice(&delivery.data) {
            Ok(e) => e,
            Err(e) => {
                // Requeueing cannot make it readable: drop it, loudly.
                tracing::warn!(error = %e, "undecodable outcome event dropped");
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
                return;
            }
        };
        let span = tracing::info_span!(
            "outcome",
            job_id = %event.job_id,
            key = %event.key,
            tenant = %event.tenant,
            status = event.status.as_str(),
            email = tracing::field::Empty,
            group = tracing::field::Empty,
        );
        // Operators search logs by person or group, not by key (older workers sent no name).
        if let Some(name) = &event.name {
            let field = if event.kind == "group" {
                "group"
            } else {
                "email"
            };
            span.record(field, tracing::field::display(name));
        }
        self.record_event(event, delivery).instrument(span).await;
    }

    async fn record_event(&self, event: OutcomeEvent, delivery: Delivery) {
        let attempt = event.attempt;
        match self.audit.record_outcome(event.clone()).await {
            Ok(fresh) => {
                if fresh {
                    self.metrics.outcome(&event);
                }
                tracing::debug!(fresh, attempt, "outcome recorded");
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            Err(e) => self.retry_later(&delivery, &e).await,
        }
    }

    async fn take_dead_letter(&self, delivery: Delivery) {
        let dl = decode_dead_letter(&delivery);
        let span = tracing::info_span!(
            "dead_letter",
            job_id = %dl.job_id,
            key = %dl.key,
            email = %email_of(&delivery.data),
            tenant = %dl.tenant,
            reason = %dl.reason
        );
        self.record_dead_letter(dl, delivery).instrument(span).await;
    }

    async fn record_dead_letter(&self, dl: NewDeadLetter, delivery: Delivery) {
        let (reason, code, status) = (dl.reason.clone(), dl.error_code.clone(), dl.http_status);
        match self.audit.record_dead_letter(dl).await {
            Ok(fresh) => {
                if fresh {
                    self.metrics.dead_letter(&reason, code.as_deref(), status);
                    tracing::warn!("job dead-lettered; stored for operators");
                }
                let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            }
            Err(e) => self.retry_later(&delivery, &e).await,
        }
    }

    async fn retry_later(&self, delivery: &Delivery, e: &StoreError) {
        tracing::error!(error = %e, "cannot store a delivery; it goes back to its queue");
        self.requeue(delivery).await;
    }

    async fn requeue(&self, delivery: &Delivery) {
        // A short pause so that a failing store is not hammered by redeliveries.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = delivery
            .acker
            .nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await;
    }
}

/// The account email of a user job's body, for log lines (empty when it is none).
fn email_of(body: &[u8]) -> String {
    match serde_json::from_slice::<Job>(body) {
        Ok(Job::UserV1(user)) => user.state.email,
        _ => String::new(),
    }
}

/// A dead letter from a delivery: the job's own fields when its body is a job, the
/// worker's `x-splashsync-*` headers, or RabbitMQ's `x-first-death-reason` when the
/// broker itself dead-lettered it (delivery limit).
pub fn decode_dead_letter(delivery: &Delivery) -> NewDeadLetter {
    let empty = FieldTable::default();
    let headers = delivery.properties.headers().as_ref().unwrap_or(&empty);
    let why = DeadLetterHeaders::decode(headers);
    let job: Option<Job> = serde_json::from_slice(&delivery.data).ok();
    let meta = job.as_ref().map(|j| j.meta().clone());
    // A body that is not a job still names its key in the `key` header (when it was set).
    let key_text = meta.as_ref().map(|m| m.key.to_string()).or_else(|| {
        headers.inner().get("key").and_then(|v| match v {
            AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        })
    });
    let key = key_text.as_deref().and_then(JobKey::parse);
    let job_id = meta
        .as_ref()
        .map(|m| m.job_id.clone())
        .or_else(|| {
            delivery
                .properties
                .message_id()
                .as_ref()
                .map(|m| m.to_string())
        })
        .unwrap_or_else(|| format!("unknown-{}", uuid::Uuid::new_v4()));
    NewDeadLetter {
        tenant: meta
            .as_ref()
            .map(|m| m.tenant.clone())
            .or_else(|| key.as_ref().map(|k| k.tenant().to_string()))
            .unwrap_or_default(),
        kind: key
            .as_ref()
            .map_or("unknown", |k| k.kind().as_str())
            .to_string(),
        version: meta.as_ref().map_or(0, |m| m.version),
        key: key_text.unwrap_or_default(),
        job_id,
        reason: why.reason.as_str().to_string(),
        http_status: why.http_status.map(i64::from),
        error_code: why.error_code,
        error_body: why.error_body,
        attempts: why.attempts.unwrap_or(0),
        first_attempt: why.first_attempt,
        last_attempt: why.last_attempt,
        payload: String::from_utf8_lossy(&delivery.data).into_owned(),
    }
}
