//! Converging Splashtop to the desired state a job carries, over the [`TeamApi`] and
//! [`StateStore`] traits (unit tests run it on the simulator and a [`MemoryStore`]).
//!
//! Every function here reads Splashtop's current state first and changes only what
//! differs, so applying a job twice is harmless (docs/DESIGN.md, invariant 4).
//!
//! Group jobs and their members' user jobs run on different partitions, so they race.
//! A group job records its intent (new name, or deleted) in the [`StateStore`] before
//! it touches Splashtop; a user job resolves its group through that intent, so it never
//! recreates a group under a name that is being renamed away, nor a deleted group, and
//! it re-checks the intent after creating a group, undoing the creation if it lost the
//! race. A group id that vanished under a user's update is retried, not dead-lettered.

use splashsync_protocol::job::{GroupRef, GroupState, UserState};
use splashsync_protocol::{JobKey, Tenant};

use crate::config::DeactivateMode;
#[cfg(doc)]
use crate::state::MemoryStore;
use crate::state::{GroupIntent, StateStore, StoreError};
use splashtop_api::{ApiError, CallContext, ErrorCode, TeamApi, TeamGroup, TeamUser, UserProfile};

/// What applying a job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The user was invited; Splashtop's id.
    Invited(String),
    /// The user's profile or group was updated.
    Updated(String),
    /// Splashtop already matched the desired state.
    Unchanged(String),
    /// The user was removed (or deleted) from the team.
    Removed(String),
    /// The user or group was already absent.
    AlreadyAbsent,
    /// The group was created.
    GroupCreated(String),
    /// The group was renamed from a former name.
    GroupRenamed(String),
    /// The group was deleted.
    GroupDeleted(String),
    /// Not applied: a job of this key at this version or newer already was.
    Skipped {
        /// The newer version already applied or started.
        newer: i64,
    },
    /// Not applied: a newer incarnation of this Splashtop account (a user deleted and
    /// created again with the same userName) already acted on it.
    Superseded {
        /// The newer incarnation's SCIM id.
        by: String,
    },
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        // Without the shared store the version order cannot be checked: wait for it.
        transient(e.to_string())
    }
}

fn transient(detail: impl Into<String>) -> ApiError {
    ApiError::transient(detail)
}

/// The ambient facts a job is applied with.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The Splashtop API (rate-limited).
    pub api: &'a dyn TeamApi,
    /// The shared store.
    pub store: &'a dyn StateStore,
    /// The call context of the job.
    pub cx: &'a CallContext,
    /// The job's tenant.
    pub tenant: &'a Tenant,
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("cx", &self.cx)
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

/// Converges one user.
pub async fn apply_user(
    env: Env<'_>,
    state: &UserState,
    mode: DeactivateMode,
) -> Result<Applied, ApiError> {
    let Env { api, cx, .. } = env;
    let existing = api.find_user(cx, &state.email).await?;
    if !state.active || state.deleted {
        return match existing {
            Some(user) => {
                api.remove_user(cx, &user.id, mode == DeactivateMode::Delete)
                    .await?;
                Ok(Applied::Removed(user.id))
            }
            None => Ok(Applied::AlreadyAbsent),
        };
    }
    let group = resolve_group(env, state.group.as_ref()).await?;
    let profile = UserProfile {
        first_name: state.first_name.clone(),
        last_name: state.last_name.clone(),
        display_name: state.display_name.clone(),
        sso_name: state.sso_name.clone(),
        // Always explicit, the default group's id included: no implicit moves.
        group_id: Some(group.id),
    };
    converge_user(api, cx, &state.email, existing, &profile)
        .await
        .map_err(|e| {
            if e.has_code(&ErrorCode::GroupNotFound) {
                // Deleted between our lookup and the call: the retry resolves it afresh.
                transient("the user's group vanished meanwhile")
            } else {
                e
            }
        })
}

async fn converge_user(
    api: &dyn TeamApi,
    cx: &CallContext,
    email: &str,
    existing: Option<TeamUser>,
    profile: &UserProfile,
) -> Result<Applied, ApiError> {
    let existing = match existing {
        Some(user) => user,
        None => match api.invite_user(cx, email, profile).await {
            Ok(user) => return Ok(Applied::Invited(user.id)),
            // An earlier attempt's invite may have landed before its answer was lost.
            Err(e) if e.has_code(&ErrorCode::UserExists) => {
                api.find_user(cx, email).await?.ok_or(e)?
            }
            Err(e) => return Err(e),
        },
    };
    if profile.matches(&existing) {
        return Ok(Applied::Unchanged(existing.id));
    }
    let updated = api.update_user(cx, &existing.id, profile).await?;
    Ok(Applied::Updated(updated.id))
}

/// The Splashtop group a user belongs in: its group as the newest group job sees it,
/// or the default group when it has none or the group is being deleted.
async fn resolve_group(env: Env<'_>, group: Option<&GroupRef>) -> Result<TeamGroup, ApiError> {
    let Env { api, store, cx, .. } = env;
    let Some(group) = group else {
        return api.default_group(cx).await;
    };
    let key = JobKey::group(env.tenant, &group.group_id);
    let name = match store.group_intent(&key).await? {
        Some(intent) if intent.deleted => return api.default_group(cx).await,
        Some(intent) => intent.name,
        None => group.display_name.clone(),
    };
    let (found, created) = ensure_group(api, cx, &name).await?;
    if created {
        match store.group_intent(&key).await? {
            Some(intent) if intent.deleted => {
                api.delete_group(cx, &found.id).await?;
                return Err(transient("the group was deleted meanwhile"));
            }
            Some(intent) if intent.name != name => {
                merge_group(api, cx, &found, &intent.name).await?;
                return Err(transient("the group was renamed meanwhile"));
            }
            _ => {}
        }
    }
    Ok(found)
}

/// Finds a group by name or creates it; `true` when this call created it.
pub async fn ensure_group(
    api: &dyn TeamApi,
    cx: &CallContext,
    name: &str,
) -> Result<(TeamGroup, bool), ApiError> {
    if let Some(group) = api.find_group(cx, name).await? {
        return Ok((group, false));
    }
    match api.create_group(cx, name).await {
        Ok(group) => Ok((group, true)),
        // Created concurrently (a member's job ensured it first).
        Err(e) if e.has_code(&ErrorCode::GroupExists) => {
            Ok((api.find_group(cx, name).await?.ok_or(e)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Moves every member of `from` into the group named `into` (created if need be), then
/// deletes `from`: two groups that must become one lose no membership.
async fn merge_group(
    api: &dyn TeamApi,
    cx: &CallContext,
    from: &TeamGroup,
    into: &str,
) -> Result<TeamGroup, ApiError> {
    let (target, _) = ensure_group(api, cx, into).await?;
    for member in api.group_members(cx, &from.id).await? {
        let profile = UserProfile {
            first_name: member.first_name,
            last_name: member.last_name,
            display_name: member.display_name,
            sso_name: member.sso_name,
            group_id: Some(target.id.clone()),
        };
        api.update_user(cx, &member.id, &profile).await?;
    }
    api.delete_group(cx, &from.id).await?;
    Ok(target)
}

/// Converges one group of job version `version`.
pub async fn apply_group(
    env: Env<'_>,
    key: &JobKey,
    version: i64,
    state: &GroupState,
) -> Result<Applied, ApiError> {
    let Env { api, store, cx, .. } = env;
    let intent = GroupIntent {
        version,
        name: state.display_name.clone(),
        deleted: state.deleted,
    };
    if !store.start_group_job(key, &intent).await? {
        let newer = store
            .group_intent(key)
            .await?
            .map_or(version, |i| i.version);
        return Ok(Applied::Skipped { newer });
    }
    let current = api
        .find_group(cx, &state.display_name)
        .await?
        .filter(|g| !g.is_default);
    if state.deleted {
        let mut deleted = None;
        for name in std::iter::once(&state.display_name).chain(&state.former_names) {
            let found = if name == &state.display_name {
                current.clone()
            } else {
                api.find_group(cx, name).await?
            };
            if let Some(group) = found.filter(|g| !g.is_default) {
                api.delete_group(cx, &group.id).await?;
                deleted = Some(group.id);
            }
        }
        return Ok(deleted.map_or(Applied::AlreadyAbsent, Applied::GroupDeleted));
    }
    // Names it had before: a rename in flight leaves no stray group behind.
    let mut current = current;
    let mut renamed = None;
    for former in &state.former_names {
        let Some(old) = api.find_group(cx, former).await?.filter(|g| !g.is_default) else {
            continue;
        };
        match &current {
            None => {
                let group = api.rename_group(cx, &old.id, &state.display_name).await?;
                renamed = Some(group.id.clone());
                current = Some(group);
            }
            // A member's job created the new name first: fold the old group into it.
            Some(_) => {
                merge_group(api, cx, &old, &state.display_name).await?;
            }
        }
    }
    match (current, renamed) {
        (_, Some(id)) => Ok(Applied::GroupRenamed(id)),
        (Some(group), None) => Ok(Applied::Unchanged(group.id)),
        (None, None) => Ok(Applied::GroupCreated(
            ensure_group(api, cx, &state.display_name).await?.0.id,
        )),
    }
}

#[cfg(test)]
mod tests;
