//! The one-group-per-user rule: a Splashtop user is in one group only, while SCIM lets a
//! user join many. The tenant's [`GroupPolicy`] decides which membership counts, and what
//! joining a second group does. Pure functions over a user's memberships in joining order;
//! the store only loads those and persists what they decide.

use std::collections::HashMap;

use splashsync_protocol::job::GroupRef;

use crate::error::StoreError;
use crate::model::{GroupConflict, GroupPolicy};

/// The group that decides a user's Splashtop group, given its memberships in joining
/// order: the latest under `move`, the earliest otherwise (under `reject` there is only
/// one, unless the policy was changed after the fact).
pub fn effective_group(policy: GroupPolicy, joined: &[GroupRef]) -> Option<&GroupRef> {
    match policy {
        GroupPolicy::Move => joined.last(),
        GroupPolicy::Reject | GroupPolicy::First => joined.first(),
    }
}

/// What happens when a user joins a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The user is in no other group: nothing to resolve.
    Free,
    /// The user is in another group; the policy accepts the membership and says which
    /// group counts. The conflict goes to the audit table.
    Resolved(GroupConflict),
    /// The user is in another group and the policy is `reject`: the write is refused
    /// with the detail, which names the group the user is already in.
    Refused(GroupConflict, String),
}

/// The conflict's outcome under `policy`, as the audit table records it.
pub fn outcome(policy: GroupPolicy) -> &'static str {
    match policy {
        GroupPolicy::Reject => "rejected",
        GroupPolicy::Move => "moved",
        GroupPolicy::First => "kept-first",
    }
}

/// What `user_id` joining `group_id` does, given the groups it is in (joining order).
/// The conflict names the earliest other group.
pub fn admit(policy: GroupPolicy, user_id: &str, group_id: &str, joined: &[GroupRef]) -> Admission {
    let Some(other) = joined.iter().find(|g| g.group_id != group_id) else {
        return Admission::Free;
    };
    let conflict = GroupConflict {
        user_id: user_id.to_string(),
        group_id: group_id.to_string(),
        other_group_id: other.group_id.clone(),
        policy,
        outcome: outcome(policy).into(),
    };
    if policy != GroupPolicy::Reject {
        return Admission::Resolved(conflict);
    }
    let other_name = &other.display_name;
    let detail = format!(
        "user {user_id:?} is already in group {other_name:?}; a Splashtop user can be in one group only \
         (group policy: reject). Remove it from {other_name:?} first"
    );
    Admission::Refused(conflict, detail)
}

/// Each user's Splashtop group under `policy`, from its memberships in joining order
/// (`joined`); users in no group are absent.
pub fn effective_groups(
    policy: GroupPolicy,
    joined: HashMap<String, Vec<GroupRef>>,
) -> HashMap<String, GroupRef> {
    joined
        .into_iter()
        .filter_map(|(user, groups)| effective_group(policy, &groups).map(|g| (user, g.clone())))
        .collect()
}

/// Judges `ids` joining `group_id` in their order, each on its groups before the write
/// (`joined`; ids in none, new users or no user at all, join freely): the conflicts the
/// policy resolved, for the audit table, or the first refusal, which aborts the write.
pub fn admit_all(
    policy: GroupPolicy,
    group_id: &str,
    ids: &[String],
    joined: &HashMap<String, Vec<GroupRef>>,
) -> Result<Vec<GroupConflict>, StoreError> {
    let mut resolved = Vec::new();
    for (user, groups) in ids.iter().filter_map(|id| Some((id, joined.get(id)?))) {
        match admit(policy, user, group_id, groups) {
            Admission::Free => {}
            Admission::Resolved(conflict) => resolved.push(conflict),
            Admission::Refused(conflict, detail) => {
                return Err(StoreError::GroupConflict(Box::new(conflict), detail))
            }
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, name: &str) -> GroupRef {
        GroupRef {
            group_id: id.into(),
            display_name: name.into(),
        }
    }

    #[test]
    fn a_user_in_no_other_group_joins_freely_under_every_policy() {
        for policy in GroupPolicy::ALL {
            assert_eq!(admit(policy, "u1", "g1", &[]), Admission::Free);
            // Already in this very group (a re-add): no conflict either.
            assert_eq!(
                admit(policy, "u1", "g1", &[group("g1", "Sales")]),
                Admission::Free
            );
        }
    }

    #[test]
    fn reject_refuses_naming_the_group_the_user_is_in() {
        let joined = [group("g1", "Sales"), group("g2", "R&D")];
        let Admission::Refused(conflict, detail) = admit(GroupPolicy::Reject, "u1", "g3", &joined)
        else {
            panic!("reject must refuse a second group");
        };
        assert_eq!(conflict.other_group_id, "g1", "the earliest other group");
        assert_eq!(conflict.group_id, "g3");
        assert_eq!(conflict.outcome, "rejected");
        assert!(detail.contains("\"Sales\""), "{detail}");
        assert!(detail.contains("one group only"), "{detail}");
        assert!(
            detail.contains("Remove it from \"Sales\" first"),
            "{detail}"
        );
        assert!(!detail.contains("R&D"), "{detail}");
    }

    #[test]
    fn move_and_first_accept_and_record_what_they_did() {
        let joined = [group("g1", "Sales")];
        for (policy, said) in [
            (GroupPolicy::Move, "moved"),
            (GroupPolicy::First, "kept-first"),
        ] {
            let Admission::Resolved(conflict) = admit(policy, "u1", "g2", &joined) else {
                panic!("{policy:?} accepts a second group");
            };
            assert_eq!(
                conflict,
                GroupConflict {
                    user_id: "u1".into(),
                    group_id: "g2".into(),
                    other_group_id: "g1".into(),
                    policy,
                    outcome: said.into(),
                }
            );
        }
    }

    #[test]
    fn move_counts_the_latest_membership_first_and_reject_the_earliest() {
        let joined = [group("g1", "Sales"), group("g2", "R&D")];
        assert_eq!(
            effective_group(GroupPolicy::Move, &joined),
            Some(&joined[1])
        );
        assert_eq!(
            effective_group(GroupPolicy::First, &joined),
            Some(&joined[0])
        );
        assert_eq!(
            effective_group(GroupPolicy::Reject, &joined),
            Some(&joined[0])
        );
        for policy in GroupPolicy::ALL {
            assert_eq!(effective_group(policy, &[]), None);
        }
    }

    #[test]
    fn admitting_many_collects_the_resolved_conflicts_or_stops_at_a_refusal() {
        let joined = HashMap::from([
            ("u1".to_string(), vec![group("g2", "Sales")]),
            ("u2".to_string(), Vec::new()),
        ]);
        let ids = ["u1".to_string(), "u2".to_string(), "x".to_string()];
        let resolved = admit_all(GroupPolicy::Move, "g1", &ids, &joined).unwrap();
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].other_group_id, "g2");
        assert!(matches!(
            admit_all(GroupPolicy::Reject, "g1", &ids, &joined),
            Err(StoreError::GroupConflict(..))
        ));
        let counted = effective_groups(GroupPolicy::Move, joined);
        assert_eq!(counted.len(), 1);
        assert_eq!(counted["u1"].group_id, "g2");
    }
}
