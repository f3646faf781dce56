//! [`View`]: Splashtop as one job sees it: the team mirror when it is complete, reads
//! otherwise; and every write, recorded into the mirror from its answer.
//!
//! The rules (docs/DESIGN.md, "The team mirror"):
//! - a job trusts the mirror only when it is complete. The first job that finds it
//!   incomplete fills it from the listing under a lease; the others wait for it a few
//!   seconds, then (and whenever a fill failed halfway) read Splashtop as they did
//!   before the mirror;
//! - a user entry is set [`Mirrored::Unknown`] before each write and to the answer after
//!   it, so a lost or unreadable answer (or a worker killed in between) makes the next
//!   job read that user first;
//! - Splashtop refusing a write because the mirror was wrong (404 `user_not_found`, 409
//!   `user_exists`, `group_exists`, 404 `group_not_found`) refreshes that one entry and
//!   counts a `mirror_miss`; the caller retries.

use std::time::Duration;

use splashtop_api::{ApiError, TeamGroup, TeamUser, UserProfile, MAX_PAGE_LIMIT};

use super::Env;
use crate::state::{MirrorGroup, Mirrored};
use fill::fill;

mod fill;

/// How long a fill may take before another job may start one: long enough for a large
/// team's pages at Splashtop's 200 calls a minute (a killed filler's lease expires; a
/// failed fill keeps it, so jobs read meanwhile rather than hammer the listing).
const FILL_LEASE: Duration = Duration::from_secs(300);

/// After a failed fill, how long jobs read Splashtop before one tries the listing again.
const FILL_BACKOFF: Duration = Duration::from_secs(30);
/// How long a job waits for another job's fill before it reads Splashtop instead.
const FILL_WAIT: Duration = Duration::from_secs(5);
/// How often it looks meanwhile.
const FILL_POLL: Duration = Duration::from_millis(50);

/// How long a job waits for another job creating the group it needs.
const CREATE_WAIT: Duration = Duration::from_secs(2);

/// Splashtop as one job sees it.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    env: Env<'a>,
    trusted: bool,
}

impl<'a> View<'a> {
    /// The view of a job: the mirror if it is complete (filling it first if this job is
    /// the first to find it incomplete), reads otherwise.
    pub(crate) async fn open(env: Env<'a>) -> Result<Self, ApiError> {
        let tenant = env.tenant.as_str();
        let store = env.store;
        if env.verify {
            // A reconciliation found Splashtop changed behind the mirror: read what this
            // job touches (each read also corrects the mirror's entry).
            return Ok(Self {
                env,
                trusted: false,
            });
        }
        let trusted = if store.mirror_complete(tenant).await? {
            true
        } else if store
            .mirror_lease(tenant, &env.cx.job_id, FILL_LEASE)
            .await?
        {
            // Another job may have completed a fill (and let its lease go) since we looked.
            if store.mirror_complete(tenant).await? {
                return Ok(Self { env, trusted: true });
            }
            match fill(env).await {
                Ok(complete) => complete,
                Err(error) if crate::limiter::not_made(&error) => {
                    // Its partition stopped (moving to another worker) while a page waited
                    // for its slot: nothing failed, so the next job fills at once rather
                    // than every job reading for the failed fill's backoff.
                    store
                        .mirror_fill_failed(tenant, &env.cx.job_id, Duration::ZERO)
                        .await?;
                    return Err(error);
                }
                Err(error) => {
                    tracing::warn!(%error, "the team listing failed; this job reads Splashtop instead of the mirror");
                    env.metrics.fill("failed");
                    // Nobody waits for it, and nobody fills again for a while.
                    store
                        .mirror_fill_failed(tenant, &env.cx.job_id, FILL_BACKOFF)
                        .await?;
                    false
                }
            }
        } else {
            // Another job is filling it: a short wait usually spares this job its reads.
            let mut waited = Duration::ZERO;
            loop {
                if store.mirror_complete(tenant).await? {
                    break true;
                }
                if waited >= FILL_WAIT || !store.mirror_filling(tenant).await? {
                    break false;
                }
                tokio::time::sleep(FILL_POLL).await;
                waited += FILL_POLL;
            }
        };
        Ok(Self { env, trusted })
    }

    fn tenant(&self) -> &'a str {
        self.env.tenant.as_str()
    }

    /// Counts a write refused because the mirror was wrong.
    pub(crate) fn miss(&self) {
        if self.trusted {
            self.env.metrics.miss();
        }
    }

    /// The team member with this email.
    pub(crate) async fn user(&self, email: &str) -> Result<Option<TeamUser>, ApiError> {
        if self.trusted {
            match self.env.store.mirror_user(self.tenant(), email).await? {
                Mirrored::Absent => return Ok(None),
                Mirrored::Known(user) => return Ok(Some(self.effective(user).await?)),
                Mirrored::Unknown => {}
            }
        }
        self.read_user(email).await
    }

    /// Reads the user from Splashtop and records what it found.
    pub(crate) async fn read_user(&self, email: &str) -> Result<Option<TeamUser>, ApiError> {
        self.env.metrics.read();
        let found = self.env.api.find_user(self.env.cx, email).await?;
        let entry = found.clone().map_or(Mirrored::Absent, Mirrored::Known);
        self.env
            .store
            .set_mirror_user(self.tenant(), email, &entry)
            .await?;
        Ok(found)
    }

    /// A mirrored user whose group was deleted since is in the default group: Splashtop
    /// moves a deleted group's members there.
    async fn effective(&self, mut user: TeamUser) -> Result<TeamUser, ApiError> {
        let Some(group_id) = user.group_id.clone() else {
            return Ok(user);
        };
        if self
            .env
            .store
            .mirror_group(self.tenant(), &group_id)
            .await?
            .is_none()
        {
            user.group_id = Some(self.default_group().await?.id);
        }
        Ok(user)
    }

    async fn before_write(&self, email: &str) -> Result<(), ApiError> {
        let unknown = Mirrored::Unknown;
        Ok(self
            .env
            .store
            .set_mirror_user(self.tenant(), email, &unknown)
            .await?)
    }

    async fn after_write(&self, email: &str, entry: Mirrored<TeamUser>) -> Result<(), ApiError> {
        Ok(self
            .env
            .store
            .set_mirror_user(self.tenant(), email, &entry)
            .await?)
    }

    /// A write that failed: when it was never sent (its partition stopped while it waited
    /// for a rate-limiter slot, as when partitions move between workers), Splashtop is as
    /// the mirror knew it, so the entry goes back to `before` instead of staying unknown
    /// (which would cost the job's next attempt a read).
    async fn failed_write(
        &self,
        email: &str,
        before: Mirrored<TeamUser>,
        error: ApiError,
    ) -> Result<TeamUser, ApiError> {
        if crate::limiter::not_made(&error) {
            self.after_write(email, before).await?;
        }
        Err(error)
    }

    /// Invites a user; the entry is unknown until the answer is recorded.
    pub(crate) async fn invite(
        &self,
        email: &str,
        profile: &UserProfile,
    ) -> Result<TeamUser, ApiError> {
        self.before_write(email).await?;
        let user = match self.env.api.invite_user(self.env.cx, email, profile).await {
            Ok(user) => user,
            Err(e) => return self.failed_write(email, Mirrored::Absent, e).await,
        };
        self.after_write(email, Mirrored::Known(user.clone()))
            .await?;
        Ok(user)
    }

    /// Updates a user (as the view saw it: `user`); the entry is unknown until the answer
    /// is recorded.
    pub(crate) async fn update(
        &self,
        email: &str,
        user: &TeamUser,
        profile: &UserProfile,
    ) -> Result<TeamUser, ApiError> {
        self.before_write(email).await?;
        let user = match self
            .env
            .api
            .update_user(self.env.cx, &user.id, profile)
            .await
        {
            Ok(updated) => updated,
            Err(e) => {
                return self
                    .failed_write(email, Mirrored::Known(user.clone()), e)
                    .await
            }
        };
        // The answer's email is the account's own spelling: record under the one asked.
        self.after_write(email, Mirrored::Known(user.clone()))
            .await?;
        Ok(user)
    }

    /// Removes a user (as the view saw it: `user`); the entry is unknown until the answer
    /// is recorded.
    pub(crate) async fn remove(
        &self,
        email: &str,
        user: &TeamUser,
        delete: bool,
    ) -> Result<(), ApiError> {
        self.before_write(email).await?;
        let removed = self.env.api.remove_user(self.env.cx, &user.id, delete);
        if let Err(e) = removed.await {
            let before = Mirrored::Known(user.clone());
            return self.failed_write(email, before, e).await.map(drop);
        }
        self.after_write(email, Mirrored::Absent).await
    }

    /// The team's default group.
    pub(crate) async fn default_group(&self) -> Result<TeamGroup, ApiError> {
        if let Some(group) = self.env.store.mirror_default_group(self.tenant()).await? {
            return Ok(group.to_team());
        }
        self.env.api.default_group(self.env.cx).await
    }

    /// The group named `name` (case-insensitive), with its owner when the mirror knows it.
    pub(crate) async fn group_named(&self, name: &str) -> Result<Option<MirrorGroup>, ApiError> {
        let mirrored = self
            .env
            .store
            .mirror_group_named(self.tenant(), name)
            .await?;
        if self.trusted {
            return Ok(mirrored);
        }
        self.read_group(name, mirrored).await
    }

    /// Reads the group named `name` from Splashtop and records what it found (keeping the
    /// owner the mirror knew, if it is the same group).
    pub(crate) async fn refresh_group(&self, name: &str) -> Result<Option<MirrorGroup>, ApiError> {
        let mirrored = self
            .env
            .store
            .mirror_group_named(self.tenant(), name)
            .await?;
        self.read_group(name, mirrored).await
    }

    /// Reads the groups named any of `names` (case-insensitive) from Splashtop's listing,
    /// one call per page rather than one read per name (a group delete carrying many former
    /// names would otherwise make an attempt of many calls, each a chance to fail), and
    /// records what it found, keeping the owners the mirror knew.
    pub(crate) async fn refresh_groups_named(
        &self,
        names: &[&str],
    ) -> Result<Vec<MirrorGroup>, ApiError> {
        let wanted: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let store = self.env.store;
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            self.env.metrics.read();
            let page = self
                .env
                .api
                .groups_page(self.env.cx, cursor.as_deref(), MAX_PAGE_LIMIT)
                .await?;
            found.extend(
                page.groups
                    .into_iter()
                    .filter(|g| wanted.contains(&g.name.to_lowercase())),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut groups = Vec::with_capacity(found.len());
        for name in names {
            let mirrored = store.mirror_group_named(self.tenant(), name).await?;
            let listed = found.iter().find(|g| g.name.eq_ignore_ascii_case(name));
            match (listed, mirrored) {
                (Some(group), mirrored) => {
                    let owner = mirrored.filter(|m| m.id == group.id).and_then(|m| m.owner);
                    let group = MirrorGroup::from_team(group, owner.as_deref());
                    store.set_mirror_group(self.tenant(), &group).await?;
                    if !groups.iter().any(|g: &MirrorGroup| g.id == group.id) {
                        groups.push(group);
                    }
                }
                (None, Some(stale)) => store.remove_mirror_group(self.tenant(), &stale.id).await?,
                (None, None) => {}
            }
        }
        Ok(groups)
    }

    async fn read_group(
        &self,
        name: &str,
        mirrored: Option<MirrorGroup>,
    ) -> Result<Option<MirrorGroup>, ApiError> {
        self.env.metrics.read();
        let found = self.env.api.find_group(self.env.cx, name).await?;
        let store = self.env.store;
        match (found, mirrored) {
            (Some(group), mirrored) => {
                let owner = mirrored.filter(|m| m.id == group.id).and_then(|m| m.owner);
                let group = MirrorGroup::from_team(&group, owner.as_deref());
                store.set_mirror_group(self.tenant(), &group).await?;
                Ok(Some(group))
            }
            (None, Some(stale)) => {
                store.remove_mirror_group(self.tenant(), &stale.id).await?;
                Ok(None)
            }
            (None, None) => Ok(None),
        }
    }

    /// When another job is creating the group named `name` (it took the name's short
    /// lease first), waits up to [`CREATE_WAIT`] for it to show in the mirror. `None`:
    /// this job is to create it (it holds the lease, the mirror is not trusted, or the
    /// other job did not finish in time).
    pub(crate) async fn created_by_another(
        &self,
        name: &str,
    ) -> Result<Option<MirrorGroup>, ApiError> {
        if !self.trusted {
            return Ok(None);
        }
        let store = self.env.store;
        let lease = format!("{}:group:{}", self.tenant(), name.to_lowercase());
        if store
            .mirror_lease(&lease, &self.env.cx.job_id, CREATE_WAIT * 2)
            .await?
        {
            return Ok(None);
        }
        let mut waited = Duration::ZERO;
        while waited < CREATE_WAIT {
            tokio::time::sleep(FILL_POLL).await;
            waited += FILL_POLL;
            if let Some(group) = store.mirror_group_named(self.tenant(), name).await? {
                return Ok(Some(group));
            }
        }
        Ok(None)
    }

    /// Creates a group owned by `owner`.
    pub(crate) async fn create_group(
        &self,
        name: &str,
        owner: &str,
    ) -> Result<MirrorGroup, ApiError> {
        let created = self.env.api.create_group(self.env.cx, name).await?;
        self.record_group(&created, owner).await
    }

    /// Renames a group, now owned by `owner`.
    pub(crate) async fn rename_group(
        &self,
        id: &str,
        name: &str,
        owner: &str,
    ) -> Result<MirrorGroup, ApiError> {
        let renamed = self.env.api.rename_group(self.env.cx, id, name).await?;
        self.record_group(&renamed, owner).await
    }

    async fn record_group(&self, group: &TeamGroup, owner: &str) -> Result<MirrorGroup, ApiError> {
        let group = MirrorGroup::from_team(group, Some(owner));
        self.env
            .store
            .set_mirror_group(self.tenant(), &group)
            .await?;
        Ok(group)
    }

    /// Records that SCIM group `owner` owns `group`.
    pub(crate) async fn own_group(&self, group: &MirrorGroup, owner: &str) -> Result<(), ApiError> {
        let owned = MirrorGroup {
            owner: Some(owner.to_owned()),
            ..group.clone()
        };
        Ok(self
            .env
            .store
            .set_mirror_group(self.tenant(), &owned)
            .await?)
    }

    /// Deletes a group (its members fall back to the default group).
    pub(crate) async fn delete_group(&self, id: &str) -> Result<(), ApiError> {
        self.env.api.delete_group(self.env.cx, id).await?;
        Ok(self
            .env
            .store
            .remove_mirror_group(self.tenant(), id)
            .await?)
    }

    /// Moves every member of group `from` into group `into`. The members' own jobs run
    /// on other partitions and may write them at the same moment, so whose answer came
    /// last says nothing of which write Splashtop applied last: their entries are left
    /// unknown, and each member's next job reads it first.
    pub(crate) async fn move_members(&self, from: &str, into: &str) -> Result<(), ApiError> {
        self.env.metrics.read();
        for member in self.env.api.group_members(self.env.cx, from).await? {
            let profile = UserProfile {
                first_name: member.first_name,
                last_name: member.last_name,
                display_name: member.display_name,
                sso_name: member.sso_name,
                group_id: Some(into.to_owned()),
            };
            self.before_write(&member.email).await?;
            self.env
                .api
                .update_user(self.env.cx, &member.id, &profile)
                .await?;
            self.before_write(&member.email).await?;
        }
        Ok(())
    }
}
