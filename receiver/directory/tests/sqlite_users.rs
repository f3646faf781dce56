//! The SQLite directory's user operations on a real database file: each write commits
//! with exactly its jobs, and failures write nothing.

mod common;

use std::collections::HashMap;

use common::{cx, store, user, user_job};
use serde_json::json;
use splashsync_directory::model::{Indexed, Query};
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_protocol::{JobKey, Tenant};
use splashsync_scim::{ScimError, ScimType};

#[tokio::test]
async fn a_create_commits_the_user_and_its_first_job() {
    let s = store().await;
    let created = s
        .directory
        .create_user(cx(GroupPolicy::Reject), user("u1", "Ada@x.com"))
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let read = s.directory.get_user("u1", None).await.unwrap().unwrap();
    assert_eq!(read.user_name, "Ada@x.com");
    assert_eq!(read.resource, created.resource);
    assert_eq!(read.provisioning, None, "not asked for");
    let jobs = s.jobs().await;
    assert_eq!(jobs.len(), 1);
    let job = user_job(&jobs[0]);
    assert_eq!(job.meta.key, JobKey::user(&Tenant::default(), "u1"));
    assert_eq!(job.meta.version, 1);
    assert_eq!(job.meta.origin, "test");
    assert_eq!(job.state.email, "Ada@x.com");
    assert_eq!(job.state.group, None);
}

#[tokio::test]
async fn a_taken_user_name_in_any_case_is_refused_and_writes_nothing() {
    let s = store().await;
    s.users(&["u1"]).await;
    let err = s
        .directory
        .create_user(cx(GroupPolicy::Reject), user("u2", "U1@X.COM"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UserNameTaken(n) if n == "U1@X.COM"),
        "{err:?}"
    );
    assert_eq!(s.jobs().await.len(), 1);
    assert!(s.directory.get_user("u2", None).await.unwrap().is_none());
}

#[tokio::test]
async fn an_update_bumps_the_version_and_writes_one_job_unless_nothing_changed() {
    let s = store().await;
    s.users(&["u1"]).await;
    let edit = Box::new(|_: &_| Ok(json!({"userName": "u1@x.com", "active": false})));
    let updated = s
        .directory
        .update_user(cx(GroupPolicy::Reject), "u1".into(), Some(1), edit)
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    // The answer carries the state read in the same transaction: pending at version 2.
    let status = updated.provisioning.unwrap();
    assert_eq!((status.state.as_str(), status.version), ("pending", 2));
    let jobs = s.jobs_after(1).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(user_job(&jobs[0]).meta.version, 2);
    assert!(!user_job(&jobs[0]).state.active);
    let same = Box::new(|u: &splashsync_directory::model::UserRecord| Ok(u.resource.clone()));
    let unchanged = s
        .directory
        .update_user(cx(GroupPolicy::Reject), "u1".into(), None, same)
        .await
        .unwrap();
    assert_eq!(unchanged.version, 2);
    assert_eq!(s.jobs().await.len(), 2, "no job when nothing changed");
}

#[tokio::test]
async fn a_stale_version_a_refused_edit_or_an_unknown_id_changes_nothing() {
    let s = store().await;
    s.users(&["u1"]).await;
    let edit = Box::new(|_: &_| Ok(json!({"userName": "u1@x.com"})));
    let err = s
        .directory
        .update_user(cx(GroupPolicy::Reject), "u1".into(), Some(7), edit)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PreconditionFailed { current: 1 }),
        "{err:?}"
    );
    let refuse = Box::new(|_: &_| {
        Err(ScimError::bad_request(
            ScimType::Mutability,
            "no, says the caller",
        ))
    });
    let err = s
        .directory
        .update_user(cx(GroupPolicy::Reject), "u1".into(), None, refuse)
        .await
        .unwrap_err();
    let StoreError::Rejected(scim) = err else {
        panic!("the caller's error comes back untouched: {err:?}");
    };
    assert_eq!(scim.detail(), "no, says the caller");
    let err = s
        .directory
        .delete_user(cx(GroupPolicy::Reject), "nobody".into(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(s.jobs().await.len(), 1);
    let u = s.directory.get_user("u1", None).await.unwrap().unwrap();
    assert_eq!(u.version, 1);
}

#[tokio::test]
async fn a_delete_writes_a_deleted_job_at_the_next_version() {
    let s = store().await;
    s.users(&["u1"]).await;
    s.directory
        .delete_user(cx(GroupPolicy::Reject), "u1".into(), Some(1))
        .await
        .unwrap();
    assert!(s.directory.get_user("u1", None).await.unwrap().is_none());
    let jobs = s.jobs_after(1).await;
    assert_eq!(jobs.len(), 1);
    let job = user_job(&jobs[0]);
    assert!(job.state.deleted);
    assert_eq!(job.meta.version, 2);
}

#[tokio::test]
async fn lists_page_in_creation_order_and_look_up_by_index() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let (page, total) = s
        .directory
        .list_users(Query {
            offset: 1,
            limit: 1,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 3);
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "u2");
    let (found, total) = s
        .directory
        .list_users(Query {
            lookup: Some((Indexed::Name, "U3@X.com".into())),
            all: true,
            status: Some(Tenant::default()),
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(found[0].id, "u3");
    assert_eq!(found[0].provisioning.as_ref().unwrap().state, "pending");
    let (none, total) = s
        .directory
        .list_users(Query {
            limit: 0,
            ..Query::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (none.len(), total),
        (0, 3),
        "count 0 answers only the total"
    );
}

#[tokio::test]
async fn versions_strictly_increase_per_key_across_writes() {
    let s = store().await;
    s.users(&["u1", "u2"]).await;
    for active in [false, true, false] {
        for id in ["u1", "u2"] {
            let body = json!({"userName": format!("{id}@x.com"), "active": active});
            let edit = Box::new(move |_: &_| Ok(body));
            s.directory
                .update_user(cx(GroupPolicy::Reject), id.into(), None, edit)
                .await
                .unwrap();
        }
    }
    let mut versions: HashMap<String, Vec<i64>> = HashMap::new();
    for job in s.jobs().await {
        let meta = job.meta();
        versions
            .entry(meta.key.to_string())
            .or_default()
            .push(meta.version);
    }
    assert_eq!(versions.len(), 2);
    for (key, seen) in versions {
        assert_eq!(seen, [1, 2, 3, 4], "{key}");
    }
}

#[tokio::test]
async fn sent_jobs_leave_the_pending_list_and_only_those() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let pending = s.directory.pending_jobs(10).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(pending.iter().all(|j| j.kind == "UserV1"));
    s.directory
        .mark_sent(vec![pending[0].seq, pending[2].seq])
        .await
        .unwrap();
    let left = s.directory.pending_jobs(10).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].job_id, pending[1].job_id);
}
