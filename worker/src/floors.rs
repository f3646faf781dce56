//! Version floors from the directory, for jobs the shared state cannot vouch for
//! (docs/DESIGN.md, "Redis: what the workers share, and what losing it does").
//!
//! After Redis lost its state (a flush, a failover to a replica that missed the last
//! writes) a new epoch begins with nothing recorded. A job committed before it may be a
//! re-publish of an older state than one already applied: nothing in Redis says so any
//! more. The directory does: it wrote every job. Before applying such a job, a worker asks
//! the receiver (`GET /admin/floor`) for its key's newest version and its account's
//! current holder, and skips the job if either shows it superseded.

use std::time::Duration;

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use splashsync_protocol::admin::{route, FloorQuery, KeyFloor, PREFIX};
use splashsync_protocol::job::Job;
use splashsync_protocol::JobKey;
use splashtop_api::ApiError;

use crate::apply::Applied;

/// How far the receivers' clocks may run ahead of Redis's: a job committed up to this
/// long after an epoch began is still checked against the directory.
pub const CLOCK_SKEW_MS: i64 = 60_000;

/// Where the directory's floors come from.
pub trait FloorSource: Send + Sync + std::fmt::Debug + 'static {
    /// What the directory knows of `key`, and who holds `account` now.
    fn floor<'a>(
        &'a self,
        key: &'a JobKey,
        account: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyFloor, ApiError>>;
}

/// The receiver's admin API as a [`FloorSource`].
pub struct AdminFloors {
    http: reqwest::Client,
    url: String,
    token: SecretString,
}

impl std::fmt::Debug for AdminFloors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminFloors")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl AdminFloors {
    /// Asks the receiver at `base_url` (`http://host:port`) with the admin `token`.
    pub fn new(base_url: &str, token: SecretString) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()?,
            url: format!("{}{PREFIX}{}", base_url.trim_end_matches('/'), route::FLOOR),
            token,
        })
    }

    async fn ask(&self, query: &FloorQuery) -> Result<KeyFloor, String> {
        let answer = self
            .http
            .get(&self.url)
            .bearer_auth(self.token.expose_secret())
            .query(query)
            .send()
            .await
            .map_err(|e| format!("the receiver's floor of a key: {e}"))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!(
                "the receiver answered {status} to {}",
                route::FLOOR
            ));
        }
        answer
            .json()
            .await
            .map_err(|e| format!("the receiver's floor of a key: {e}"))
    }
}

impl FloorSource for AdminFloors {
    fn floor<'a>(
        &'a self,
        key: &'a JobKey,
        account: Option<&'a str>,
    ) -> BoxFuture<'a, Result<KeyFloor, ApiError>> {
        Box::pin(async move {
            let query = FloorQuery {
                key: key.to_string(),
                account: account.map(str::to_string),
            };
            // Without the directory's word the job cannot be shown current: wait for it.
            self.ask(&query).await.map_err(ApiError::transient)
        })
    }
}

/// Whether a job committed at `created_at` (RFC 3339) may predate the epoch that began at
/// `since_ms`; an unreadable time counts as before (the check costs one request).
pub fn committed_before(created_at: &str, since_ms: i64) -> bool {
    let format = &time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(created_at, format) {
        Ok(t) => {
            let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
            ms < since_ms.saturating_add(CLOCK_SKEW_MS)
        }
        Err(_) => true,
    }
}

/// The account a job acts on, as the directory's userNames spell it.
pub fn account_of(job: &Job) -> Option<&str> {
    match job {
        Job::UserV1(j) => Some(j.state.email.as_str()),
        Job::GroupV1(_) => None,
    }
}

/// Whether `floor` shows `job` superseded: its key has a newer version in the directory
/// (applied, waiting, or dead-lettered for an operator: a job describes the whole state,
/// so the newer one carries everything), or another user holds its account now (its own
/// jobs carry the account's state).
pub fn judge(job: &Job, floor: &KeyFloor) -> Option<Applied> {
    let meta = job.meta();
    if let Some(newer) = floor.version.filter(|v| *v > meta.version) {
        return Some(Applied::Skipped { newer });
    }
    let holder = floor.holder.as_deref()?;
    match job {
        Job::UserV1(_) if holder != meta.key.id() => Some(Applied::Superseded {
            by: holder.to_string(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{user_job, user_state};

    fn floor(version: Option<i64>, holder: Option<&str>) -> KeyFloor {
        KeyFloor {
            version,
            holder: holder.map(str::to_string),
        }
    }

    #[test]
    fn a_job_below_the_directory_version_or_of_a_former_holder_is_superseded() {
        let job = user_job(user_state("u1", "ann@example.com", "Ann", None), 2);
        let me = job.meta().key.id().to_string();
        assert_eq!(
            judge(&job, &floor(Some(3), Some(&me))),
            Some(Applied::Skipped { newer: 3 })
        );
        assert_eq!(judge(&job, &floor(Some(2), Some(&me))), None);
        assert_eq!(judge(&job, &floor(None, None)), None);
        assert_eq!(
            judge(&job, &floor(Some(2), Some("someone-else"))),
            Some(Applied::Superseded {
                by: "someone-else".into()
            })
        );
    }

    #[test]
    fn jobs_committed_before_an_epoch_or_just_after_it_are_checked() {
        let since = 1_700_000_000_000;
        assert!(committed_before("2023-11-14T22:13:19Z", since));
        // Within the clock skew after it: still checked.
        assert!(committed_before("2023-11-14T22:13:50Z", since));
        assert!(!committed_before("2023-11-14T22:15:00Z", since));
        assert!(committed_before("not a time", since));
    }
}
