//! Converging users and groups on the simulator, with the shared state in memory.

use splashsync_protocol::{JobKey, Tenant};
use splashtop_sim::SimConfig;

use super::*;
use crate::metrics::MirrorMetrics;
use crate::state::MemoryStore;
use crate::testkit::{group_state, sim, user_state, users};

fn env<'a>(api: &'a dyn TeamApi, store: &'a MemoryStore, cx: &'a CallContext) -> Env<'a> {
    static TENANT: std::sync::OnceLock<Tenant> = std::sync::OnceLock::new();
    static METRICS: std::sync::OnceLock<MirrorMetrics> = std::sync::OnceLock::new();
    Env {
        api,
        store,
        cx,
        tenant: TENANT.get_or_init(Tenant::default),
        metrics: METRICS.get_or_init(MirrorMetrics::default),
    }
}

fn pair(email: &str, group: &str) -> (String, String) {
    (email.to_owned(), group.to_owned())
}

#[tokio::test]
async fn a_user_is_invited_updated_moved_and_removed_only_when_it_differs() {
    let (sim, api) = sim(SimConfig::default()).await;
    let store = MemoryStore::new();
    let cx = CallContext::default();
    let env = env(api.as_ref(), &store, &cx);
    let mode = DeactivateMode::Remove;
    let ada = user_state("u-1", "ada@example.com", "Ada", None);

    let invited = apply_user(env, &ada, mode).await.unwrap();
    assert!(matches!(invited, Applied::Invited(_)), "{invited:?}");
    let again = apply_user(env, &ada, mode).await.unwrap();
    assert!(matches!(again, Applied::Unchanged(_)), "{again:?}");
    let renamed = user_state("u-1", "ada@example.com", "Augusta", None);
    let updated = apply_user(env, &renamed, mode).await.unwrap();
    assert!(matches!(updated, Applied::Updated(_)), "{updated:?}");

    let in_sales = user_state("u-1", "ada@example.com", "Augusta", Some(("g-1", "Sales")));
    apply_user(env, &in_sales, mode).await.unwrap();
    assert_eq!(users(&sim), [pair("ada@example.com", "Sales")]);

    let gone = UserState {
        active: false,
        ..in_sales
    };
    let removed = apply_user(env, &gone, mode).await.unwrap();
    assert!(matches!(removed, Applied::Removed(_)), "{removed:?}");
    assert_eq!(
        apply_user(env, &gone, mode).await.unwrap(),
        Applied::AlreadyAbsent
    );
    assert!(users(&sim).is_empty());
    assert_eq!(sim.snapshot()["detached_accounts"][0], "ada@example.com");
}

#[tokio::test]
async fn a_member_follows_its_group_renamed_or_deleted_meanwhile() {
    let (sim, api) = sim(SimConfig::default()).await;
    let store = MemoryStore::new();
    let cx = CallContext::default();
    let env = env(api.as_ref(), &store, &cx);
    let key = JobKey::group(&Tenant::default(), "g-1");
    let intent = |version, name: &str, deleted| GroupIntent {
        version,
        name: name.into(),
        deleted,
    };

    // The group job renaming "Old" to "New" started; the member's job still says "Old".
    store
        .start_group_job(&key, &intent(2, "New", false))
        .await
        .unwrap();
    let ada = user_state("u-1", "ada@example.com", "Ada", Some(("g-1", "Old")));
    apply_user(env, &ada, DeactivateMode::Remove).await.unwrap();
    assert_eq!(users(&sim), [pair("ada@example.com", "New")]);
    assert!(api.find_group(&cx, "Old").await.unwrap().is_none());

    // Then a job deleting it started: the member goes to the default group.
    store
        .start_group_job(&key, &intent(3, "New", true))
        .await
        .unwrap();
    apply_user(env, &ada, DeactivateMode::Remove).await.unwrap();
    assert_eq!(users(&sim), [pair("ada@example.com", "Default")]);
}

#[tokio::test]
async fn a_group_is_created_renamed_and_deleted_and_an_older_job_never_wins() {
    let (sim, api) = sim(SimConfig::default()).await;
    let store = MemoryStore::new();
    let cx = CallContext::default();
    let env = env(api.as_ref(), &store, &cx);
    let key = JobKey::group(&Tenant::default(), "g-1");

    let created = apply_group(env, &key, 1, &group_state("g-1", "Old", &[], false))
        .await
        .unwrap();
    let Applied::GroupCreated(id) = created else {
        panic!("{created:?}")
    };
    let ada = user_state("u-1", "ada@example.com", "Ada", Some(("g-1", "Old")));
    apply_user(env, &ada, DeactivateMode::Remove).await.unwrap();

    let rename = group_state("g-1", "New", &["Old"], false);
    let renamed = apply_group(env, &key, 2, &rename).await.unwrap();
    assert_eq!(renamed, Applied::GroupRenamed(id.clone()));
    assert_eq!(users(&sim), [pair("ada@example.com", "New")]);

    let stale = apply_group(env, &key, 1, &group_state("g-1", "Old", &[], false))
        .await
        .unwrap();
    assert_eq!(stale, Applied::Skipped { newer: 2 });
    assert!(api.find_group(&cx, "Old").await.unwrap().is_none());

    let delete = group_state("g-1", "New", &["Old"], true);
    let deleted = apply_group(env, &key, 3, &delete).await.unwrap();
    assert_eq!(deleted, Applied::GroupDeleted(id));
    assert_eq!(users(&sim), [pair("ada@example.com", "Default")]);
}
