//! Converging Splashtop to the desired state a job carries, over the [`TeamApi`] and
//! [`StateStore`] traits (unit tests run it on the simulator and a [`MemoryStore`]).
//!
//! A job sees Splashtop through a [`View`]: the team mirror when it is complete, so a
//! job makes one call per change (none when Splashtop already matches), and reads
//! otherwise. Every function changes only what differs, so applying a job twice is
//! harmless (docs/DESIGN.md, invariant 4).
//!
//! Group jobs and their members' user jobs run on different partitions, so they race.
//! A group job records its intent (new name, or deleted) in the [`StateStore`] before
//! it touches Splashtop; a user job resolves its group through that intent, so it never
//! recreates a group under a name that is being renamed away, nor a deleted group, and
//! it re-checks the intent after creating a group, undoing the creation if it lost the
//! race. The mirror remembers which SCIM group created or renamed each Splashtop group:
//! a member never joins a group that only bears its group's name (another SCIM group
//! owns it, e.g. one renamed away whose rename has not run yet), and a rename or delete
//! leaves alone a group another SCIM group owns. A group id that vanished under a
//! user's update is retried, not dead-lettered.

mod view;

use splashsync_protocol::job::{GroupRef, GroupState, UserState};
use splashsync_protocol::{JobKey, Tenant};

use crate::config::DeactivateMode;
use crate::metrics::MirrorMetrics;
#[cfg(doc)]
use crate::state::MemoryStore;
use crate::state::{GroupIntent, MirrorGroup, StateStore, StoreError};
use splashtop_api::{ApiError, CallContext, ErrorCode, TeamApi, TeamGroup, TeamUser, UserProfile};
pub(crate) use view::View;

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

/// What was done, in the words operators read in timelines and logs.
impl std::fmt::Display for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (words, id) = match self {
            Applied::Invited(id) => ("invited to the team", id),
            Applied::Updated(id) => ("updated", id),
            Applied::Unchanged(id) => ("already up to date", id),
            Applied::Removed(id) => ("removed from the team", id),
            Applied::GroupCreated(id) => ("group created", id),
            Applied::GroupRenamed(id) => ("group renamed", id),
            Applied::GroupDeleted(id) => ("group deleted", id),
            Applied::AlreadyAbsent => return f.write_str("already absent from Splashtop"),
            Applied::Skipped { newer } => {
                return write!(
                    f,
                    "skipped: version {newer} of this key was applied already"
                )
            }
            Applied::Superseded { by } => {
                return write!(
                    f,
                    "skipped: a newer account with this userName ({by}) acted already"
                )
            }
        };
        write!(f, "{words} (Splashtop id {id})")
    }
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
    /// The team mirror's counters.
    pub metrics: &'a MirrorMetrics,
    /// Read Splashtop before writing, whatever the mirror says (the job's `verify`: a
    /// reconciliation saw Splashtop changed behind the mirror).
    pub verify: bool,
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
    let view = View::open(env).await?;
    let existing = view.user(&state.email).await?;
    if !state.active || state.deleted {
        return match existing {
            Some(user) => {
                view.remove(&state.email, &user, mode == DeactivateMode::Delete)
                    .await?;
                Ok(Applied::Removed(user.id))
            }
            None => Ok(Applied::AlreadyAbsent),
        };
    }
    let group = resolve_group(view, env, state.group.as_ref()).await?;
    let profile = UserProfile {
        first_name: state.first_name.clone(),
        last_name: state.last_name.clone(),
        display_name: state.display_name.clone(),
        sso_name: state.sso_name.clone(),
        // Always explicit, the default group's id included: no implicit moves.
        group_id: Some(group.id),
    };
    match converge_user(view, &state.email, existing, &profile).await {
        Err(e) if e.has_code(&ErrorCode::GroupNotFound) => {
            // Deleted meanwhile, or the mirror was wrong: the retry resolves it afresh.
            view.miss();
            view.refresh_group(&group.name).await?;
            Err(transient("the user's group vanished meanwhile"))
        }
        other => other,
    }
}

/// Invites or updates the user to `profile`, from what the view says it is. A write
/// Splashtop refuses because the view was wrong (409 `user_exists`, 404
/// `user_not_found`) reads the user and tries once more.
async fn converge_user(
    view: View<'_>,
    email: &str,
    mut existing: Option<TeamUser>,
    profile: &UserProfile,
) -> Result<Applied, ApiError> {
    for _ in 0..2 {
        existing = match existing {
            None => match view.invite(email, profile).await {
                Ok(user) => return Ok(Applied::Invited(user.id)),
                // The mirror missed it, or an earlier attempt's invite landed before its
                // answer was lost.
                Err(e) if e.has_code(&ErrorCode::UserExists) => {
                    view.miss();
                    Some(view.read_user(email).await?.ok_or(e)?)
                }
                Err(e) => return Err(e),
            },
            Some(user) if profile.matches(&user) => return Ok(Applied::Unchanged(user.id)),
            Some(user) => match view.update(email, &user, profile).await {
                Ok(updated) => return Ok(Applied::Updated(updated.id)),
                Err(e) if e.has_code(&ErrorCode::UserNotFound) => {
                    view.miss();
                    view.read_user(email).await?
                }
                Err(e) => return Err(e),
            },
        };
    }
    Err(transient(
        "Splashtop changed under the user twice in one attempt",
    ))
}

/// The Splashtop group a user belongs in: its group as the newest group job sees it,
/// or the default group when it has none or the group is being deleted.
async fn resolve_group(
    view: View<'_>,
    env: Env<'_>,
    group: Option<&GroupRef>,
) -> Result<TeamGroup, ApiError> {
    let Some(group) = group else {
        return view.default_group().await;
    };
    let key = JobKey::group(env.tenant, &group.group_id);
    let name = match env.store.group_intent(&key).await? {
        Some(intent) if intent.deleted => return view.default_group().await,
        Some(intent) => intent.name,
        None => group.display_name.clone(),
    };
    let (found, created) = ensure_group(view, &name, &group.group_id).await?;
    if let Some(other) = found.owner.as_ref().filter(|o| **o != group.group_id) {
        return Err(transient(format!(
            "the Splashtop group {name:?} belongs to another SCIM group ({other}) until its rename or delete runs"
        )));
    }
    if created {
        match env.store.group_intent(&key).await? {
            Some(intent) if intent.deleted => {
                view.delete_group(&found.id).await?;
                return Err(transient("the group was deleted meanwhile"));
            }
            Some(intent) if intent.name != name => {
                merge_group(view, &found, &intent.name, &group.group_id).await?;
                return Err(transient("the group was renamed meanwhile"));
            }
            _ => {}
        }
    }
    Ok(found.to_team())
}

/// Finds a group by name or creates it for SCIM group `owner`; `true` when this call
/// created it.
async fn ensure_group(
    view: View<'_>,
    name: &str,
    owner: &str,
) -> Result<(MirrorGroup, bool), ApiError> {
    if let Some(group) = view.group_named(name).await? {
        return Ok((group, false));
    }
    // Many members of a new group run at once on their partitions: one creates it, the
    // others wait for it to show in the mirror instead of each drawing a 409.
    if let Some(group) = view.created_by_another(name).await? {
        return Ok((group, false));
    }
    match view.create_group(name, owner).await {
        Ok(group) => Ok((group, true)),
        // Created concurrently (a member's job ensured it first), or the mirror missed it.
        Err(e) if e.has_code(&ErrorCode::GroupExists) => {
            view.miss();
            Ok((view.refresh_group(name).await?.ok_or(e)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Moves every member of `from` into the group named `into` (created if need be), then
/// deletes `from`: two groups that must become one lose no membership.
async fn merge_group(
    view: View<'_>,
    from: &MirrorGroup,
    into: &str,
    owner: &str,
) -> Result<MirrorGroup, ApiError> {
    let (target, _) = ensure_group(view, into, owner).await?;
    view.move_members(&from.id, &target.id).await?;
    view.delete_group(&from.id).await?;
    Ok(target)
}

/// Converges one group of job version `version`.
pub async fn apply_group(
    env: Env<'_>,
    key: &JobKey,
    version: i64,
    state: &GroupState,
) -> Result<Applied, ApiError> {
    let intent = GroupIntent {
        version,
        name: state.display_name.clone(),
        deleted: state.deleted,
    };
    if !env.store.start_group_job(key, &intent).await? {
        let newer = env
            .store
            .group_intent(key)
            .await?
            .map_or(version, |i| i.version);
        return Ok(Applied::Skipped { newer });
    }
    let view = View::open(env).await?;
    let owner = state.group_id.as_str();
    // A group of this name is this group's unless another SCIM group owns it.
    let mine = |group: Option<MirrorGroup>| {
        group.filter(|g| !g.is_default && g.owner.as_deref().is_none_or(|o| o == owner))
    };
    if state.deleted {
        // A delete reads Splashtop, not the mirror: a member's create whose answer was lost
        // (applied, then an error) left a group the mirror never heard of, and a delete that
        // trusted the mirror would leave it behind. Deletes are rare: one listing read.
        let mut deleted = None;
        for group in view.refresh_groups_named(&all_names(state)).await? {
            if let Some(group) = mine(Some(group)) {
                view.delete_group(&group.id).await?;
                deleted = Some(group.id);
            }
        }
        return Ok(deleted.map_or(Applied::AlreadyAbsent, Applied::GroupDeleted));
    }
    match converge_group(view, state, mine).await {
        // The mirror was wrong: a group it knows is gone (an earlier attempt's merge or
        // delete applied but its answer was lost), or a name it thinks free is taken (a
        // member's job created it, answer lost). The retry decides afresh from what this
        // read of the listing put in the mirror.
        Err(e) if e.has_code(&ErrorCode::GroupExists) || e.has_code(&ErrorCode::GroupNotFound) => {
            view.miss();
            view.refresh_groups_named(&all_names(state)).await?;
            Err(transient("the group's names changed behind the mirror"))
        }
        other => other,
    }
}

/// Every name a group job covers: its current one, then those it had before.
fn all_names(state: &GroupState) -> Vec<&str> {
    std::iter::once(&state.display_name)
        .chain(&state.former_names)
        .map(String::as_str)
        .collect()
}

/// Converges a group that exists in the directory: renamed from a former name, folded
/// into a group its members' jobs created, or created.
async fn converge_group(
    view: View<'_>,
    state: &GroupState,
    mine: impl Fn(Option<MirrorGroup>) -> Option<MirrorGroup>,
) -> Result<Applied, ApiError> {
    let owner = state.group_id.as_str();
    let mut current = mine(view.group_named(&state.display_name).await?);
    // Names it had before: a rename in flight leaves no stray group behind.
    let mut renamed = None;
    for former in &state.former_names {
        let Some(old) = mine(view.group_named(former).await?) else {
            continue;
        };
        match &current {
            None => {
                let group = view
                    .rename_group(&old.id, &state.display_name, owner)
                    .await?;
                renamed = Some(group.id.clone());
                current = Some(group);
            }
            // A member's job created the new name first: fold the old group into it.
            Some(_) => {
                merge_group(view, &old, &state.display_name, owner).await?;
            }
        }
    }
    match (current, renamed) {
        (_, Some(id)) => Ok(Applied::GroupRenamed(id)),
        (Some(group), None) => Ok(Applied::Unchanged(claim(view, group, owner).await?)),
        (None, None) => Ok(Applied::GroupCreated(
            ensure_group(view, &state.display_name, owner).await?.0.id,
        )),
    }
}

/// Records that SCIM group `owner` owns `group` (found by its name, e.g. listed), so
/// that no other SCIM group's jobs take it.
async fn claim(view: View<'_>, group: MirrorGroup, owner: &str) -> Result<String, ApiError> {
    if group.owner.is_none() {
        view.own_group(&group, owner).await?;
    }
    Ok(group.id)
}

#[cfg(test)]
mod mirror_tests;
#[cfg(test)]
mod tests;
