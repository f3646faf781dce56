//! What the unit tests share: a simulator with a client for it, a client that fails on
//! cue, and jobs.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use secrecy::SecretString;
use splashsync_protocol::job::{GroupJob, GroupRef, GroupState, Job, JobMeta, UserJob, UserState};
use splashsync_protocol::{JobKey, Tenant};
use splashtop_api::{
    ApiError, CallContext, GroupsPage, HttpTeamApi, TeamApi, TeamGroup, TeamUser, UserProfile,
    UsersPage,
};
use splashtop_sim::{SimConfig, SimHandle};

/// A simulator with `config` and a client for it.
pub(crate) async fn sim(config: SimConfig) -> (SimHandle, Arc<HttpTeamApi>) {
    let sim = splashtop_sim::spawn(config)
        .await
        .expect("simulator starts");
    let api = HttpTeamApi::new(
        &sim.base_url(),
        sim.team_id(),
        SecretString::from(sim.token().to_owned()),
        Duration::from_secs(5),
    )
    .expect("client builds");
    (sim, Arc::new(api))
}

/// The simulated team's users as `(email, group name)`, sorted by email.
pub(crate) fn users(sim: &SimHandle) -> Vec<(String, String)> {
    let state = sim.snapshot();
    let users = state["users"].as_array().cloned().unwrap_or_default();
    users
        .iter()
        .map(|u| {
            let text = |k: &str| u[k].as_str().unwrap_or_default().to_owned();
            (text("email"), text("group"))
        })
        .collect()
}

fn meta(key: JobKey, version: i64) -> JobMeta {
    JobMeta {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant: "default".into(),
        key,
        version,
        created_at: "2026-01-01T00:00:00Z".into(),
        origin: "unit-test".into(),
    }
}

/// The desired state of user `user_id` (its first name `first`), in `group` if any.
pub(crate) fn user_state(
    user_id: &str,
    email: &str,
    first: &str,
    group: Option<(&str, &str)>,
) -> UserState {
    UserState {
        user_id: user_id.into(),
        user_name: email.into(),
        email: email.into(),
        first_name: first.into(),
        last_name: "Lovelace".into(),
        display_name: format!("{first} Lovelace"),
        active: true,
        group: group.map(|(group_id, name)| GroupRef {
            group_id: group_id.into(),
            display_name: name.into(),
        }),
        sso_name: None,
        deleted: false,
        incarnation: None,
    }
}

/// A user job of `version` carrying `state`.
pub(crate) fn user_job(state: UserState, version: i64) -> Job {
    Job::UserV1(UserJob {
        meta: meta(JobKey::user(&Tenant::default(), &state.user_id), version),
        state,
    })
}

/// The desired state of group `group_id`.
pub(crate) fn group_state(
    group_id: &str,
    name: &str,
    former: &[&str],
    deleted: bool,
) -> GroupState {
    GroupState {
        group_id: group_id.into(),
        display_name: name.into(),
        former_names: former.iter().map(|n| (*n).to_owned()).collect(),
        deleted,
    }
}

/// A group job of `version` carrying `state`.
pub(crate) fn group_job(state: GroupState, version: i64) -> Job {
    Job::GroupV1(GroupJob {
        meta: meta(JobKey::group(&Tenant::default(), &state.group_id), version),
        state,
    })
}

/// A [`TeamApi`] whose calls fail with the queued errors first (or always with one),
/// then reach `inner`.
#[derive(Debug)]
pub(crate) struct Flaky {
    inner: Arc<dyn TeamApi>,
    queued: Mutex<VecDeque<ApiError>>,
    always: Option<ApiError>,
    calls: AtomicU32,
    /// Calls that pass before the queued errors start.
    passes: u32,
}

impl Flaky {
    /// Fails the next calls with `errors`, in order.
    pub(crate) fn new(inner: Arc<dyn TeamApi>, errors: Vec<ApiError>) -> Self {
        Self {
            inner,
            queued: Mutex::new(errors.into()),
            always: None,
            calls: AtomicU32::new(0),
            passes: 0,
        }
    }

    /// Lets the first `passes` calls through, then fails the next ones with `errors`.
    pub(crate) fn after(inner: Arc<dyn TeamApi>, passes: u32, errors: Vec<ApiError>) -> Self {
        Self {
            passes,
            ..Self::new(inner, errors)
        }
    }

    /// Fails every call with `error`.
    pub(crate) fn always(inner: Arc<dyn TeamApi>, error: ApiError) -> Self {
        Self {
            always: Some(error),
            ..Self::new(inner, Vec::new())
        }
    }

    /// How many calls were made.
    pub(crate) fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    fn failure(&self) -> Option<ApiError> {
        if self.calls.fetch_add(1, Ordering::Relaxed) < self.passes {
            return None;
        }
        let queued = self
            .queued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front();
        queued.or_else(|| self.always.clone())
    }

    fn call<'a, T: Send + 'a>(
        &'a self,
        call: BoxFuture<'a, Result<T, ApiError>>,
    ) -> BoxFuture<'a, Result<T, ApiError>> {
        match self.failure() {
            Some(e) => Box::pin(std::future::ready(Err(e))),
            None => call,
        }
    }
}

impl TeamApi for Flaky {
    fn find_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamUser>, ApiError>> {
        self.call(self.inner.find_user(cx, email))
    }
    fn users_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>> {
        self.call(self.inner.users_page(cx, cursor, limit))
    }
    fn groups_page<'a>(
        &'a self,
        cx: &'a CallContext,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>> {
        self.call(self.inner.groups_page(cx, cursor, limit))
    }
    fn invite_user<'a>(
        &'a self,
        cx: &'a CallContext,
        email: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        self.call(self.inner.invite_user(cx, email, profile))
    }
    fn update_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        profile: &'a UserProfile,
    ) -> BoxFuture<'a, Result<TeamUser, ApiError>> {
        self.call(self.inner.update_user(cx, user_id, profile))
    }
    fn remove_user<'a>(
        &'a self,
        cx: &'a CallContext,
        user_id: &'a str,
        delete: bool,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.call(self.inner.remove_user(cx, user_id, delete))
    }
    fn find_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<TeamGroup>, ApiError>> {
        self.call(self.inner.find_group(cx, name))
    }
    fn default_group<'a>(
        &'a self,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        self.call(self.inner.default_group(cx))
    }
    fn group_members<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<Vec<TeamUser>, ApiError>> {
        self.call(self.inner.group_members(cx, group_id))
    }
    fn create_group<'a>(
        &'a self,
        cx: &'a CallContext,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        self.call(self.inner.create_group(cx, name))
    }
    fn rename_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<TeamGroup, ApiError>> {
        self.call(self.inner.rename_group(cx, group_id, name))
    }
    fn delete_group<'a>(
        &'a self,
        cx: &'a CallContext,
        group_id: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>> {
        self.call(self.inner.delete_group(cx, group_id))
    }
}

/// Fills `store`'s mirror of the default tenant from `api`'s listing and marks it
/// complete, as the first job would: tests of what follows start from a trusted mirror.
pub(crate) async fn fill_mirror(store: &crate::state::MemoryStore, api: &dyn TeamApi) {
    use crate::state::Mirror;
    let cx = CallContext::default();
    let tenant = Tenant::default();
    let tenant = tenant.as_str();
    assert!(store
        .mirror_lease(tenant, "test", Duration::from_secs(60))
        .await
        .unwrap());
    let groups = api
        .groups_page(&cx, None, 500)
        .await
        .expect("groups listed");
    assert_eq!(groups.next_cursor, None, "one page in tests");
    store
        .mirror_fill_groups(tenant, &groups.groups)
        .await
        .unwrap();
    let users = api.users_page(&cx, None, 500).await.expect("users listed");
    assert_eq!(users.next_cursor, None, "one page in tests");
    store.mirror_fill_users(tenant, &users.users).await.unwrap();
    assert!(store.mirror_filled(tenant, "test").await.unwrap());
}
