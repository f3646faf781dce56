//! The team mirror on the simulator: one call per change, a wrong mirror refreshed and
//! counted, lost answers and lost mirrors read again, and group names owned by another
//! SCIM group left alone.

use splashsync_protocol::{JobKey, Tenant};
use splashtop_sim::{Faults, SimConfig, SimHandle};

use super::*;
use crate::metrics::MirrorMetrics;
use crate::state::{MemoryStore, Mirror, Mirrored};
use crate::testkit::{group_state, sim, user_state, users, Flaky};

const MODE: DeactivateMode = DeactivateMode::Remove;

fn env<'a>(
    api: &'a dyn TeamApi,
    store: &'a MemoryStore,
    cx: &'a CallContext,
    metrics: &'a MirrorMetrics,
) -> Env<'a> {
    static TENANT: std::sync::OnceLock<Tenant> = std::sync::OnceLock::new();
    Env {
        api,
        store,
        cx,
        tenant: TENANT.get_or_init(Tenant::default),
        metrics,
        verify: false,
    }
}

/// A fresh store, mirror counters and call context for one test.
fn parts() -> (MemoryStore, MirrorMetrics, CallContext) {
    (
        MemoryStore::new(),
        MirrorMetrics::default(),
        CallContext::default(),
    )
}

/// API requests the simulator received so far.
fn requests(sim: &SimHandle) -> u64 {
    sim.stats()["requests"].as_u64().unwrap_or_default()
}

fn tenant() -> String {
    Tenant::default().as_str().to_owned()
}

#[tokio::test]
async fn with_a_filled_mirror_each_change_is_one_call_and_no_change_is_none() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let ada = user_state("u-1", "ada@example.com", "Ada", Some(("g-1", "Sales")));
    // The first job fills the mirror: one page of groups, one of users; then its group
    // and its invite.
    assert!(matches!(
        apply_user(env, &ada, MODE).await,
        Ok(Applied::Invited(_))
    ));
    assert_eq!(requests(&sim), 4, "{:?}", sim.log());
    assert!(store.mirror_complete(&tenant()).await.unwrap());
    // The invite carried the final state: Ada was invited into Sales, not moved after.
    let log = sim.log();
    assert_eq!(
        (log[1].op.as_str(), log[1].group.as_deref()),
        ("invite_user", Some("Sales"))
    );
    let steps = [
        user_state("u-1", "ada@example.com", "Augusta", Some(("g-1", "Sales"))),
        user_state("u-1", "ada@example.com", "Augusta", None),
        UserState {
            active: false,
            ..user_state("u-1", "ada@example.com", "Augusta", None)
        },
    ];
    for (i, state) in steps.iter().enumerate() {
        let before = requests(&sim);
        apply_user(env, state, MODE).await.unwrap();
        assert_eq!(requests(&sim), before + 1, "step {i}: {:?}", sim.log());
        // The same state again needs no call at all.
        apply_user(env, state, MODE).await.unwrap();
        assert_eq!(requests(&sim), before + 1, "step {i} again");
    }
    assert!(users(&sim).is_empty());
    assert_eq!((metrics.misses(), sim.log().len()), (0, 5));
}

#[tokio::test]
async fn a_mirror_proved_wrong_refreshes_the_user_and_counts_a_miss() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let ada = user_state("u-1", "ada@example.com", "Ada", None);
    apply_user(env, &ada, MODE).await.unwrap();
    // Someone removes Ada behind the workers' backs: the update's 404 tells.
    let id = api
        .find_user(&cx, "ada@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    api.remove_user(&cx, &id, false).await.unwrap();
    let renamed = user_state("u-1", "ada@example.com", "Augusta", None);
    assert!(matches!(
        apply_user(env, &renamed, MODE).await,
        Ok(Applied::Invited(_))
    ));
    assert_eq!(metrics.misses(), 1);
    // Someone invites Bob behind their backs: the invite's 409 tells.
    let bob = user_state("u-2", "bob@example.com", "Bob", None);
    let profile = UserProfile {
        first_name: "Robert".into(),
        last_name: "Lovelace".into(),
        display_name: "Robert".into(),
        sso_name: None,
        group_id: None,
    };
    api.invite_user(&cx, "bob@example.com", &profile)
        .await
        .unwrap();
    assert!(matches!(
        apply_user(env, &bob, MODE).await,
        Ok(Applied::Updated(_))
    ));
    assert_eq!(metrics.misses(), 2);
    let state = sim.snapshot();
    let first: Vec<&str> = state["users"]
        .as_array()
        .map(|u| u.iter().filter_map(|u| u["first_name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(first, ["Augusta", "Bob"]);
}

#[tokio::test]
async fn a_garbled_answer_leaves_the_user_unknown_and_the_next_job_reads_it() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    apply_user(
        env,
        &user_state("u-1", "ada@example.com", "Ada", None),
        MODE,
    )
    .await
    .unwrap();
    sim.set_faults(Faults {
        garbled_answer_rate: 1.0,
        ..Faults::default()
    });
    let augusta = user_state("u-1", "ada@example.com", "Augusta", None);
    let garbled = apply_user(env, &augusta, MODE).await;
    assert!(
        matches!(garbled, Err(ApiError::Transient { .. })),
        "{garbled:?}"
    );
    assert_eq!(
        store
            .mirror_user(&tenant(), "ada@example.com")
            .await
            .unwrap(),
        Mirrored::Unknown
    );
    sim.set_faults(Faults::default());
    // Splashtop applied it: the next job (back to "Ada") reads, sees Augusta, writes.
    let before = requests(&sim);
    let ada = user_state("u-1", "ada@example.com", "Ada", None);
    assert!(matches!(
        apply_user(env, &ada, MODE).await,
        Ok(Applied::Updated(_))
    ));
    assert_eq!(requests(&sim), before + 2, "a read, then the update");
    assert_eq!(sim.snapshot()["users"][0]["first_name"], "Ada");
    assert_eq!(metrics.misses(), 0);
}

#[tokio::test]
async fn a_write_never_sent_leaves_the_mirror_as_it_was_and_costs_no_read() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let ada = user_state("u-1", "ada@example.com", "Ada", None);
    apply_user(env(api.as_ref(), &store, &cx, &metrics), &ada, MODE)
        .await
        .unwrap();
    let known = store
        .mirror_user(&tenant(), "ada@example.com")
        .await
        .unwrap();
    // The partition stops while the update waits for its rate-limiter slot (partitions
    // moving to another worker): the call is not made.
    let stopped = Flaky::new(api.clone(), vec![crate::limiter::not_made_error()]);
    let augusta = user_state("u-1", "ada@example.com", "Augusta", None);
    let cut = apply_user(env(&stopped, &store, &cx, &metrics), &augusta, MODE).await;
    assert!(crate::limiter::not_made(&cut.unwrap_err()));
    assert_eq!(
        store
            .mirror_user(&tenant(), "ada@example.com")
            .await
            .unwrap(),
        known,
        "not left unknown"
    );
    // The job's next attempt writes at once: one call, no read.
    let before = requests(&sim);
    let again = apply_user(env(api.as_ref(), &store, &cx, &metrics), &augusta, MODE).await;
    assert!(matches!(again, Ok(Applied::Updated(_))), "{again:?}");
    assert_eq!(requests(&sim), before + 1);
}

#[tokio::test]
async fn a_listing_failing_halfway_falls_back_to_reads_and_a_later_job_fills() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    // The groups page goes through, the users page fails.
    let unavailable = ApiError::Transient {
        status: Some(503),
        retry_after: None,
        detail: "unavailable".into(),
    };
    let failing = Flaky::after(api.clone(), 1, vec![unavailable]);
    let env_failing = env(&failing, &store, &cx, &metrics);
    let half = env(api.as_ref(), &store, &cx, &metrics);
    let ada = user_state("u-1", "ada@example.com", "Ada", None);
    assert!(matches!(
        apply_user(env_failing, &ada, MODE).await,
        Ok(Applied::Invited(_))
    ));
    assert!(
        !store.mirror_complete(&tenant()).await.unwrap(),
        "never trusted half a listing"
    );
    assert_eq!(users(&sim).len(), 1);
    // The lease of the failed fill still holds: the next job reads instead of listing.
    let before = requests(&sim);
    apply_user(
        half,
        &user_state("u-1", "ada@example.com", "Augusta", None),
        MODE,
    )
    .await
    .unwrap();
    assert_eq!(requests(&sim), before + 2, "a read and the update");
    // Once the lease is gone, a job fills the mirror.
    store.lose_mirror(&tenant());
    apply_user(
        half,
        &user_state("u-2", "bob@example.com", "Bob", None),
        MODE,
    )
    .await
    .unwrap();
    assert!(store.mirror_complete(&tenant()).await.unwrap());
    assert_eq!(
        store
            .mirror_user(&tenant(), "ada@example.com")
            .await
            .unwrap(),
        Mirrored::Known(
            api.find_user(&cx, "ada@example.com")
                .await
                .unwrap()
                .unwrap()
        )
    );
}

#[tokio::test]
async fn a_lost_mirror_is_filled_again_before_anyone_trusts_it() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let ada = UserState {
        active: false,
        ..user_state("u-1", "ada@example.com", "Ada", None)
    };
    apply_user(
        env,
        &user_state("u-1", "ada@example.com", "Ada", None),
        MODE,
    )
    .await
    .unwrap();
    // Redis loses everything: an empty mirror would say Ada is absent, and her
    // deactivation would do nothing. It is filled again first.
    store.lose_mirror(&tenant());
    assert!(matches!(
        apply_user(env, &ada, MODE).await,
        Ok(Applied::Removed(_))
    ));
    assert!(users(&sim).is_empty());
}

#[tokio::test]
async fn a_group_name_held_by_another_scim_group_is_never_joined_renamed_or_deleted() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let old_key = JobKey::group(&Tenant::default(), "g-old");
    apply_group(env, &old_key, 1, &group_state("g-old", "Sales", &[], false))
        .await
        .unwrap();
    // g-old is renamed to "Archive" and a new g-new takes "Sales"; g-new's member runs
    // before g-old's rename: it must not join g-old's group.
    let ann = user_state("u-1", "ann@example.com", "Ann", Some(("g-new", "Sales")));
    let early = apply_user(env, &ann, MODE).await;
    assert!(
        matches!(early, Err(ApiError::Transient { .. })),
        "{early:?}"
    );
    assert!(users(&sim).is_empty());
    // A delete of g-new (named "Sales") leaves g-old's "Sales" alone.
    let new_key = JobKey::group(&Tenant::default(), "g-new");
    let deleted = apply_group(env, &new_key, 1, &group_state("g-new", "Sales", &[], true))
        .await
        .unwrap();
    assert_eq!(deleted, Applied::AlreadyAbsent);
    assert!(api.find_group(&cx, "Sales").await.unwrap().is_some());
    // Once g-old's rename ran, the member gets a "Sales" of its own group.
    apply_group(
        env,
        &old_key,
        2,
        &group_state("g-old", "Archive", &["Sales"], false),
    )
    .await
    .unwrap();
    apply_group(env, &new_key, 2, &group_state("g-new", "Sales", &[], false))
        .await
        .unwrap();
    apply_user(env, &ann, MODE).await.unwrap();
    assert_eq!(
        users(&sim),
        [("ann@example.com".to_owned(), "Sales".to_owned())]
    );
    let sales = api.find_group(&cx, "Sales").await.unwrap().unwrap();
    let archive = api.find_group(&cx, "Archive").await.unwrap().unwrap();
    assert_ne!(sales.id, archive.id);
}

#[tokio::test]
async fn members_racing_for_a_new_group_create_it_once() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics) = (MemoryStore::new(), MirrorMetrics::default());
    crate::testkit::fill_mirror(&store, api.as_ref()).await;
    let members: Vec<UserState> = (0..8)
        .map(|i| {
            let email = format!("m{i}@example.com");
            user_state(&format!("u-{i}"), &email, "M", Some(("g-1", "Sales")))
        })
        .collect();
    let contexts: Vec<CallContext> = (0..8)
        .map(|i| CallContext {
            job_id: format!("job-{i}"),
            ..CallContext::default()
        })
        .collect();
    let runs = members.iter().zip(&contexts).map(|(state, cx)| {
        let env = env(api.as_ref(), &store, cx, &metrics);
        async move { apply_user(env, state, MODE).await }
    });
    for result in futures_util::future::join_all(runs).await {
        assert!(matches!(result, Ok(Applied::Invited(_))), "{result:?}");
    }
    let creates = sim.log().iter().filter(|e| e.op == "create_group").count();
    assert_eq!((creates, metrics.misses()), (1, 0), "{:?}", sim.log());
    assert!(users(&sim).iter().all(|(_, group)| group == "Sales"));
}

#[tokio::test]
async fn a_verify_job_reads_past_a_mirror_that_splashtop_drifted_from() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let ada = user_state("u-1", "ada@example.com", "Ada", None);
    apply_user(env, &ada, MODE).await.unwrap();
    // Someone renames Ada in Splashtop by hand: the mirror still says "Ada".
    let found = api
        .find_user(&cx, "ada@example.com")
        .await
        .unwrap()
        .unwrap();
    let by_hand = UserProfile {
        first_name: "Hand".into(),
        last_name: found.last_name.clone(),
        display_name: found.display_name.clone(),
        sso_name: None,
        group_id: found.group_id.clone(),
    };
    api.update_user(&cx, &found.id, &by_hand).await.unwrap();
    let first_name = |sim: &SimHandle| sim.snapshot()["users"][0]["first_name"].clone();
    // A plain job trusts the mirror: nothing to do, Splashtop keeps the drift.
    let before = requests(&sim);
    assert!(matches!(
        apply_user(env, &ada, MODE).await,
        Ok(Applied::Unchanged(_))
    ));
    assert_eq!((requests(&sim), first_name(&sim)), (before, "Hand".into()));
    // A reconciliation's job (verify) reads Ada first and writes her back.
    let verify = Env {
        verify: true,
        ..env
    };
    assert!(matches!(
        apply_user(verify, &ada, MODE).await,
        Ok(Applied::Updated(_))
    ));
    assert_eq!(first_name(&sim), "Ada");
    // Its read corrected the mirror: the next plain job has nothing to do.
    let before = requests(&sim);
    apply_user(env, &ada, MODE).await.unwrap();
    assert_eq!(requests(&sim), before);
}

#[tokio::test]
async fn a_rename_onto_a_name_created_behind_the_mirror_folds_into_it_on_the_retry() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    crate::testkit::fill_mirror(&store, api.as_ref()).await;
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let key = JobKey::group(&Tenant::default(), "g-1");
    apply_group(env, &key, 1, &group_state("g-1", "Old", &[], false))
        .await
        .unwrap();
    // A member's job created "New" on another partition and lost the answer: the mirror
    // knows only "Old", so the group job's rename draws a 409.
    let new = api.create_group(&cx, "New").await.unwrap();
    let renamed = group_state("g-1", "New", &["Old"], false);
    let first = apply_group(env, &key, 2, &renamed).await;
    assert!(
        matches!(first, Err(ApiError::Transient { .. })),
        "{first:?}"
    );
    assert_eq!(metrics.misses(), 1);
    // The retry decides from what the refusal's reads put in the mirror: "Old" folds
    // into "New", and one group remains.
    assert_eq!(
        apply_group(env, &key, 2, &renamed).await.unwrap(),
        Applied::Unchanged(new.id.clone())
    );
    assert!(api.find_group(&cx, "Old").await.unwrap().is_none());
    assert_eq!(
        api.find_group(&cx, "New").await.unwrap().unwrap().id,
        new.id
    );
    // The refused rename changed nothing; "Old" was folded by a delete.
    assert!(
        sim.log().iter().all(|e| e.op != "rename_group"),
        "{:?}",
        sim.log()
    );
}

#[tokio::test]
async fn a_delete_with_many_former_names_reads_the_listing_once() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let key = JobKey::group(&Tenant::default(), "g-1");
    apply_group(env, &key, 1, &group_state("g-1", "N0", &[], false))
        .await
        .unwrap();
    let formers: Vec<String> = (0..10).map(|i| format!("N{i}")).collect();
    let formers: Vec<&str> = formers.iter().map(String::as_str).collect();
    let before = requests(&sim);
    let deleted = apply_group(env, &key, 2, &group_state("g-1", "N10", &formers, true))
        .await
        .unwrap();
    assert!(matches!(deleted, Applied::GroupDeleted(_)), "{deleted:?}");
    // One page of the listing, one delete: not a read per name.
    assert_eq!(requests(&sim) - before, 2, "{:?}", sim.log());
    assert!(api.find_group(&cx, "N0").await.unwrap().is_none());
}

#[tokio::test]
async fn a_fold_into_a_group_whose_old_half_is_already_gone_retries_from_a_fresh_read() {
    let (sim, api) = sim(SimConfig::default()).await;
    let (store, metrics, cx) = parts();
    crate::testkit::fill_mirror(&store, api.as_ref()).await;
    let env = env(api.as_ref(), &store, &cx, &metrics);
    let key = JobKey::group(&Tenant::default(), "g-1");
    apply_group(env, &key, 1, &group_state("g-1", "Old", &[], false))
        .await
        .unwrap();
    apply_group(env, &key, 2, &group_state("g-1", "New", &[], false))
        .await
        .unwrap();
    // An earlier attempt folded "Old" into "New" and lost the answer of its delete: the
    // mirror still knows "Old", which Splashtop no longer has.
    let old = api.find_group(&cx, "Old").await.unwrap().unwrap();
    api.delete_group(&cx, &old.id).await.unwrap();
    let job = group_state("g-1", "New", &["Old"], false);
    let first = apply_group(env, &key, 3, &job).await;
    assert!(
        matches!(first, Err(ApiError::Transient { .. })),
        "{first:?}"
    );
    assert_eq!(metrics.misses(), 1);
    let new = api.find_group(&cx, "New").await.unwrap().unwrap();
    assert_eq!(
        apply_group(env, &key, 3, &job).await.unwrap(),
        Applied::Unchanged(new.id)
    );
    assert!(sim.log().iter().all(|e| e.op != "rename_group"));
}
