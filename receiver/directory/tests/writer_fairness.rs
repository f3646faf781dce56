//! The single writer under a big membership write (issue 13): a 20,000-member group write
//! applies whole, and a create queued behind group writes does not wait for all of them.
//! Order is observed in the outbox (its seq is commit order), never by the clock.

mod common;

use std::task::Poll;

use common::{cx, group, store, user};
use futures_util::future::{join_all, BoxFuture};
use serde_json::json;
use splashsync_directory::model::{GroupChange, GroupRecord};
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_protocol::{JobKey, Tenant};

const MEMBERS: usize = 20_000;

fn set(name: &str, members: Vec<String>) -> splashsync_directory::store::GroupEdit {
    let change = GroupChange {
        resource: json!({"displayName": name}),
        members,
    };
    Box::new(move |_: &GroupRecord| Ok(change))
}

/// Polls a write once: it is then in the writer's queue, behind what was queued before.
async fn enqueue<T>(write: &mut BoxFuture<'_, T>) {
    std::future::poll_fn(|cx| {
        assert!(
            write.as_mut().poll(cx).is_pending(),
            "a write waits for its commit"
        );
        Poll::Ready(())
    })
    .await
}

async fn many_users(s: &common::Store, n: usize) -> Vec<String> {
    let ids: Vec<String> = (0..n).map(|i| format!("u{i:05}")).collect();
    let creates = ids.iter().map(|id| {
        s.directory
            .create_user(cx(GroupPolicy::Reject), user(id, &format!("{id}@x.com")))
    });
    for created in join_all(creates).await {
        created.unwrap();
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_queued_behind_group_writes_commits_before_the_later_ones() {
    let s = store().await;
    let ids = many_users(&s, MEMBERS).await;
    for (id, name) in [("big", "Big"), ("next", "Next")] {
        s.directory
            .create_group(cx(GroupPolicy::Reject), group(id, name), Vec::new())
            .await
            .unwrap();
    }
    let before = s.jobs().await.len();
    // In this order: a 20,000-member write, a small group write, a create.
    let mut big = s.directory.update_group(
        cx(GroupPolicy::Reject),
        "big".into(),
        None,
        set("Big", ids.clone()),
    );
    enqueue(&mut big).await;
    let mut next = s.directory.update_group(
        cx(GroupPolicy::Reject),
        "next".into(),
        None,
        set("Renamed", Vec::new()),
    );
    enqueue(&mut next).await;
    let mut create = s
        .directory
        .create_user(cx(GroupPolicy::Reject), user("probe", "probe@x.com"));
    enqueue(&mut create).await;
    let (big, next, create) = tokio::join!(big, next, create);
    assert_eq!(big.unwrap().members.len(), MEMBERS);
    assert_eq!(next.unwrap().display_name, "Renamed");
    create.unwrap();

    let jobs = s.directory.pending_jobs(1_000_000).await.unwrap();
    let jobs = &jobs[before..];
    assert_eq!(
        jobs.len(),
        MEMBERS + 2,
        "a job per member, the rename's, the create's"
    );
    let seq_of = |key: JobKey| {
        let key = key.to_string();
        jobs.iter().find(|j| j.key == key).map(|j| j.seq).unwrap()
    };
    let tenant = Tenant::default();
    let created = seq_of(JobKey::user(&tenant, "probe"));
    let renamed = seq_of(JobKey::group(&tenant, "next"));
    // The create did not wait for the group write queued before it: it committed first.
    assert!(
        created < renamed,
        "the create (seq {created}) committed after the group write queued before it (seq {renamed})"
    );
}

#[tokio::test]
async fn a_20000_member_write_that_fails_on_its_last_member_applies_nothing() {
    let s = store().await;
    let mut ids = many_users(&s, MEMBERS).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(
            policy.clone(),
            group("other", "Other"),
            vec![ids[MEMBERS - 1].clone()],
        )
        .await
        .unwrap();
    s.directory
        .create_group(policy.clone(), group("big", "Big"), Vec::new())
        .await
        .unwrap();
    let before = s.jobs().await.len();
    ids.push("not-a-user".into());
    let err = s
        .directory
        .update_group(policy.clone(), "big".into(), None, set("Big", ids.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::GroupConflict(..)), "{err:?}");
    let big = s.directory.get_group("big", None).await.unwrap().unwrap();
    assert!(big.members.is_empty());
    assert_eq!(big.version, 1);
    assert_eq!(s.jobs().await.len(), before, "no job of the refused write");
    let u0 = s.directory.get_user("u00000", None).await.unwrap().unwrap();
    assert_eq!(u0.version, 1);
    assert!(u0.groups.is_empty());
}
