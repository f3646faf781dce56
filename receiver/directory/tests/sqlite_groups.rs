//! The SQLite directory's group operations on a real database file: membership changes
//! become user jobs carrying each user's one group, renames and deletes group jobs, and
//! the one-group policy decides conflicts.

mod common;

use common::{cx, group, group_job, store, user_job, Store};
use serde_json::json;
use splashsync_directory::model::{GroupChange, GroupRecord};
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_protocol::job::GroupRef;
use splashsync_protocol::{JobKey, Tenant};

fn members(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|i| i.to_string()).collect()
}

fn set(name: &str, ids: &[&str]) -> splashsync_directory::store::GroupEdit {
    let change = GroupChange {
        resource: json!({"displayName": name}),
        members: members(ids),
    };
    Box::new(move |_: &GroupRecord| Ok(change))
}

fn in_group(id: &str, name: &str) -> Option<GroupRef> {
    Some(GroupRef {
        group_id: id.into(),
        display_name: name.into(),
    })
}

/// The group-conflict audit rows: (user, group, other group, policy, outcome).
async fn conflicts(s: &Store) -> Vec<(String, String, String, String, String)> {
    s.conflicts().await
}

#[tokio::test]
async fn a_group_with_n_members_writes_its_group_job_and_n_user_jobs_with_the_group() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let g = s
        .directory
        .create_group(
            cx(GroupPolicy::Reject),
            group("g1", "Sales"),
            members(&["u1", "u2", "u3"]),
        )
        .await
        .unwrap();
    assert_eq!(g.members.len(), 3);
    let jobs = s.jobs_after(3).await;
    assert_eq!(jobs.len(), 4, "one group job, three user jobs");
    let gj = group_job(&jobs[0]);
    assert_eq!(gj.meta.key, JobKey::group(&Tenant::default(), "g1"));
    assert_eq!(gj.state.display_name, "Sales");
    for job in &jobs[1..] {
        let j = user_job(job);
        assert_eq!(j.state.group, in_group("g1", "Sales"));
        assert_eq!(
            j.meta.version, 2,
            "a membership is a new version of the user"
        );
    }
    let u = s.directory.get_user("u2", None).await.unwrap().unwrap();
    assert_eq!(u.version, 2);
    assert_eq!(u.groups[0].display_name, "Sales");
}

#[tokio::test]
async fn a_patch_adding_members_writes_one_job_per_added_user_only() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), members(&["u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    let g = s
        .directory
        .update_group(
            policy,
            "g1".into(),
            Some(1),
            set("Sales", &["u1", "u2", "u3"]),
        )
        .await
        .unwrap();
    assert_eq!(g.version, 2);
    let jobs = s.jobs_after(before).await;
    let touched: Vec<&str> = jobs
        .iter()
        .map(|j| user_job(j).state.user_id.as_str())
        .collect();
    assert_eq!(touched, ["u2", "u3"]);
    assert!(jobs
        .iter()
        .all(|j| user_job(j).state.group == in_group("g1", "Sales")));
}

#[tokio::test]
async fn a_rename_writes_the_group_job_with_former_names_and_its_members_jobs() {
    let s = store().await;
    s.users(&["u1"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), members(&["u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    s.directory
        .update_group(policy.clone(), "g1".into(), None, set("Revenue", &["u1"]))
        .await
        .unwrap();
    s.directory
        .update_group(policy, "g1".into(), None, set("Income", &["u1"]))
        .await
        .unwrap();
    let jobs = s.jobs_after(before).await;
    assert_eq!(jobs.len(), 4);
    let first = group_job(&jobs[0]);
    assert_eq!(first.state.former_names, ["Sales"]);
    assert_eq!(first.meta.version, 2);
    assert_eq!(
        user_job(&jobs[1]).state.group,
        in_group("g1", "Revenue"),
        "the member wants its group under the new name"
    );
    let second = group_job(&jobs[2]);
    assert_eq!(second.state.display_name, "Income");
    assert_eq!(second.state.former_names, ["Revenue", "Sales"]);
    assert_eq!(second.meta.version, 3);
}

#[tokio::test]
async fn reject_refuses_a_second_group_naming_the_first_and_writes_nothing() {
    let s = store().await;
    s.users(&["u1", "u2"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), members(&["u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    let err = s
        .directory
        .create_group(policy.clone(), group("g2", "R&D"), members(&["u2", "u1"]))
        .await
        .unwrap_err();
    let StoreError::GroupConflict(conflict, detail) = &err else {
        panic!("a conflict: {err:?}");
    };
    assert_eq!(
        (conflict.user_id.as_str(), conflict.other_group_id.as_str()),
        ("u1", "g1")
    );
    assert!(detail.contains("\"Sales\""), "{detail}");
    // The whole write rolled back: no group, no job, no membership of u2.
    assert!(s.directory.get_group("g2", None).await.unwrap().is_none());
    assert_eq!(s.jobs().await.len(), before);
    let u2 = s.directory.get_user("u2", None).await.unwrap().unwrap();
    assert!(u2.groups.is_empty());
    // The refusal is recorded when the caller asks (the SCIM side does).
    s.directory
        .record_conflict((**conflict).clone())
        .await
        .unwrap();
    let rows = conflicts(&s).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].4, "rejected");
}

#[tokio::test]
async fn move_follows_the_latest_group_and_first_keeps_the_earliest() {
    for (policy, want, outcome) in [
        (GroupPolicy::Move, in_group("g2", "R&D"), "moved"),
        (GroupPolicy::First, in_group("g1", "Sales"), "kept-first"),
    ] {
        let s = store().await;
        s.users(&["u1"]).await;
        s.directory
            .create_group(cx(policy), group("g1", "Sales"), members(&["u1"]))
            .await
            .unwrap();
        let before = s.jobs().await.len();
        s.directory
            .create_group(cx(policy), group("g2", "R&D"), members(&["u1"]))
            .await
            .unwrap();
        let jobs = s.jobs_after(before).await;
        assert_eq!(jobs.len(), 2, "{policy:?}");
        assert_eq!(user_job(&jobs[1]).state.group, want, "{policy:?}");
        let rows = conflicts(&s).await;
        assert_eq!(
            rows,
            [(
                "u1".into(),
                "g2".into(),
                "g1".into(),
                policy.as_str().into(),
                outcome.into()
            )]
        );
    }
}

/// An unknown member is no longer refused: `unresolved_members.rs` covers it.
#[tokio::test]
async fn a_taken_name_is_refused() {
    let s = store().await;
    s.users(&["u1"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), Vec::new())
        .await
        .unwrap();
    let err = s
        .directory
        .create_group(policy, group("g2", "SALES"), Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::GroupNameTaken(_)), "{err:?}");
}

#[tokio::test]
async fn a_deleted_group_says_deleted_and_its_members_fall_back_to_their_next_group() {
    let s = store().await;
    s.users(&["u1", "u2"]).await;
    let policy = cx(GroupPolicy::First);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), members(&["u1", "u2"]))
        .await
        .unwrap();
    s.directory
        .create_group(policy.clone(), group("g2", "R&D"), members(&["u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    s.directory
        .delete_group(policy, "g1".into(), Some(1))
        .await
        .unwrap();
    let jobs = s.jobs_after(before).await;
    assert_eq!(jobs.len(), 3);
    let gj = group_job(&jobs[0]);
    assert!(gj.state.deleted);
    assert_eq!(gj.meta.version, 2);
    let groups: Vec<(String, Option<GroupRef>)> = jobs[1..]
        .iter()
        .map(|j| {
            let j = user_job(j);
            (j.state.user_id.clone(), j.state.group.clone())
        })
        .collect();
    assert!(groups.contains(&("u1".into(), in_group("g2", "R&D"))));
    assert!(groups.contains(&("u2".into(), None)));
}
