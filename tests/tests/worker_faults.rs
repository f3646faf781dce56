//! Workers under faults: permanent errors go to the dead-letter queue with their reason,
//! a killed worker loses nothing, and the rate limit is respected or adapted to.

use std::time::Duration;

use lapin::types::AMQPValue;
use splashsync_test_support::{
    sim_reaches, user_job, users_in, versions_never_decrease, Cluster, UserSpec, WorkerOptions,
};
use splashtop_sim::{Faults, SimConfig};

fn active(first: &str) -> UserSpec {
    UserSpec::active(first)
}

fn with_faults(faults: Faults) -> SimConfig {
    SimConfig {
        faults,
        ..SimConfig::default()
    }
}

fn header<'a>(h: &'a lapin::types::FieldTable, k: &str) -> Option<&'a AMQPValue> {
    h.inner().get(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_dead_lettered_with_their_reason_and_the_partition_goes_on() {
    let sim = SimConfig {
        sso_methods: vec!["Okta SSO".into()],
        seats: 3,
        ..SimConfig::default()
    };
    // One partition: the jobs after the failures must get through the same queue.
    let mut cluster = Cluster::new(sim, 1).await;
    cluster.start_worker(WorkerOptions::default()).await;
    let bad_sso = UserSpec {
        sso_name: Some("Okta  SSO".into()),
        ..active("Bad")
    };
    cluster.publish(&user_job(1, 1, bad_sso)).await;
    for n in 2..=6 {
        cluster.publish(&user_job(n, 1, active("Ok"))).await;
    }
    sim_reaches(&cluster.sim, Duration::from_secs(30), "3 users", |s| {
        users_in(s) == 3
    })
    .await;
    let mut dead = Vec::new();
    for _ in 0..100 {
        dead.extend(cluster.dead_letters().await);
        if dead.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead.len(), 3, "u1 (SSO) and two over the seat limit");
    let code = |h: &lapin::types::FieldTable| match header(h, "x-splashsync-error-code") {
        Some(AMQPValue::LongString(s)) => s.to_string(),
        other => format!("{other:?}"),
    };
    let codes: Vec<String> = dead.iter().map(|(h, _)| code(h)).collect();
    assert_eq!(
        codes
            .iter()
            .filter(|c| *c == "sso_method_not_found")
            .count(),
        1,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "seat_limit_reached").count(),
        2,
        "{codes:?}"
    );
    for (h, _) in &dead {
        assert_eq!(
            header(h, "x-splashsync-reason"),
            Some(&AMQPValue::LongString("permanent".into()))
        );
        assert_eq!(
            header(h, "x-splashsync-http-status"),
            Some(&AMQPValue::LongLongInt(422))
        );
        assert_eq!(
            header(h, "x-splashsync-attempts"),
            Some(&AMQPValue::LongLongInt(1))
        );
        for k in [
            "x-splashsync-error-body",
            "x-splashsync-first-attempt",
            "x-splashsync-last-attempt",
        ] {
            assert!(header(h, k).is_some(), "missing {k}");
        }
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_retry_budget_is_dead_lettered_as_such() {
    let faults = Faults {
        error_rate: 1.0,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 2).await;
    cluster
        .start_worker(WorkerOptions {
            retry_budget: Duration::from_secs(2),
            ..WorkerOptions::default()
        })
        .await;
    cluster.publish(&user_job(1, 1, active("A"))).await;
    let mut dead = Vec::new();
    for _ in 0..100 {
        dead.extend(cluster.dead_letters().await);
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (h, _) = dead.first().expect("a dead letter");
    assert_eq!(
        header(h, "x-splashsync-reason"),
        Some(&AMQPValue::LongString("retry_budget_exhausted".into()))
    );
    assert!(
        matches!(header(h, "x-splashsync-attempts"), Some(AMQPValue::LongLongInt(n)) if *n > 1)
    );
    assert!(
        matches!(header(h, "x-splashsync-http-status"), Some(AMQPValue::LongLongInt(s)) if *s >= 500)
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_the_others_take_its_partitions_over() {
    let faults = Faults {
        latency_ms: 20,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 4).await;
    let first = cluster.start_worker(WorkerOptions::default()).await;
    let _second = cluster.start_worker(WorkerOptions::default()).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in 0..120 {
        cluster.publish(&user_job(n, 1, active("Burst"))).await;
    }
    // Mid-burst: some jobs are applied, many are queued, some are in flight.
    sim_reaches(&cluster.sim, Duration::from_secs(20), "20 users", |s| {
        users_in(s) >= 20
    })
    .await;
    cluster.kill_worker(first).await;
    for n in 0..120 {
        cluster.publish(&user_job(n, 2, active("Again"))).await;
    }
    cluster.start_worker(WorkerOptions::default()).await;
    let all_again = |s: &serde_json::Value| {
        s["users"]
            .as_array()
            .is_some_and(|u| u.len() == 120 && u.iter().all(|u| u["first_name"] == "Again"))
    };
    sim_reaches(
        &cluster.sim,
        Duration::from_secs(60),
        "all 120 users at their second version",
        all_again,
    )
    .await;
    versions_never_decrease(&cluster.sim.log()).unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_rate_limit_never_draws_a_429() {
    // More calls than one window allows, so a limiter that bursts would be caught.
    let faults = Faults {
        rate_limit_per_minute: 60,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 2).await;
    for _ in 0..2 {
        cluster
            .start_worker(WorkerOptions {
                rate_limit_per_minute: 60,
                retry_budget: Duration::from_secs(120),
                ..WorkerOptions::default()
            })
            .await;
    }
    for n in 0..33 {
        cluster.publish(&user_job(n, 1, active("Limited"))).await;
    }
    sim_reaches(&cluster.sim, Duration::from_secs(150), "33 users", |s| {
        users_in(s) == 33
    })
    .await;
    let stats = cluster.sim.stats();
    assert!(stats["requests"].as_u64().unwrap_or(0) > 60, "{stats}");
    assert_eq!(stats["rejected_rate_limited"], 0, "{stats}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_left_at_the_default_limit_adapts_to_a_lower_one() {
    let faults = Faults {
        rate_limit_per_minute: 30,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 2).await;
    cluster
        .start_worker(WorkerOptions {
            rate_limit_per_minute: 200,
            retry_budget: Duration::from_secs(150),
            ..WorkerOptions::default()
        })
        .await;
    for n in 0..20 {
        cluster.publish(&user_job(n, 1, active("Adapt"))).await;
    }
    sim_reaches(
        &cluster.sim,
        Duration::from_secs(170),
        "all 20 users: nothing may be lost to the limit",
        |s| users_in(s) == 20,
    )
    .await;
    assert!(cluster.dead_letters().await.is_empty());
    let stats = cluster.sim.stats();
    // Every 429 pauses all partitions until Retry-After: a handful, not a hammering.
    let rejected = stats["rejected_rate_limited"].as_u64().unwrap_or(0);
    assert!((1..=8).contains(&rejected), "{stats}");
    cluster.shutdown().await;
}
