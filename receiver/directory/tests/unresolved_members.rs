//! Group members that are no user of this directory (issue 9), on a real database file:
//! kept as written and in order, never provisioned (no job), shown as a warning in the
//! group's timeline until a write removes them; the known members of the same write apply.

mod common;

use common::{cx, group, store, user_job, Store};
use serde_json::json;
use splashsync_directory::engine::Engine;
use splashsync_directory::model::{GroupChange, GroupRecord};
use splashsync_directory::sqlite::SqliteDirectory;
use splashsync_directory::{Directory, GroupPolicy};
use splashsync_protocol::job::Job;
use splashsync_protocol::{JobKey, Tenant};
use sqlx::Connection;

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|i| i.to_string()).collect()
}

fn set(name: &str, members: &[&str]) -> splashsync_directory::store::GroupEdit {
    let change = GroupChange {
        resource: json!({"displayName": name}),
        members: ids(members),
    };
    Box::new(move |_: &GroupRecord| Ok(change))
}

/// The members as (id, resolved), in the order the group lists them.
fn listed(g: &GroupRecord) -> Vec<(&str, bool)> {
    g.members
        .iter()
        .map(|m| (m.user_id.as_str(), m.resolved))
        .collect()
}

/// The users the jobs are about, in commit order (group jobs left out).
fn user_ids(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .filter(|j| matches!(j, Job::UserV1(_)))
        .map(|j| user_job(j).state.user_id.clone())
        .collect()
}

const GHOST_WARNING: &str = "member ghost is not a user of this directory; kept, not provisioned";

/// The details of the group's timeline entries that are warnings.
async fn warnings(s: &Store, group_id: &str) -> Vec<String> {
    let audit = &s.audit;
    let key = JobKey::group(&Tenant::default(), group_id).to_string();
    let timeline = audit.timeline(key).await.unwrap();
    assert!(
        timeline.iter().any(|e| e.what == "asked"),
        "the group's own jobs are in its timeline too: {timeline:?}"
    );
    timeline
        .into_iter()
        .filter(|e| e.what == "warning")
        .map(|e| e.detail)
        .collect()
}

#[tokio::test]
async fn a_create_naming_an_unknown_id_keeps_it_in_order_and_provisions_only_the_users() {
    let s = store().await;
    s.users(&["u1", "u2"]).await;
    let before = s.jobs().await.len();
    let g = s
        .directory
        .create_group(
            cx(GroupPolicy::Reject),
            group("g1", "Sales"),
            ids(&["u1", "ghost", "u2"]),
        )
        .await
        .unwrap();
    assert_eq!(listed(&g), [("u1", true), ("ghost", false), ("u2", true)]);
    assert_eq!(g.unresolved().collect::<Vec<_>>(), ["ghost"]);
    let jobs = s.jobs_after(before).await;
    assert!(matches!(jobs[0], Job::GroupV1(_)));
    assert_eq!(user_ids(&jobs), ["u1", "u2"], "no job for the unknown id");
    // A read returns exactly what was written.
    let read = s.directory.get_group("g1", None).await.unwrap().unwrap();
    assert_eq!(listed(&read), listed(&g));
    assert_eq!(warnings(&s, "g1").await, [GHOST_WARNING]);
}

#[tokio::test]
async fn an_update_adding_known_and_unknown_ids_applies_the_known_and_keeps_the_rest() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), ids(&["u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    let g = s
        .directory
        .update_group(
            policy.clone(),
            "g1".into(),
            Some(1),
            set("Sales", &["u1", "ghost", "u2", "phantom", "u3"]),
        )
        .await
        .unwrap();
    assert_eq!(g.version, 2);
    assert_eq!(
        listed(&g),
        [
            ("u1", true),
            ("ghost", false),
            ("u2", true),
            ("phantom", false),
            ("u3", true)
        ]
    );
    let jobs = s.jobs_after(before).await;
    assert_eq!(user_ids(&jobs), ["u2", "u3"]);
    // The same list again (Okta re-sends whole groups) changes nothing: no version, no job.
    let again = s
        .directory
        .update_group(
            policy,
            "g1".into(),
            None,
            set("Sales", &["u1", "ghost", "u2", "phantom", "u3"]),
        )
        .await
        .unwrap();
    assert_eq!(again.version, 2);
    assert_eq!(s.jobs().await.len(), before + 2);
}

#[tokio::test]
async fn removing_an_unknown_id_removes_its_warning_and_writes_no_job() {
    let s = store().await;
    s.users(&["u1"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), ids(&["ghost", "u1"]))
        .await
        .unwrap();
    assert_eq!(warnings(&s, "g1").await, [GHOST_WARNING]);
    let before = s.jobs().await.len();
    let g = s
        .directory
        .update_group(policy, "g1".into(), None, set("Sales", &["u1"]))
        .await
        .unwrap();
    assert_eq!(listed(&g), [("u1", true)]);
    assert_eq!(g.version, 2, "the group changed");
    assert!(
        s.jobs_after(before).await.is_empty(),
        "nobody's Splashtop state changed"
    );
    assert!(warnings(&s, "g1").await.is_empty());
}

#[tokio::test]
async fn a_deleted_group_takes_its_unknown_ids_along_without_a_job_for_them() {
    let s = store().await;
    s.users(&["u1"]).await;
    let policy = cx(GroupPolicy::Reject);
    s.directory
        .create_group(policy.clone(), group("g1", "Sales"), ids(&["ghost", "u1"]))
        .await
        .unwrap();
    let before = s.jobs().await.len();
    s.directory
        .delete_group(policy.clone(), "g1".into(), None)
        .await
        .unwrap();
    let jobs = s.jobs_after(before).await;
    assert_eq!(user_ids(&jobs), ["u1"]);
    assert_eq!(s.count("unresolved_members").await, 0);
    // A group of the same id later starts clean.
    let g = s
        .directory
        .create_group(policy, group("g1", "Sales"), Vec::new())
        .await
        .unwrap();
    assert!(g.members.is_empty());
}

#[tokio::test]
async fn the_migration_can_run_again_after_a_crash_before_it_was_recorded() {
    // SQLite's migration 4 (PostgreSQL's schema starts with these tables).
    let s = common::store_on(Engine::Sqlite).await;
    s.users(&["u1"]).await;
    s.directory
        .create_group(
            cx(GroupPolicy::Reject),
            group("g1", "Sales"),
            ids(&["ghost", "u1"]),
        )
        .await
        .unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&s.url).await.unwrap();
    sqlx::query("DELETE FROM schema_migrations WHERE version = 4")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    // Reopening applies migration 4 again over its own tables: nothing lost, no error.
    let reopened = SqliteDirectory::open(&s.url).await.unwrap();
    let g = reopened.get_group("g1", None).await.unwrap().unwrap();
    assert_eq!(listed(&g), [("ghost", false), ("u1", true)]);
}

#[tokio::test]
async fn what_a_group_write_returns_is_what_a_read_returns() {
    let s = store().await;
    s.users(&["u1", "u2", "u3"]).await;
    let mut named = common::user("u4", "u4@x.com");
    named.resource["displayName"] = json!("Dana Four");
    s.directory
        .create_user(cx(GroupPolicy::Reject), named)
        .await
        .unwrap();
    let policy = cx(GroupPolicy::First);
    let created = s
        .directory
        .create_group(
            policy.clone(),
            group("g1", "Sales"),
            ids(&["u1", "ghost", "u4"]),
        )
        .await
        .unwrap();
    let read = s.directory.get_group("g1", None).await.unwrap().unwrap();
    assert_eq!(created.members, read.members);
    assert_eq!(read.members[2].display, "Dana Four");
    for (name, members) in [
        ("Revenue", &["u4", "u2", "phantom", "u1"][..]),
        ("Revenue", &["u2", "u3"][..]),
        ("Income", &["u3", "ghost", "u2"][..]),
    ] {
        let mut written = s
            .directory
            .update_group(policy.clone(), "g1".into(), None, set(name, members))
            .await
            .unwrap();
        assert!(
            written.provisioning.is_some(),
            "a write reads its state back"
        );
        written.provisioning = None;
        let read = s.directory.get_group("g1", None).await.unwrap().unwrap();
        assert_eq!(written, read, "after {name} {members:?}");
    }
}
