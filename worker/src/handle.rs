//! Handling one delivery: skip it if its key already has this version or a newer one,
//! apply it with retries in place, dead-letter it with the reason when that fails, and
//! ack it only afterwards.

use std::sync::Arc;
use std::time::SystemTime;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::Channel;
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{DeadLetterHeaders, DeadReason};
use tracing::Instrument;

use crate::apply::{apply_group, apply_user, Applied, Env};
use crate::config::DeactivateMode;
use crate::limiter::{RateLimitedApi, RateLimiter};
use crate::metrics::Metrics;
use crate::outcome::{publish, Attempt};
use crate::retry::RetryPolicy;
use crate::splashtop::{ApiError, CallContext};
use crate::store::Store;

/// Everything the partition tasks of one running worker share.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) api: RateLimitedApi,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) store: Store,
    pub(crate) topology: Topology,
    pub(crate) mode: DeactivateMode,
    pub(crate) retry: RetryPolicy,
    /// This worker's id, in outcome events.
    pub(crate) worker: String,
}

/// Why a job went to the dead-letter queue, as its headers tell operators.
#[derive(Debug)]
struct DeadCause {
    reason: DeadReason,
    status: Option<u16>,
    code: Option<String>,
    body: String,
}

impl DeadCause {
    fn from_api(reason: DeadReason, error: &ApiError) -> Self {
        match error {
            ApiError::Permanent {
                status, code, body, ..
            } => Self {
                reason,
                status: Some(*status),
                code: Some(code.to_string()),
                body: body.clone(),
            },
            ApiError::Transient { status, detail, .. } => Self {
                reason,
                status: *status,
                code: None,
                body: detail.clone(),
            },
        }
    }
}

impl Runtime {
    /// Handles one delivery to the end: applied, skipped or dead-lettered, then acked.
    /// Every line logged meanwhile carries the job's id, key and tenant.
    pub(crate) async fn handle(&self, delivery: &Delivery, dead: &Channel) -> anyhow::Result<()> {
        let first_attempt = SystemTime::now();
        let job: Job = match serde_json::from_slice(&delivery.data) {
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
        let meta = job.meta();
        let span = tracing::info_span!("job", job_id = %meta.job_id, key = %meta.key, tenant = %meta.tenant, version = meta.version, kind = job.kind());
        let result = self
            .handle_job(&job, delivery, dead, first_attempt)
            .instrument(span.clone())
            .await;
        if let Err(e) = &result {
            span.in_scope(|| tracing::warn!(error = %e, "job not acked; RabbitMQ redelivers it"));
        }
        result
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
        self.metrics.dead_letter("unknown", reason.reason.as_str());
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    async fn handle_job(
        &self,
        job: &Job,
        delivery: &Delivery,
        dead: &Channel,
        first_attempt: SystemTime,
    ) -> anyhow::Result<()> {
        let meta = job.meta();
        let kind = job.kind();
        let cx = CallContext {
            job_id: meta.job_id.clone(),
            key: meta.key.to_string(),
            version: meta.version,
        };
        let report = |attempt| Attempt {
            meta,
            kind,
            attempt,
            worker: &self.worker,
        };
        let mut attempts = 0u32;
        let outcome = loop {
            attempts += 1;
            let error = match self.attempt(job, &cx).await {
                Ok(applied) => {
                    publish(dead, &self.topology, &report(attempts).done(&applied)).await;
                    break Ok(applied);
                }
                Err(e @ ApiError::Permanent { .. }) => {
                    break Err(DeadCause::from_api(DeadReason::Permanent, &e))
                }
                Err(e) => e,
            };
            let (retry_after, status) = match &error {
                ApiError::Transient {
                    retry_after,
                    status,
                    ..
                } => (*retry_after, *status),
                ApiError::Permanent { status, .. } => (None, Some(*status)),
            };
            let elapsed = first_attempt.elapsed().unwrap_or_default();
            let delay = self
                .retry
                .delay(attempts, retry_after, elapsed, &mut rand::rng());
            let Some(delay) = delay else {
                break Err(DeadCause::from_api(
                    DeadReason::RetryBudgetExhausted,
                    &error,
                ));
            };
            tracing::warn!(attempts, ?status, %error, delay_ms = delay.as_millis() as u64, "transient failure; retrying");
            self.metrics.retry(kind);
            publish(dead, &self.topology, &report(attempts).retrying(&error)).await;
            tokio::time::sleep(delay).await;
        };
        match outcome {
            Ok(applied) => {
                tracing::info!(attempts, ?applied, "job done");
                let outcome = match applied {
                    Applied::Skipped { .. } | Applied::Superseded { .. } => "skipped_stale",
                    _ => "applied",
                };
                self.metrics.job(kind, outcome);
            }
            Err(reason) => {
                tracing::warn!(attempts, class = reason.reason.as_str(), status = ?reason.status, "dead-lettering job");
                self.dead_letter(dead, delivery, &reason, attempts, first_attempt)
                    .await?;
                self.metrics.dead_letter(kind, reason.reason.as_str());
                let event = report(attempts).dead(
                    reason.reason.as_str(),
                    reason.status,
                    reason.code.as_deref(),
                    &reason.body,
                );
                publish(dead, &self.topology, &event).await;
            }
        }
        delivery.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// One attempt: the version check, the job, then the version record.
    async fn attempt(&self, job: &Job, cx: &CallContext) -> Result<Applied, ApiError> {
        let meta = job.meta();
        // A relay re-publish or redelivery of an older state must never win (invariant 5);
        // the same version again is already applied, so it is skipped too.
        if let Some(applied) = self.store.applied_version(&meta.key).await? {
            if applied >= meta.version {
                return Ok(Applied::Skipped { newer: applied });
            }
        }
        // A user deleted and created again with the same userName is a new key on the same
        // Splashtop account. Its jobs share the account's partition, so they come in commit
        // order; but should the broker refuse one job and the relay publish it again after
        // a newer incarnation's, the older incarnation must not act on the account again.
        let account = match job {
            Job::UserV1(j) => Some((job.route(), j.state.user_id.as_str())),
            Job::GroupV1(_) => None,
        };
        if let Some((route, user_id)) = &account {
            if let Some(owner) = self.store.account_owner(route).await? {
                if owner.as_str() > *user_id {
                    return Ok(Applied::Superseded { by: owner });
                }
            }
        }
        let env = Env {
            api: &self.api,
            store: &self.store,
            cx,
            tenant: meta.key.tenant(),
        };
        let applied = match job {
            Job::UserV1(j) => apply_user(env, &j.state, self.mode).await?,
            Job::GroupV1(j) => apply_group(env, &meta.key, meta.version, &j.state).await?,
        };
        self.store.record_applied(&meta.key, meta.version).await?;
        if let Some((route, user_id)) = &account {
            self.store.claim_account(route, user_id).await?;
        }
        Ok(applied)
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
