//! Group writes: the group job a create, rename or delete writes, and what an update
//! changes (members added and removed, the new name and the names it had before).

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use splashsync_protocol::job::{GroupJob, GroupRef, GroupState, Job};
use splashsync_protocol::JobKey;

use super::{meta, unique};
use crate::model::{GroupChange, GroupPolicy, GroupRecord, WriteCtx};
use crate::policy;

/// Most former names a group remembers (enough for any rename still in flight).
pub const MAX_FORMER_NAMES: usize = 10;

/// The warning a group shows (status and timeline) for a member id that is no user of
/// this directory.
pub fn unresolved_warning(member_id: &str) -> String {
    format!("member {member_id} is not a user of this directory; kept, not provisioned")
}

/// The job carrying a group's desired state at `version`.
pub fn group_job(cx: &WriteCtx, state: GroupState, version: i64) -> Job {
    Job::GroupV1(GroupJob {
        meta: meta(cx, JobKey::group(&cx.tenant, &state.group_id), version),
        state,
    })
}

/// What an update does to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupUpdate {
    /// The name after the update.
    pub display_name: String,
    /// Whether the name changed (a group job is due).
    pub renamed: bool,
    /// The names the group had before, newest first, after the update.
    pub former_names: Vec<String>,
    /// Members before and after, in their order.
    pub staying: Vec<String>,
    /// Members no more, in their order.
    pub removed: Vec<String>,
    /// New members, in the order given, each once.
    pub added: Vec<String>,
    /// The group's version after the update.
    pub version: i64,
}

/// What `change` does to `current` (whose former names are `former`); `None` when it
/// changes nothing, so no version and no job (Okta re-sends whole groups often).
pub fn group_update(
    current: &GroupRecord,
    former: Vec<String>,
    change: &GroupChange,
) -> Option<GroupUpdate> {
    let new_set: HashSet<&str> = change.members.iter().map(String::as_str).collect();
    let old_set: HashSet<&str> = current.members.iter().map(|m| m.user_id.as_str()).collect();
    let (staying, removed): (Vec<String>, Vec<String>) = current
        .members
        .iter()
        .map(|m| m.user_id.clone())
        .partition(|m| new_set.contains(m.as_str()));
    let added = unique(
        change
            .members
            .iter()
            .filter(|m| !old_set.contains(m.as_str()))
            .cloned(),
    );
    if change.resource == current.resource && removed.is_empty() && added.is_empty() {
        return None;
    }
    let display_name = change
        .resource
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&current.display_name)
        .to_string();
    let renamed = display_name != current.display_name;
    let mut former_names = former;
    if renamed {
        former_names.retain(|n| n != &current.display_name && n != &display_name);
        former_names.insert(0, current.display_name.clone());
        former_names.truncate(MAX_FORMER_NAMES);
    }
    Some(GroupUpdate {
        display_name,
        renamed,
        former_names,
        staying,
        removed,
        added,
        version: current.version + 1,
    })
}

impl GroupUpdate {
    /// The group job a rename writes (none without a rename).
    pub fn rename_job(&self, cx: &WriteCtx, group_id: &str) -> Option<Job> {
        self.renamed.then(|| {
            let state = GroupState {
                group_id: group_id.to_string(),
                display_name: self.display_name.clone(),
                former_names: self.former_names.clone(),
                deleted: false,
            };
            group_job(cx, state, self.version)
        })
    }

    /// The users whose desired state changes, each once: on a rename the staying members
    /// for whom this group is the one that counts (`counted`), then the removed, then the
    /// added members.
    pub fn touched(&self, counted: Vec<String>) -> Vec<String> {
        let renamed = if self.renamed { counted } else { Vec::new() };
        unique(
            renamed
                .into_iter()
                .chain(self.removed.iter().cloned())
                .chain(self.added.iter().cloned()),
        )
    }
}

/// Each user's Splashtop group after a write to `group` (its name after the write), from
/// the memberships of every user it touches before it (`joined`, joining order): the
/// membership in `group` is dropped for the `removed` (all members, when it is deleted),
/// appended as the newest for the `added`, and carries the new name for the others. Users
/// left in no group are absent. The write computes this instead of reading it back.
pub fn groups_after(
    policy: GroupPolicy,
    group: &GroupRef,
    mut joined: HashMap<String, Vec<GroupRef>>,
    removed: &[String],
    added: &[String],
) -> HashMap<String, GroupRef> {
    for user in removed {
        if let Some(groups) = joined.get_mut(user) {
            groups.retain(|g| g.group_id != group.group_id);
        }
    }
    for user in added {
        joined.entry(user.clone()).or_default().push(group.clone());
    }
    joined
        .into_iter()
        .filter_map(|(user, mut groups)| {
            for g in groups.iter_mut().filter(|g| g.group_id == group.group_id) {
                g.display_name.clone_from(&group.display_name);
            }
            policy::effective_group(policy, &groups)
                .cloned()
                .map(|g| (user, g))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Member;
    use crate::plan::tests::cx;
    use serde_json::json;

    fn group(name: &str, members: &[&str]) -> GroupRecord {
        GroupRecord {
            id: "g1".into(),
            display_name: name.into(),
            resource: json!({"displayName": name}),
            version: 4,
            created: String::new(),
            last_modified: String::new(),
            members: members
                .iter()
                .map(|m| Member {
                    user_id: (*m).into(),
                    display: (*m).into(),
                    resolved: true,
                })
                .collect(),
            provisioning: None,
        }
    }

    fn change(name: &str, members: &[&str]) -> GroupChange {
        GroupChange {
            resource: json!({"displayName": name}),
            members: members.iter().map(|m| (*m).to_string()).collect(),
        }
    }

    #[test]
    fn adding_members_touches_exactly_them_without_a_group_job() {
        let current = group("Sales", &["u1"]);
        let update =
            group_update(&current, Vec::new(), &change("Sales", &["u1", "u2", "u3"])).unwrap();
        assert_eq!(update.added, ["u2", "u3"]);
        assert!(update.removed.is_empty());
        assert_eq!(update.staying, ["u1"]);
        assert_eq!(update.version, 5);
        assert!(update.rename_job(&cx(), "g1").is_none());
        // Without a rename the staying members' state is unchanged.
        assert_eq!(update.touched(vec!["u1".into()]), ["u2", "u3"]);
    }

    #[test]
    fn a_rename_writes_a_group_job_with_the_former_names_newest_first() {
        let current = group("Sales", &["u1", "u2"]);
        let former = vec!["Team".to_string(), "Old Sales".to_string()];
        let update = group_update(&current, former, &change("Revenue", &["u1", "u2"])).unwrap();
        assert!(update.renamed);
        assert_eq!(update.former_names, ["Sales", "Team", "Old Sales"]);
        let Some(Job::GroupV1(job)) = update.rename_job(&cx(), "g1") else {
            panic!("a rename writes a group job");
        };
        assert_eq!(job.meta.key, JobKey::group(&cx().tenant, "g1"));
        assert_eq!(job.meta.version, 5);
        assert_eq!(job.state.display_name, "Revenue");
        assert_eq!(job.state.former_names, ["Sales", "Team", "Old Sales"]);
        assert!(!job.state.deleted);
        // Members whose Splashtop group this is want it under its new name.
        assert_eq!(update.touched(vec!["u2".into()]), ["u2"]);
    }

    #[test]
    fn renaming_back_and_forth_keeps_each_former_name_once_and_at_most_ten() {
        let former: Vec<String> = (0..12).map(|i| format!("n{i}")).collect();
        let update = group_update(&group("Sales", &[]), former, &change("n3", &[])).unwrap();
        assert_eq!(update.former_names.len(), MAX_FORMER_NAMES);
        assert_eq!(update.former_names[0], "Sales");
        assert!(!update.former_names.contains(&"n3".to_string()));
    }

    #[test]
    fn a_replace_with_what_is_there_changes_nothing() {
        let current = group("Sales", &["u1", "u2"]);
        assert_eq!(
            group_update(&current, Vec::new(), &change("Sales", &["u2", "u1"])),
            None
        );
    }

    fn gref(id: &str, name: &str) -> GroupRef {
        GroupRef {
            group_id: id.into(),
            display_name: name.into(),
        }
    }

    #[test]
    fn groups_after_a_write_follow_the_policy_without_reading_back() {
        let sales = gref("g1", "Sales");
        let renamed = gref("g1", "Revenue");
        let rnd = gref("g2", "R&D");
        let joined = |pairs: &[(&str, &[&GroupRef])]| -> HashMap<String, Vec<GroupRef>> {
            pairs
                .iter()
                .map(|(u, gs)| (u.to_string(), gs.iter().map(|g| (*g).clone()).collect()))
                .collect()
        };
        let before = joined(&[
            ("stay", &[&sales]),
            ("gone", &[&rnd, &sales]),
            ("new", &[&rnd]),
        ]);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let first = groups_after(
            GroupPolicy::First,
            &renamed,
            before.clone(),
            &ids(&["gone"]),
            &ids(&["new", "fresh"]),
        );
        assert_eq!(first["stay"], renamed, "a staying member sees the new name");
        assert_eq!(first["gone"], rnd);
        assert_eq!(first["new"], rnd, "first: the earlier group still counts");
        assert_eq!(first["fresh"], renamed);
        let moved = groups_after(
            GroupPolicy::Move,
            &renamed,
            before,
            &ids(&["stay"]),
            &ids(&["new"]),
        );
        assert_eq!(moved["new"], renamed, "move: the newest membership counts");
        assert!(!moved.contains_key("stay"), "in no group any more");
    }

    #[test]
    fn removed_then_added_members_are_touched_once_each_in_order() {
        let current = group("Sales", &["u1", "u2", "u3"]);
        let update =
            group_update(&current, Vec::new(), &change("Sales", &["u3", "u4", "u4"])).unwrap();
        assert_eq!(update.removed, ["u1", "u2"]);
        assert_eq!(update.added, ["u4"]);
        assert_eq!(update.touched(Vec::new()), ["u1", "u2", "u4"]);
    }
}
