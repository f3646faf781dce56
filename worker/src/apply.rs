//! Converging Splashtop to the desired state a job carries.
//!
//! Every function here reads Splashtop's current state first and changes only what
//! differs, so applying a job twice is harmless (invariant 4).

use splashsync_shared::job::{GroupState, UserState};

use crate::config::DeactivateMode;
use crate::splashtop::{ApiError, CallContext, TeamApi, TeamGroup, UserProfile};

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
}

/// Converges one user.
pub async fn apply_user(
    api: &dyn TeamApi,
    cx: &CallContext,
    state: &UserState,
    mode: DeactivateMode,
) -> Result<Applied, ApiError> {
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
    let group_id = match &state.group {
        Some(group) => Some(ensure_group(api, cx, &group.display_name).await?.id),
        None => None,
    };
    let profile = UserProfile {
        first_name: state.first_name.clone(),
        last_name: state.last_name.clone(),
        display_name: state.display_name.clone(),
        sso_name: state.sso_name.clone(),
        group_id,
    };
    let existing = match existing {
        Some(user) => user,
        None => match api.invite_user(cx, &state.email, &profile).await {
            Ok(user) => return Ok(Applied::Invited(user.id)),
            // An earlier attempt's invite may have landed before its answer was lost.
            Err(e) if e.code() == Some("user_exists") => {
                api.find_user(cx, &state.email).await?.ok_or(e)?
            }
            Err(e) => return Err(e),
        },
    };
    let same = existing.first_name == profile.first_name
        && existing.last_name == profile.last_name
        && existing.display_name == profile.display_name
        && existing.sso_name == profile.sso_name
        && (profile.group_id.is_none() || existing.group_id == profile.group_id);
    if same && profile.group_id.is_some() {
        return Ok(Applied::Unchanged(existing.id));
    }
    let updated = api.update_user(cx, &existing.id, &profile).await?;
    if same {
        // Without a group the user belongs in the default group; the update put it there.
        return Ok(Applied::Unchanged(updated.id));
    }
    Ok(Applied::Updated(updated.id))
}

/// Finds a group by name or creates it.
pub async fn ensure_group(
    api: &dyn TeamApi,
    cx: &CallContext,
    name: &str,
) -> Result<TeamGroup, ApiError> {
    if let Some(group) = api.find_group(cx, name).await? {
        return Ok(group);
    }
    match api.create_group(cx, name).await {
        Ok(group) => Ok(group),
        // Created concurrently (a member's job ensured it first).
        Err(e) if e.code() == Some("group_exists") => api.find_group(cx, name).await?.ok_or(e),
        Err(e) => Err(e),
    }
}

/// Converges one group.
pub async fn apply_group(
    api: &dyn TeamApi,
    cx: &CallContext,
    state: &GroupState,
) -> Result<Applied, ApiError> {
    let current = api.find_group(cx, &state.display_name).await?;
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
    for former in &state.former_names {
        if let Some(old) = api.find_group(cx, former).await?.filter(|g| !g.is_default) {
            if current.is_none() {
                let renamed = api.rename_group(cx, &old.id, &state.display_name).await?;
                return Ok(Applied::GroupRenamed(renamed.id));
            }
            // A member's job created the new name first: the old group is stray.
            api.delete_group(cx, &old.id).await?;
        }
    }
    match current {
        Some(group) => Ok(Applied::Unchanged(group.id)),
        None => Ok(Applied::GroupCreated(
            ensure_group(api, cx, &state.display_name).await?.id,
        )),
    }
}
