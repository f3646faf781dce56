//! The comparison of the team with the directory, as a pure function: every drift per
//! account and group, and the one job per key that a real run would write.
//!
//! Emails and group names compare case-insensitively, as Splashtop does. A key whose job
//! is not applied yet (pending, retrying) is reported as pending and never fixed: its
//! drift is expected, and the job on its way already carries the directory's state. A
//! dead-lettered key is left to the operator (replay or discard).

use std::collections::{HashMap, HashSet};

use splashsync_protocol::job::UserState;
use splashsync_protocol::reconcile::{DriftAction, DriftItem, DriftKind, ReconcileRequest};

use super::{DirectoryView, Fix, Hold, OwnedUser, Plan, PlannedItem, SeenUser, Team};

const ABSENT: &str = "(absent)";
const IN_TEAM: &str = "in the team";
const DEFAULT_GROUP: &str = "(default group)";
const NOT_IN_DIRECTORY: &str = "(not in the directory)";

/// Builds a plan: each item with the fix a real run would write.
struct Planner {
    plan: Plan,
}

impl Planner {
    /// Adds the items of one key; `fix` is written once for all of them, unless `hold`
    /// says the key's drift is expected or waits for an operator.
    fn key(&mut self, items: Vec<DriftItem>, hold: Hold, fix: Fix) {
        if items.is_empty() {
            return;
        }
        let (action, index) = match hold {
            Hold::Clear => {
                self.plan.fixes.push(fix);
                (DriftAction::WouldFix, Some(self.plan.fixes.len() - 1))
            }
            Hold::Pending => (DriftAction::Pending, None),
            Hold::DeadLettered => (DriftAction::DeadLettered, None),
        };
        for mut item in items {
            item.action = action;
            self.plan.items.push(PlannedItem { item, fix: index });
        }
    }

    /// Adds an item no fix resolves.
    fn report(&mut self, item: DriftItem) {
        self.plan.items.push(PlannedItem { item, fix: None });
    }
}

fn item(
    kind: DriftKind,
    subject: &str,
    key: Option<&str>,
    found: String,
    wanted: String,
) -> DriftItem {
    DriftItem {
        kind,
        subject: subject.to_string(),
        key: key.map(str::to_string),
        found,
        wanted,
        action: DriftAction::Reported,
    }
}

fn names_of(first: &str, last: &str, display: &str) -> String {
    format!("{first} / {last} / {display}")
}

fn group_label(group: Option<&str>) -> String {
    group.map_or_else(|| DEFAULT_GROUP.to_string(), str::to_string)
}

fn sso_label(sso: Option<&str>) -> String {
    sso.map_or_else(|| "(none)".to_string(), str::to_string)
}

/// The drifts of a directory user that Splashtop lists.
fn user_drift(owned: &OwnedUser, seen: &SeenUser) -> Vec<DriftItem> {
    let want = &owned.state;
    let key = Some(owned.key.as_str());
    let subject = seen.email.as_str();
    if !want.active {
        let why = "removed (deactivated in the directory)".to_string();
        return vec![item(DriftKind::Status, subject, key, IN_TEAM.into(), why)];
    }
    let mut out = Vec::new();
    if (&want.first_name, &want.last_name, &want.display_name)
        != (&seen.first_name, &seen.last_name, &seen.display_name)
    {
        out.push(item(
            DriftKind::Names,
            subject,
            key,
            names_of(&seen.first_name, &seen.last_name, &seen.display_name),
            names_of(&want.first_name, &want.last_name, &want.display_name),
        ));
    }
    if want.sso_name != seen.sso_name {
        out.push(item(
            DriftKind::SsoName,
            subject,
            key,
            sso_label(seen.sso_name.as_deref()),
            sso_label(want.sso_name.as_deref()),
        ));
    }
    let wanted_group = want.group.as_ref().map(|g| g.display_name.as_str());
    if !same_group(wanted_group, seen.group.as_deref()) {
        out.push(item(
            DriftKind::Group,
            subject,
            key,
            group_label(seen.group.as_deref()),
            group_label(wanted_group),
        ));
    }
    out
}

fn same_group(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => false,
    }
}

fn wants_account(state: &UserState) -> bool {
    state.active && !state.deleted
}

/// Every drift between `team` and `view`, with the fixes a real run would write.
/// Accounts the directory never owned are removed only with `request.prune`.
pub fn compare(team: &Team, view: &DirectoryView, request: ReconcileRequest) -> Plan {
    let mut planner = Planner {
        plan: Plan::default(),
    };
    let seen: HashMap<String, &SeenUser> = team
        .users
        .iter()
        .map(|u| (u.email.to_lowercase(), u))
        .collect();
    let mut owned_emails = HashSet::new();
    for owned in &view.users {
        let email = owned.state.email.to_lowercase();
        owned_emails.insert(email.clone());
        let items = match seen.get(&email) {
            Some(seen) => user_drift(owned, seen),
            None if wants_account(&owned.state) => vec![item(
                DriftKind::Missing,
                &owned.state.email,
                Some(&owned.key),
                ABSENT.into(),
                IN_TEAM.into(),
            )],
            None => Vec::new(),
        };
        let fix = Fix::User {
            id: owned.state.user_id.clone(),
            version: owned.version,
        };
        planner.key(items, owned.hold, fix);
    }
    let mut strangers: Vec<&SeenUser> = team
        .users
        .iter()
        .filter(|u| !owned_emails.contains(&u.email.to_lowercase()))
        .collect();
    strangers.sort_by_key(|u| u.email.to_lowercase());
    for user in strangers {
        match view.former.get(&user.email.to_lowercase()) {
            Some(former) => {
                let why = "removed (deleted from the directory)".to_string();
                let drift = item(
                    DriftKind::Status,
                    &user.email,
                    Some(&former.key),
                    IN_TEAM.into(),
                    why,
                );
                let fix = Fix::Gone {
                    email: user.email.clone(),
                    key: former.key.clone(),
                    version: former.version,
                };
                planner.key(vec![drift], former.hold, fix);
            }
            None => {
                let found = format!(
                    "{} in {}",
                    names_of(&user.first_name, &user.last_name, &user.display_name),
                    group_label(user.group.as_deref())
                );
                let drift = item(
                    DriftKind::Unmanaged,
                    &user.email,
                    None,
                    found,
                    NOT_IN_DIRECTORY.into(),
                );
                if request.prune {
                    let fix = Fix::Prune { user: user.clone() };
                    planner.key(vec![drift], Hold::Clear, fix);
                    if let Some(last) = planner.plan.items.last_mut() {
                        last.item.action = DriftAction::WouldPrune;
                    }
                } else {
                    planner.report(drift);
                }
            }
        }
    }
    let team_groups: HashSet<String> = team.groups.iter().map(|g| g.to_lowercase()).collect();
    let mut directory_groups = HashSet::new();
    for group in &view.groups {
        directory_groups.insert(group.name.to_lowercase());
        if team_groups.contains(&group.name.to_lowercase()) {
            continue;
        }
        let drift = item(
            DriftKind::GroupMissing,
            &group.name,
            Some(&group.key),
            ABSENT.into(),
            IN_TEAM.into(),
        );
        let fix = Fix::Group {
            id: group.id.clone(),
            version: group.version,
        };
        planner.key(vec![drift], group.hold, fix);
    }
    for name in &team.groups {
        if !directory_groups.contains(&name.to_lowercase()) {
            planner.report(item(
                DriftKind::GroupUnmanaged,
                name,
                None,
                IN_TEAM.into(),
                NOT_IN_DIRECTORY.into(),
            ));
        }
    }
    let mut plan = planner.plan;
    plan.items.sort_by(|a, b| {
        (a.item.kind, a.item.subject.to_lowercase())
            .cmp(&(b.item.kind, b.item.subject.to_lowercase()))
    });
    plan
}

#[cfg(test)]
mod tests;
