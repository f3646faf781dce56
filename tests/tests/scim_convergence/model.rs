//! The directory as the receiver answered it, and the team Splashtop must then hold.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub(crate) const USERS: usize = 5;
pub(crate) const GROUPS: usize = 3;

#[derive(Debug, Clone)]
pub(crate) struct MUser {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) given: String,
    pub(crate) family: String,
    pub(crate) display: Option<String>,
    pub(crate) active: bool,
    pub(crate) group: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct MGroup {
    pub(crate) id: String,
    pub(crate) name: String,
}

/// The directory as the receiver answered it (2xx only), by user and group slot.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) users: [Option<MUser>; USERS],
    pub(crate) groups: [Option<MGroup>; GROUPS],
}

/// email → (first, last, display, group name); group names with `is_default`.
pub(crate) type Team = (
    BTreeMap<String, (String, String, String, String)>,
    BTreeSet<(String, bool)>,
);

impl Model {
    pub(crate) fn expected(&self) -> Team {
        let users = self
            .users
            .iter()
            .flatten()
            .filter(|u| u.active)
            .map(|u| {
                let display = u
                    .display
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", u.given, u.family).trim().to_string());
                let group = u.group.map_or("Default".to_string(), |g| {
                    self.groups[g]
                        .as_ref()
                        .expect("member of a live group")
                        .name
                        .clone()
                });
                (
                    u.email.clone(),
                    (u.given.clone(), u.family.clone(), display, group),
                )
            })
            .collect();
        let mut groups: BTreeSet<(String, bool)> = self
            .groups
            .iter()
            .flatten()
            .map(|g| (g.name.clone(), false))
            .collect();
        groups.insert(("Default".to_string(), true));
        (users, groups)
    }

    pub(crate) fn user(&self, slot: usize) -> &MUser {
        self.users[slot].as_ref().expect("a live user")
    }

    pub(crate) fn user_mut(&mut self, slot: usize) -> &mut MUser {
        self.users[slot].as_mut().expect("a live user")
    }

    pub(crate) fn gid(&self, slot: usize) -> String {
        self.groups[slot].as_ref().expect("a live group").id.clone()
    }
}

pub(crate) fn observed(state: &Value) -> Team {
    let text = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_string();
    let users = state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            let fields = (
                text(u, "first_name"),
                text(u, "last_name"),
                text(u, "display_name"),
                text(u, "group"),
            );
            (text(u, "email"), fields)
        })
        .collect();
    let groups = state["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| (text(g, "name"), g["is_default"] == true))
        .collect();
    (users, groups)
}
