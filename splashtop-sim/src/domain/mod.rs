//! The simulated team and Splashtop's rules, pure: no HTTP, no clock but the log's
//! timestamps. The team is held in memory: users, groups (one of them the default group)
//! and the Splashtop accounts removed from the team, with the API's operations; each
//! operation answers the wire body (`splashtop_api`) and what the log records.
//!
//! # Layout
//! - this module: [`Team`] and its user operations.
//! - `groups`: the group operations.
//! - `rules`: Splashtop's rules (SSO methods, allowed domains, seats, the group limit,
//!   foreign accounts, computer groups) and field validation.
//! - `error`: [`ApiError`], the error answer an operation decides.
//! - `journal`: the log of applied operations ([`LogEntry`]).

mod error;
mod groups;
mod journal;
mod paging;
mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{json, Value};
use splashtop_api::wire::{ROLE_MEMBER, STATUS_INVITED};
use splashtop_api::{ErrorCode, InviteUser, RemoveMode, TeamGroup, TeamUser, UpdateUser};
use uuid::Uuid;

pub(crate) use error::ApiError;
use groups::group_not_found;
pub use journal::LogEntry;
pub(crate) use journal::{Applied, Journal, RequestMeta};
pub(crate) use paging::{Listing, PageRequest};
pub(crate) use rules::{check_length, validate_email, Rules};

/// A team member.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) display_name: String,
    pub(crate) sso_name: Option<String>,
    pub(crate) group_id: String,
}

/// A user group.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) is_default: bool,
}

/// The team: its rules, users and groups.
#[derive(Debug)]
pub(crate) struct Team {
    pub(crate) id: String,
    rules: Rules,
    users: BTreeMap<String, User>,
    groups: BTreeMap<String, Group>,
    default_group: String,
    /// Emails (lowercase) of accounts removed from the team that still exist.
    detached: BTreeSet<String>,
}

impl Team {
    /// An empty team with only its default group.
    pub(crate) fn new(id: &str, rules: Rules) -> Self {
        let default = Group {
            id: new_id("g"),
            name: "Default".to_owned(),
            is_default: true,
        };
        let default_group = default.id.clone();
        Self {
            id: id.to_owned(),
            rules,
            users: BTreeMap::new(),
            groups: BTreeMap::from([(default_group.clone(), default)]),
            default_group,
            detached: BTreeSet::new(),
        }
    }

    /// The user as the API answers it.
    pub(crate) fn user_wire(&self, user: &User) -> TeamUser {
        TeamUser {
            id: user.id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            display_name: user.display_name.clone(),
            sso_name: user.sso_name.clone(),
            group_id: Some(user.group_id.clone()),
            role: ROLE_MEMBER.to_owned(),
            status: STATUS_INVITED.to_owned(),
        }
    }

    fn group_wire(&self, group: &Group, counts: &HashMap<&str, usize>) -> TeamGroup {
        TeamGroup {
            id: group.id.clone(),
            name: group.name.clone(),
            is_default: group.is_default,
            member_count: counts.get(group.id.as_str()).copied().unwrap_or(0) as u64,
        }
    }

    fn member_counts(&self) -> HashMap<&str, usize> {
        let mut counts = HashMap::new();
        for user in self.users.values() {
            *counts.entry(user.group_id.as_str()).or_default() += 1;
        }
        counts
    }

    fn group_name(&self, group_id: &str) -> Option<String> {
        self.groups.get(group_id).map(|g| g.name.clone())
    }

    fn find_by_email(&self, email: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    /// One page of the users, optionally only the one with this email
    /// (case-insensitive), sorted by email; and the next page's cursor.
    pub(crate) fn list_users(
        &self,
        email: Option<&str>,
        page: &PageRequest,
    ) -> (Vec<TeamUser>, Option<String>) {
        let email = email.map(str::to_lowercase);
        let mut users: Vec<(String, &User)> = self
            .users
            .values()
            .map(|u| (u.email.to_lowercase(), u))
            .filter(|(key, _)| email.as_ref().is_none_or(|e| e == key))
            .collect();
        users.sort_by(|a, b| a.0.cmp(&b.0));
        let (users, next) = page.page(Listing::Users, users);
        let users = users.into_iter().map(|u| self.user_wire(u)).collect();
        (users, next)
    }

    /// One user, or 404 `user_not_found`.
    pub(crate) fn user(&self, user_id: &str) -> Result<&User, ApiError> {
        self.users.get(user_id).ok_or_else(|| {
            ApiError::not_found(
                ErrorCode::UserNotFound,
                format!("no user {user_id} in this team"),
            )
        })
    }

    fn resolve_group(&self, group_id: Option<&str>) -> Result<String, ApiError> {
        match group_id {
            None => Ok(self.default_group.clone()),
            Some(id) if self.groups.contains_key(id) => Ok(id.to_owned()),
            Some(id) => Err(group_not_found(id)),
        }
    }

    /// Invites a user (see the contract for the order of the checks).
    pub(crate) fn invite(&mut self, invite: InviteUser) -> Result<(TeamUser, Applied), ApiError> {
        if let Some(existing) = self.find_by_email(&invite.email) {
            return Err(ApiError::conflict(
                ErrorCode::UserExists,
                format!(
                    "{} is already in this team as {}",
                    existing.email, existing.id
                ),
            ));
        }
        self.rules.check_foreign(&invite.email)?;
        let group_id = self.resolve_group(invite.group_id.as_deref())?;
        self.rules
            .check_sso(invite.sso_name.as_deref(), &invite.email)?;
        if self.users.len() as u64 >= self.rules.seats {
            return Err(ApiError::unprocessable(
                ErrorCode::SeatLimitReached,
                format!("the licence's {} seats are all taken", self.rules.seats),
            ));
        }
        let display_name = invite.display_name.unwrap_or_else(|| {
            let full = format!("{} {}", invite.first_name, invite.last_name);
            match full.trim() {
                "" => invite.email.clone(),
                name => name.to_owned(),
            }
        });
        let user = User {
            id: new_id("u"),
            email: invite.email,
            first_name: invite.first_name,
            last_name: invite.last_name,
            display_name,
            sso_name: invite.sso_name,
            group_id,
        };
        self.detached.remove(&user.email.to_lowercase());
        let applied = self.applied_user("invite_user", &user);
        let body = self.user_wire(&user);
        self.users.insert(user.id.clone(), user);
        Ok((body, applied))
    }

    /// Updates a user's names, SSO method or group.
    pub(crate) fn update(
        &mut self,
        user_id: &str,
        patch: UpdateUser,
    ) -> Result<(TeamUser, Applied), ApiError> {
        let mut user = self.user(user_id)?.clone();
        if let Some(group_id) = patch.group_id {
            user.group_id = self.resolve_group(group_id.as_deref())?;
        }
        if let Some(sso_name) = patch.sso_name {
            self.rules.check_sso(sso_name.as_deref(), &user.email)?;
            user.sso_name = sso_name;
        }
        if let Some(first_name) = patch.first_name {
            user.first_name = first_name;
        }
        if let Some(last_name) = patch.last_name {
            user.last_name = last_name;
        }
        if let Some(display_name) = patch.display_name {
            user.display_name = display_name;
        }
        let applied = self.applied_user("update_user", &user);
        let body = self.user_wire(&user);
        self.users.insert(user.id.clone(), user);
        Ok((body, applied))
    }

    /// Takes a user out of the team, keeping (`Remove`) or deleting (`Delete`) the account.
    pub(crate) fn remove(&mut self, user_id: &str, mode: RemoveMode) -> Result<Applied, ApiError> {
        self.user(user_id)?;
        let Some(user) = self.users.remove(user_id) else {
            return Err(ApiError::not_found(ErrorCode::UserNotFound, "no such user"));
        };
        let op = match mode {
            RemoveMode::Remove => {
                self.detached.insert(user.email.to_lowercase());
                "remove_user"
            }
            RemoveMode::Delete => "delete_user",
        };
        Ok(self.applied_user(op, &user))
    }

    fn applied_user(&self, op: &'static str, user: &User) -> Applied {
        Applied {
            op,
            email: Some(user.email.clone()),
            group: self.group_name(&user.group_id),
            user_id: Some(user.id.clone()),
            group_id: Some(user.group_id.clone()),
        }
    }

    /// The body of `GET /_sim/state`.
    pub(crate) fn snapshot(&self) -> Value {
        let mut users: Vec<&User> = self.users.values().collect();
        users.sort_by_key(|u| u.email.to_lowercase());
        let users: Vec<Value> = users
            .into_iter()
            .map(|u| {
                json!({
                    "id": u.id, "email": u.email, "first_name": u.first_name,
                    "last_name": u.last_name, "display_name": u.display_name,
                    "sso_name": u.sso_name, "group": self.group_name(&u.group_id),
                    "group_id": u.group_id, "status": "invited",
                })
            })
            .collect();
        json!({
            "team_id": self.id,
            "users": users,
            "groups": self.list_groups(None),
            "detached_accounts": self.detached,
        })
    }
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", Uuid::new_v4().simple())
}
