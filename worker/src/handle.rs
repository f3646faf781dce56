//! Handling one delivery: process it ([`process`]: skip it if its key already
//! has this version or a newer one, apply it with retries in place), dead-letter it with
//! the reason when that fails, publish each attempt's outcome event, and ack it only
//! afterwards; or ack it unapplied when a newer job of its key supersedes it
//! ([`Runtime::supersede`]).
//!
//! # Layout
//! - this module: [`Runtime`] and the RabbitMQ side (dead letter, events, ack).
//! - [`process`]: the job itself, on traits, with its [`Outcome`].

mod process;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::Channel;
use splashsync_protocol::job::{Job, JobMeta};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{DeadLetterHeaders, DeadReason};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use crate::apply::Applied;
use crate::config::DeactivateMode;
use crate::floors::FloorSource;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::outcome::{publish, Attempt};
use crate::retry::RetryPolicy;
use crate::state::StateStore;
use process::{DeadCause, Outcome};
use splashtop_api::{ApiError, TeamApi};

/// Everything the partition tasks of one running worker share.
#[derive(Debug)]
pub(crate) struct Runtime {
    /// The Splashtop API, rate-limited.
    pub(crate) api: Arc<dyn TeamApi>,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) topology: Topology,
    pub(crate) mode: DeactivateMode,
    pub(crate) retry: RetryPolicy,
    /// This worker's id, in outcome events.
    pub(crate) worker: String,
    /// Each partition consumer's prefetch: the window coalescing looks into.
    pub(crate) prefetch: u16,
    /// Whether a job superseded by a newer one of its key in the window is acked unapplied.
    pub(crate) coalesce: bool,
    /// How long a window may hold a job before it is handed back (`None`: derived from
    /// the retry budget and RabbitMQ's consumer timeout).
    pub(crate) window_hold: Option<Duration>,
    /// Where a job committed before the shared state's epoch is checked (`None`: nowhere;
    /// such a job is applied as if the state were whole).
    pub(crate) floors: Option<Arc<dyn FloorSource>>,
}

impl Runtime {
    /// Handles one delivery to the end: applied, skipped or dead-lettered, then acked;
    /// or, when `stop` comes while it waits for a retry, left unacked for redelivery.
    /// Every line logged meanwhile carries the job's id, key and tenant, and the account's
    /// email (user jobs) or the group's name (group jobs).
    pub(crate) async fn handle(
        &self,
        delivery: &Delivery,
        decoded: Result<Job, serde_json::Error>,
        dead: &Channel,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let first_attempt = SystemTime::now();
        let job: Job = match decoded {
            Ok(job) => job,
            Err(e) => {
                // The relay sets the message id to the job id: the only id left to log.
                let job_id = delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.to_string());
                let span = tracing::error_span!("job", job_id = job_id.as_deref().unwrap_or(""));
                return self
                    .undecodable(delivery, dead, e, first_attempt)
                    .instrument(span)
                    .await;
            }
        };
        let span = job_span(&job);
        let result = self
            .handle_job(&job, delivery, dead, stop, first_attempt)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            span.in_scope(|| tracing::warn!(error = %e, "job not acked; RabbitMQ redelivers it"));
        }
        result
    }

    /// Acks a job unapplied because `by`, a newer job of its key, was delivered behind it
    /// and is applied in its place (docs/DESIGN.md, "Coalescing"). `by` is unacked: should
    /// this worker die before applying it, RabbitMQ gives it back to the partition's next
    /// consumer, so the state the superseded job carried is never lost, only folded into a
    /// newer one. Nothing is recorded in the version store: `by` records its own version.
    pub(crate) async fn supersede(
        &self,
        delivery: &Delivery,
        job: &Job,
        by: &JobMeta,
        dead: &Channel,
    ) -> anyhow::Result<()> {
        let meta = job.meta();
        let kind = job.kind();
        let span = job_span(job);
        async {
            let attempt = Attempt {
                meta,
                kind,
                attempt: 1,
                worker: &self.worker,
                name: job.name(),
            };
            publish(dead, &self.topology, &attempt.superseded(by)).await;
            tracing::info!(by = %by.job_id, by_version = by.version, "superseded by a newer job of its key already delivered; acked unapplied");
            self.metrics.coalesced(kind);
            delivery.acker.ack(BasicAckOptions::default()).await?;
            Ok(())
        }
        .instrument(span)
        .await
    }

    async fn undecodable(
        &self,
        delivery: &Delivery,
        dead: &Channel,
        error: serde_json::Error,
        first_attempt: SystemTime,
    ) -> anyhow::Result<()> {
        tracing::error!(%error, "undecodable job; dead-lettering it");
        let reason = DeadCause {
            reason: DeadReason::Undecodable,
            status: None,
            code: None,
            body: error.to_string(),
        };
        self.dead_letter(dead, delivery, &reason, 0, first_attempt)
            .await?;
        self.metrics
            .dead_letter("unknown", reason.reason.as_str(), None, None);
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    async fn handle_job(
        &self,
        job: &Job,
        delivery: &Delivery,
        dead: &Channel,
        stop: &watch::Receiver<bool>,
        first_attempt: SystemTime,
    ) -> anyhow::Result<()> {
        let meta = job.meta();
        let kind = job.kind();
        let report = |attempt| Attempt {
            meta,
            kind,
            attempt,
            worker: &self.worker,
            name: job.name(),
        };
        let before_wait = |error: &ApiError, delay: Duration, attempts: u32| {
            tracing::warn!(attempts, status = error.status(), %error, delay_ms = delay.as_millis() as u64, "transient failure; retrying");
            self.metrics.retry(kind, error);
            // Published before the wait, so operators see the job retrying meanwhile.
            let event = report(attempts).retrying(error, delay);
            let (dead, topology) = (dead.clone(), self.topology.clone());
            let publishing: BoxFuture<'static, ()> =
                Box::pin(async move { publish(&dead, &topology, &event).await });
            publishing
        };
        self.metrics.job_taken(kind, &meta.created_at);
        let (outcome, attempts) = self.process(job, Instant::now(), stop, before_wait).await;
        match outcome {
            Outcome::Done(applied) => {
                publish(dead, &self.topology, &report(attempts).done(&applied)).await;
                tracing::info!(attempts, %applied, "job done");
                let outcome = match applied {
                    Applied::Skipped { .. } | Applied::Superseded { .. } => "skipped_stale",
                    _ => {
                        self.metrics.job_applied(kind, &meta.created_at);
                        "applied"
                    }
                };
                self.metrics.job(kind, outcome);
            }
            Outcome::Dead(reason) => {
                tracing::warn!(
                    attempts,
                    class = reason.reason.as_str(),
                    status = reason.status,
                    "dead-lettering job"
                );
                self.dead_letter(dead, delivery, &reason, attempts, first_attempt)
                    .await?;
                self.metrics.dead_letter(
                    kind,
                    reason.reason.as_str(),
                    reason.code.as_deref(),
                    reason.status,
                );
                let event = report(attempts).dead(
                    reason.reason.as_str(),
                    reason.status,
                    reason.code.as_deref(),
                    &reason.body,
                );
                publish(dead, &self.topology, &event).await;
            }
            Outcome::Stopped => {
                tracing::info!(
                    attempts,
                    "stopping while the job waits for a retry; it goes back to its queue"
                );
                return Ok(());
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Publishes the job to the dead-letter exchange with why, and waits for the confirm;
    /// the caller acks the original only afterwards.
    async fn dead_letter(
        &self,
        dead: &Channel,
        delivery: &Delivery,
        reason: &DeadCause,
        attempts: u32,
        first_attempt: SystemTime,
    ) -> anyhow::Result<()> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        DeadLetterHeaders {
            reason: reason.reason,
            attempts: Some(i64::from(attempts)),
            first_attempt: Some(rfc3339(first_attempt)),
            last_attempt: Some(rfc3339(SystemTime::now())),
            http_status: reason.status,
            error_code: reason.code.clone(),
            error_body: reason.body.clone(),
        }
        .encode_into(&mut headers);
        let props = delivery.properties.clone().with_headers(headers);
        let confirm = dead
            .basic_publish(
                self.topology.dead_exchange().as_str().into(),
                "".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                props,
            )
            .await?
            .await?;
        if !confirm.is_ack() || confirm.take_message().is_some() {
            anyhow::bail!("the dead-letter queue refused the job");
        }
        Ok(())
    }
}

fn rfc3339(t: SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The span of every log line about `job`: its id, key, version, and who it is about, as
/// operators search for it (a user job's email, a group job's name), not by key.
fn job_span(job: &Job) -> tracing::Span {
    let meta = job.meta();
    let span = tracing::info_span!("job", job_id = %meta.job_id, key = %meta.key, tenant = %meta.tenant, version = meta.version, kind = job.kind(), email = tracing::field::Empty, group = tracing::field::Empty);
    let field = match job {
        Job::UserV1(_) => "email",
        Job::GroupV1(_) => "group",
    };
    span.record(field, tracing::field::display(job.name()));
    span
}
