//! The former owner of an account a reconciliation finds in the team: the newest
//! incarnation that acted on it, by the incarnation its jobs carry, not by SCIM id.

mod common;

use common::{cx, user, user_job};
use serde_json::json;
use splashsync_directory::reconcile::sqlite::SqliteReconcile;
use splashsync_directory::reconcile::ReconcileStore;
use splashsync_directory::sqlite::SqliteDirectory;
use splashsync_directory::{Directory, GroupPolicy};
use splashsync_protocol::job::Job;

#[tokio::test]
async fn a_user_renamed_onto_an_account_a_newer_user_released_is_its_former_owner() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let directory = SqliteDirectory::open(&url).await.unwrap();
    let reconcile = SqliteReconcile::new(&directory);
    let cx = cx(GroupPolicy::Reject);
    // "0190-a" is the older SCIM id (ids are UUIDv7s: they sort by creation).
    for (id, name) in [("0190-a", "a@x.com"), ("0199-b", "b@x.com")] {
        directory
            .create_user(cx.clone(), user(id, name))
            .await
            .unwrap();
    }
    // b@x.com is released by its user, then taken by the older user's rename, which
    // mints it a new incarnation; then that user is deleted too.
    directory
        .delete_user(cx.clone(), "0199-b".into(), None)
        .await
        .unwrap();
    let edit = Box::new(|_: &_| Ok(json!({"userName": "b@x.com", "active": true})));
    directory
        .update_user(cx.clone(), "0190-a".into(), None, edit)
        .await
        .unwrap();
    directory
        .delete_user(cx.clone(), "0190-a".into(), None)
        .await
        .unwrap();
    let pending = directory.pending_jobs(1000).await.unwrap();
    let last: Job = serde_json::from_str(&pending.last().unwrap().payload).unwrap();
    let deleted = user_job(&last);
    assert_eq!(deleted.meta.key.to_string(), "default/user/0190-a");
    assert!(deleted.state.deleted);
    assert!(deleted.state.account_incarnation() > "0199-b");

    let view = reconcile
        .view(cx.clone(), vec!["B@x.com".into()])
        .await
        .unwrap();
    let former = view.former.get("b@x.com").expect("b@x.com's former owner");
    // The renamed user took b@x.com after the user created with it: a `deleted` fix on the
    // other's key would be skipped by the workers' incarnation guard.
    assert_eq!(former.key, "default/user/0190-a");
    assert_eq!(former.version, deleted.meta.version);
}
