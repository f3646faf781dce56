//! A replay's choice of job, the same on both engines: which dead letter can be
//! replayed, where the key's current state comes from, and the "deleted" job of a key the
//! directory no longer holds, built from the dead letter's body. Pure: each engine reads
//! the rows these take and writes the job they make, in its own transaction.

use splashsync_protocol::job::{GroupState, Job, JobMeta};
use splashsync_protocol::{JobKey, KeyKind};

use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::plan;
use crate::rows::Get;

/// Why a dead letter or an incident cannot be replayed.
pub(crate) fn unreplayable(detail: impl Into<String>) -> StoreError {
    StoreError::Unreplayable(detail.into())
}

/// An open dead letter, as a replay takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Letter {
    /// Its job key.
    pub(crate) key: String,
    /// The failed message's body.
    pub(crate) payload: String,
    /// The incident it is filed under.
    pub(crate) incident: Option<i64>,
}

impl Letter {
    /// Dead letter `id` from its row (`key, state, payload, incident_id`), if it is
    /// still open.
    pub(crate) fn open(id: i64, row: Option<&impl Get>) -> Result<Letter, StoreError> {
        let row = row.ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
        let state: String = row.get("state")?;
        if state != "open" {
            return Err(StoreError::AlreadyResolved { id, state });
        }
        Ok(Letter {
            key: row.get("key")?,
            payload: row.get("payload")?,
            incident: row.get("incident_id")?,
        })
    }
}

/// The job key `key` of `what` (a dead letter or an incident), or why it cannot be
/// replayed, and the write context of its replay: the key's tenant, no verification.
pub(crate) fn replay_of(
    cx: &WriteCtx,
    key: &str,
    what: &str,
) -> Result<(JobKey, WriteCtx), StoreError> {
    let parsed = JobKey::parse(key).ok_or_else(|| {
        unreplayable(format!(
            "{what} has no usable job key ({key:?}); discard it instead"
        ))
    })?;
    let cx = WriteCtx {
        tenant: parsed.tenant().clone(),
        origin: format!("replay of {what}"),
        policy: cx.policy,
        verify: false,
    };
    Ok((parsed, cx))
}

/// Where a replayed key's current state comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The user's record, if the directory still holds it.
    User,
    /// The group's row, if the directory still holds it.
    Group,
    /// The retirement of an account its user left: still its desired state (should the
    /// user hold the account again, its newer incarnation supersedes this one).
    Retired,
}

impl Source {
    /// The source of `key`'s current state.
    pub(crate) fn of(key: &JobKey) -> Source {
        if key.retired_account().is_some() {
            Source::Retired
        } else if key.kind() == KeyKind::User {
            Source::User
        } else {
            Source::Group
        }
    }
}

/// The job carrying group `key`'s current state, from its row (`display_name`,
/// `former_names` as JSON text, `version`).
pub(crate) fn group_job(cx: &WriteCtx, key: &JobKey, row: &impl Get) -> Result<Job, StoreError> {
    let former: String = row.get("former_names")?;
    let state = GroupState {
        group_id: key.id().to_string(),
        display_name: row.get("display_name")?,
        former_names: serde_json::from_str(&former).unwrap_or_default(),
        deleted: false,
    };
    Ok(plan::group_job(cx, state, row.get("version")?))
}

/// The key is no longer in the directory: its current state is "deleted", at the key's
/// `latest` version in the outbox (or the dead letter's, if later), built from the dead
/// letter's body (`stale`) for the names Splashtop needs.
pub(crate) fn gone_job(
    cx: &WriteCtx,
    key: &JobKey,
    what: &str,
    stale: Option<Job>,
    latest: Option<i64>,
) -> Result<Job, StoreError> {
    let meta = |old: &JobMeta| {
        plan::meta(
            cx,
            key.clone(),
            latest.unwrap_or(old.version).max(old.version),
        )
    };
    match stale {
        Some(Job::UserV1(mut j)) => {
            j.meta = meta(&j.meta);
            // A retirement stays a retirement (removed or deleted per the worker's mode).
            j.state.deleted = key.retired_account().is_none();
            j.state.active = false;
            j.state.group = None;
            Ok(Job::UserV1(j))
        }
        Some(Job::GroupV1(mut j)) => {
            j.meta = meta(&j.meta);
            j.state.deleted = true;
            Ok(Job::GroupV1(j))
        }
        None => Err(unreplayable(format!(
            "{what}: {key} is no longer in the directory and the dead letter's body is not a job; discard it instead"
        ))),
    }
}
