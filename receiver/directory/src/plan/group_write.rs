//! What a group write leaves, computed from what it read instead of read back (a write
//! of 20,000 members reads each of them once), the same on both engines: the users whose
//! memberships it reads, the staying members a rename re-provisions, the members and the
//! record it leaves, and the jobs of a created or deleted group.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use splashsync_protocol::job::{GroupRef, GroupState, Job};

use super::group::{group_job, GroupUpdate};
use crate::model::{GroupPolicy, GroupRecord, Member, UserRecord, WriteCtx};
use crate::policy;
use crate::rows::display_of;

/// The members a write leaves in the group, in joining order: those of `kept`, then the
/// `added` ids, each with the display of its user as `touched` returned it, or unresolved.
pub fn members_after(kept: Vec<Member>, added: &[String], touched: &[UserRecord]) -> Vec<Member> {
    let users: HashMap<&str, &UserRecord> = touched.iter().map(|u| (u.id.as_str(), u)).collect();
    let added = added.iter().map(|id| match users.get(id.as_str()) {
        Some(user) => Member {
            user_id: id.clone(),
            display: display_of(user),
            resolved: true,
        },
        None => Member {
            user_id: id.clone(),
            display: String::new(),
            resolved: false,
        },
    });
    kept.into_iter().chain(added).collect()
}

/// The ids of the members that are users of this directory: unresolved members had no
/// job to undo (they go with a deleted group, ON DELETE CASCADE).
pub fn resolved_ids(members: Vec<Member>) -> Vec<String> {
    members
        .into_iter()
        .filter(|m| m.resolved)
        .map(|m| m.user_id)
        .collect()
}

/// The group as the memberships name it.
pub fn group_ref(group_id: &str, display_name: &str) -> GroupRef {
    GroupRef {
        group_id: group_id.to_string(),
        display_name: display_name.to_string(),
    }
}

/// The job of a new group (no former names yet).
pub fn created_job(cx: &WriteCtx, record: &GroupRecord) -> Job {
    let state = GroupState {
        group_id: record.id.clone(),
        display_name: record.display_name.clone(),
        former_names: Vec::new(),
        deleted: false,
    };
    group_job(cx, state, record.version)
}

/// The `deleted` job of group `current`, which had the names `former` before, at its
/// next version.
pub fn deleted_job(cx: &WriteCtx, current: &GroupRecord, former: Vec<String>) -> Job {
    let state = GroupState {
        group_id: current.id.clone(),
        display_name: current.display_name.clone(),
        former_names: former,
        deleted: true,
    };
    group_job(cx, state, current.version + 1)
}

impl GroupUpdate {
    /// The users whose memberships the update reads: on a rename the staying members
    /// (those whose Splashtop group is this one want it under the new name), then the
    /// removed and the added.
    pub fn read_ids(&self) -> Vec<String> {
        let staying: &[String] = if self.renamed { &self.staying } else { &[] };
        [staying, &self.removed, &self.added].concat()
    }

    /// On a rename, the staying members for whom group `group_id` is the one that counts
    /// under `policy`, judged on their memberships before the write (`joined`); none
    /// without a rename.
    pub fn counted(
        &self,
        policy: GroupPolicy,
        group_id: &str,
        joined: &HashMap<String, Vec<GroupRef>>,
    ) -> Vec<String> {
        if !self.renamed {
            return Vec::new();
        }
        self.staying
            .iter()
            .filter(|m| {
                joined
                    .get(*m)
                    .and_then(|groups| policy::effective_group(policy, groups))
                    .is_some_and(|g| g.group_id == group_id)
            })
            .cloned()
            .collect()
    }

    /// The record the update leaves of `current`: its new name, body (`resource`),
    /// version and time, and its members (the removed gone, the added last, with their
    /// displays from the `touched` users).
    pub fn record(
        &self,
        current: GroupRecord,
        resource: Value,
        last_modified: String,
        touched: &[UserRecord],
    ) -> GroupRecord {
        let removed: HashSet<&str> = self.removed.iter().map(String::as_str).collect();
        let kept = current
            .members
            .into_iter()
            .filter(|m| !removed.contains(m.user_id.as_str()))
            .collect();
        GroupRecord {
            id: current.id,
            display_name: self.display_name.clone(),
            resource,
            version: self.version,
            created: current.created,
            last_modified,
            members: members_after(kept, &self.added, touched),
            provisioning: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::group_update;
    use crate::plan::tests::cx;
    use serde_json::json;

    fn member(id: &str) -> Member {
        Member {
            user_id: id.into(),
            display: id.to_uppercase(),
            resolved: true,
        }
    }

    fn user(id: &str, display: Option<&str>) -> UserRecord {
        UserRecord {
            id: id.into(),
            user_name: format!("{id}@example.com"),
            resource: match display {
                Some(d) => json!({"displayName": d}),
                None => json!({}),
            },
            version: 1,
            created: String::new(),
            last_modified: String::new(),
            groups: Vec::new(),
            provisioning: None,
        }
    }

    fn group(name: &str, members: &[&str]) -> GroupRecord {
        GroupRecord {
            id: "g1".into(),
            display_name: name.into(),
            resource: json!({"displayName": name}),
            version: 4,
            created: "created".into(),
            last_modified: String::new(),
            members: members.iter().map(|m| member(m)).collect(),
            provisioning: None,
        }
    }

    #[test]
    fn added_members_take_their_users_display_or_stay_unresolved() {
        let touched = [user("u2", Some("Two")), user("u3", None)];
        let added = ["u2".to_string(), "u3".to_string(), "x9".to_string()];
        let after = members_after(vec![member("u1")], &added, &touched);
        let shown: Vec<_> = after
            .iter()
            .map(|m| (m.user_id.as_str(), m.display.as_str(), m.resolved))
            .collect();
        assert_eq!(
            shown,
            [
                ("u1", "U1", true),
                ("u2", "Two", true),
                ("u3", "u3@example.com", true),
                ("x9", "", false)
            ]
        );
        assert_eq!(resolved_ids(after), ["u1", "u2", "u3"]);
    }

    #[test]
    fn an_update_leaves_its_record_with_the_removed_gone_and_the_added_last() {
        let current = group("Ops", &["u1", "u2"]);
        let change = crate::model::GroupChange {
            resource: json!({"displayName": "Ops2"}),
            members: vec!["u2".into(), "u3".into()],
        };
        let update = group_update(&current, Vec::new(), &change).unwrap();
        assert_eq!(update.read_ids(), ["u2", "u1", "u3"]);
        let joined = HashMap::from([("u2".to_string(), vec![group_ref("g1", "Ops")])]);
        assert_eq!(
            update.counted(GroupPolicy::default(), "g1", &joined),
            ["u2"]
        );
        assert!(update
            .counted(GroupPolicy::default(), "g-other", &joined)
            .is_empty());
        let record = update.record(current, change.resource.clone(), "now".into(), &[]);
        assert_eq!(record.display_name, "Ops2");
        assert_eq!(record.version, 5);
        assert_eq!(record.created, "created");
        let ids: Vec<_> = record.members.iter().map(|m| m.user_id.as_str()).collect();
        assert_eq!(ids, ["u2", "u3"]);
        assert!(!record.members[1].resolved);
    }

    #[test]
    fn the_jobs_of_a_created_and_a_deleted_group_carry_its_state() {
        let g = group("Ops", &[]);
        let Job::GroupV1(created) = created_job(&cx(), &g) else {
            panic!("a group job");
        };
        assert!(!created.state.deleted);
        assert_eq!(created.meta.version, 4);
        let Job::GroupV1(deleted) = deleted_job(&cx(), &g, vec!["Old".into()]) else {
            panic!("a group job");
        };
        assert!(deleted.state.deleted);
        assert_eq!(deleted.state.former_names, ["Old"]);
        assert_eq!(deleted.meta.version, 5);
    }
}
