//! The team mirror in memory, with the Redis store's rules (for unit tests).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::future::BoxFuture;
use splashtop_api::{TeamGroup, TeamUser};
use tokio::time::Instant;

use super::{ready, MemoryStore};
use crate::state::mirror::{email_key, name_key, Mirror, MirrorGroup, Mirrored, FAILED};
use crate::state::StoreError;

/// One tenant's mirror.
#[derive(Debug, Default)]
pub(super) struct TeamMirror {
    complete: bool,
    lease: Option<(String, Instant)>,
    users: HashMap<String, Mirrored<TeamUser>>,
    groups: HashMap<String, MirrorGroup>,
    names: HashMap<String, String>,
    default: Option<String>,
}

impl TeamMirror {
    fn set_group(&mut self, group: MirrorGroup) {
        self.remove_group(&group.id);
        if group.is_default {
            self.default = Some(group.id.clone());
        }
        self.names.insert(name_key(&group.name), group.id.clone());
        self.groups.insert(group.id.clone(), group);
    }

    fn remove_group(&mut self, id: &str) {
        if let Some(old) = self.groups.remove(id) {
            let key = name_key(&old.name);
            if self.names.get(&key).is_some_and(|i| i == id) {
                self.names.remove(&key);
            }
        }
    }

    fn group_named(&self, name: &str) -> Option<MirrorGroup> {
        let id = self.names.get(&name_key(name))?;
        self.groups.get(id).cloned()
    }
}

impl MemoryStore {
    fn with_mirror<T>(&self, tenant: &str, f: impl FnOnce(&mut TeamMirror) -> T) -> T {
        let mut inner = self.lock();
        f(inner.mirrors.entry(tenant.to_owned()).or_default())
    }

    /// Drops the tenant's whole mirror, as a Redis that lost its data would.
    pub fn lose_mirror(&self, tenant: &str) {
        self.lock().mirrors.remove(tenant);
    }
}

impl Mirror for MemoryStore {
    fn mirror_complete<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.with_mirror(tenant, |m| m.complete))
    }

    fn mirror_lease<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.with_mirror(tenant, |m| {
            let now = Instant::now();
            if m.lease.as_ref().is_some_and(|(_, until)| *until > now) {
                return false;
            }
            m.lease = Some((holder.to_owned(), now + ttl));
            true
        }))
    }

    fn mirror_fill_failed<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        backoff: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| {
            if m.lease.as_ref().is_some_and(|(h, _)| h == holder) {
                m.lease = Some((FAILED.to_owned(), Instant::now() + backoff));
            }
        });
        ready(())
    }

    fn mirror_filling<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.with_mirror(tenant, |m| {
            m.lease
                .as_ref()
                .is_some_and(|(h, until)| h != FAILED && *until > Instant::now())
        }))
    }

    fn mirror_filled<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        ready(self.with_mirror(tenant, |m| {
            let held = m
                .lease
                .as_ref()
                .is_some_and(|(h, until)| h == holder && *until > Instant::now());
            if held {
                m.complete = true;
                m.lease = None;
            }
            held
        }))
    }

    fn mirror_forget<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| m.complete = false);
        ready(())
    }

    fn mirror_fill_users<'a>(
        &'a self,
        tenant: &'a str,
        users: &'a [TeamUser],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| {
            for user in users {
                m.users
                    .entry(email_key(&user.email))
                    .or_insert_with(|| Mirrored::Known(user.clone()));
            }
        });
        ready(())
    }

    fn mirror_fill_groups<'a>(
        &'a self,
        tenant: &'a str,
        groups: &'a [TeamGroup],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| {
            for group in groups {
                if !m.groups.contains_key(&group.id)
                    && !m.names.contains_key(&name_key(&group.name))
                {
                    m.set_group(MirrorGroup::from_team(group, None));
                }
                if group.is_default {
                    m.default = Some(group.id.clone());
                }
            }
        });
        ready(())
    }

    fn mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Mirrored<TeamUser>, StoreError>> {
        ready(self.with_mirror(tenant, |m| {
            m.users
                .get(&email_key(email))
                .cloned()
                .unwrap_or(Mirrored::Absent)
        }))
    }

    fn set_mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
        entry: &'a Mirrored<TeamUser>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| {
            let key = email_key(email);
            match entry {
                Mirrored::Absent => {
                    m.users.remove(&key);
                }
                other => {
                    m.users.insert(key, other.clone());
                }
            }
        });
        ready(())
    }

    fn mirror_group_named<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        ready(self.with_mirror(tenant, |m| m.group_named(name)))
    }

    fn mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        ready(self.with_mirror(tenant, |m| m.groups.get(id).cloned()))
    }

    fn mirror_default_group<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        ready(self.with_mirror(tenant, |m| {
            m.default.as_ref().and_then(|id| m.groups.get(id).cloned())
        }))
    }

    fn set_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        group: &'a MirrorGroup,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| m.set_group(group.clone()));
        ready(())
    }

    fn remove_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.with_mirror(tenant, |m| m.remove_group(id));
        ready(())
    }
}
