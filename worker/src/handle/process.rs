//! Processing one job without RabbitMQ: the version and incarnation checks, the job
//! applied with retries in place, and how it ended ([`Outcome`]). Runs on the
//! [`TeamApi`](splashtop_api::TeamApi) and [`StateStore`](crate::state::StateStore)
//! traits, so unit tests drive it with the simulator and a memory store.

use std::time::Duration;

use futures_util::future::BoxFuture;
use splashsync_protocol::job::Job;
use splashsync_protocol::DeadReason;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Runtime;
use crate::apply::{apply_group, apply_user, Applied, Env};
use crate::floors::{account_of, committed_before, judge};
use crate::retry::{retry, GaveUp};
use splashtop_api::{ApiError, CallContext};

/// Why a job goes to the dead-letter queue, as its headers tell operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeadCause {
    pub(crate) reason: DeadReason,
    pub(crate) status: Option<u16>,
    pub(crate) code: Option<String>,
    pub(crate) body: String,
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

/// How processing a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Applied, or skipped as stale: ack it.
    Done(Applied),
    /// Dead-letter it with this cause, then ack it.
    Dead(DeadCause),
    /// The partition stopped while the job waited for a retry: leave it unacked, so that
    /// RabbitMQ gives it back to the partition's next consumer, still first in line.
    Stopped,
}

impl Runtime {
    /// Processes `job` taken at `started`: attempts it until it is done, fails for good,
    /// exhausts the retry budget, or `stop` comes while it waits. `before_wait` runs before
    /// each wait (see [`retry`]). Returns the outcome and the attempts made.
    pub(crate) async fn process(
        &self,
        job: &Job,
        started: Instant,
        stop: &watch::Receiver<bool>,
        before_wait: impl FnMut(&ApiError, Duration, u32) -> BoxFuture<'static, ()>,
    ) -> (Outcome, u32) {
        let meta = job.meta();
        let cx = CallContext {
            job_id: meta.job_id.clone(),
            key: meta.key.to_string(),
            version: meta.version,
        };
        let (result, attempts) = retry(
            &self.retry,
            started,
            stop,
            |_| self.attempt(job, &cx),
            before_wait,
        )
        .await;
        let outcome = match result {
            Ok(applied) => Outcome::Done(applied),
            Err(GaveUp::Permanent(e)) => {
                Outcome::Dead(DeadCause::from_api(DeadReason::Permanent, &e))
            }
            Err(GaveUp::Exhausted(e)) => {
                Outcome::Dead(DeadCause::from_api(DeadReason::RetryBudgetExhausted, &e))
            }
            Err(GaveUp::Stopped) => Outcome::Stopped,
        };
        (outcome, attempts)
    }

    /// One attempt: the version check, the job, then the version record.
    async fn attempt(&self, job: &Job, cx: &CallContext) -> Result<Applied, ApiError> {
        let meta = job.meta();
        let store = self.store.as_ref();
        // A relay re-publish or redelivery of an older state must never win
        // (docs/DESIGN.md, invariant 5); the same version again is already applied, so it
        // is skipped too.
        let applied = store.applied_version(&meta.key).await?;
        if let Some(applied) = applied {
            if applied >= meta.version {
                return Ok(Applied::Skipped { newer: applied });
            }
        }
        // A user deleted and created again with the same userName is a new key on the same
        // Splashtop account. Its jobs share the account's partition, so they come in commit
        // order; but should the broker refuse one job and the relay publish it again after
        // a newer incarnation's, the older incarnation must not act on the account again.
        // A user that took the account by a userName change carries the incarnation minted
        // then (`UserState::account_incarnation`), not its older SCIM id.
        let account = match job {
            Job::UserV1(j) => Some((job.route(), j.state.account_incarnation())),
            Job::GroupV1(_) => None,
        };
        let mut owner_known = true;
        if let Some((route, user_id)) = &account {
            let owner = store.account_owner(route).await?;
            owner_known = owner.is_some();
            if let Some(owner) = owner {
                if owner.as_str() > *user_id {
                    return Ok(Applied::Superseded { by: owner });
                }
            }
        }
        // Nothing recorded for the key or its account may mean the state was lost
        // (docs/DESIGN.md, "Redis: what the workers share, and what losing it does").
        if applied.is_none() || !owner_known {
            if let Some(stale) = self.directory_check(job).await? {
                return Ok(stale);
            }
        }
        let env = Env {
            api: self.api.as_ref(),
            store,
            cx,
            tenant: meta.key.tenant(),
            metrics: self.metrics.mirror(),
            verify: meta.verify,
        };
        let applied = match job {
            Job::UserV1(j) => apply_user(env, &j.state, self.mode).await?,
            Job::GroupV1(j) => apply_group(env, &meta.key, meta.version, &j.state).await?,
        };
        store.record_applied(&meta.key, meta.version).await?;
        if let Some((route, user_id)) = &account {
            store.claim_account(route, user_id).await?;
        }
        Ok(applied)
    }

    /// For a job committed before the shared state's epoch began, the directory's word on
    /// whether it is superseded (`crate::floors`); `None` without a floor source, for a
    /// job committed since, or when the directory shows nothing newer.
    async fn directory_check(&self, job: &Job) -> Result<Option<Applied>, ApiError> {
        let Some(floors) = &self.floors else {
            return Ok(None);
        };
        let meta = job.meta();
        let since = self.store.epoch_since().await?;
        if !committed_before(&meta.created_at, since) {
            return Ok(None);
        }
        let floor = floors.floor(&meta.key, account_of(job)).await?;
        let stale = judge(job, &floor);
        if let Some(stale) = &stale {
            tracing::info!(directory_version = ?floor.version, holder = ?floor.holder, "committed before the shared state was lost, and superseded in the directory: {stale}");
        }
        Ok(stale)
    }
}
