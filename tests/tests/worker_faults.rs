//! Workers under faults: permanent errors go to the dead-letter queue with their reason,
//! a killed worker loses nothing, and the rate limit is respected or adapted to.

use std::time::Duration;

use splashsync_protocol::DeadReason;
use splashsync_test_support::{
    eventually, metric, sim_reaches, user_job, users_in, versions_never_decrease, Cluster,
    UserSpec, WorkerOptions,
};
use splashtop_sim::{Faults, SimConfig};

const WAIT: Duration = Duration::from_secs(30);

fn active(first: &str) -> UserSpec {
    UserSpec::active(first)
}

fn with_faults(faults: Faults) -> SimConfig {
    SimConfig {
        faults,
        ..SimConfig::default()
    }
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
    sim_reaches(&cluster.sim, WAIT, "3 users", |s| users_in(s) == 3).await;
    // Three applied and three dead-lettered: every one of the six jobs is accounted for.
    eventually(WAIT, "three dead letters", || async {
        cluster.dead_letter_count().await >= 3
    })
    .await;
    let dead = cluster.dead_letters().await;
    assert_eq!(dead.len(), 3, "u1 (SSO) and two over the seat limit");
    let codes: Vec<String> = dead
        .iter()
        .map(|(h, _)| h.error_code.clone().unwrap_or_default())
        .collect();
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
        assert_eq!(h.reason, DeadReason::Permanent, "{h:?}");
        assert_eq!(h.http_status, Some(422), "{h:?}");
        assert_eq!(h.attempts, Some(1), "{h:?}");
        assert!(!h.error_body.is_empty(), "{h:?}");
        assert!(
            h.first_attempt.is_some() && h.last_attempt.is_some(),
            "{h:?}"
        );
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
    eventually(WAIT, "the dead letter", || async {
        cluster.dead_letter_count().await >= 1
    })
    .await;
    let dead = cluster.dead_letters().await;
    let (h, _) = dead.first().expect("a dead letter");
    assert_eq!(h.reason, DeadReason::RetryBudgetExhausted, "{h:?}");
    assert!(h.attempts.is_some_and(|n| n > 1), "{h:?}");
    assert!(h.http_status.is_some_and(|s| s >= 500), "{h:?}");
    cluster.shutdown().await;
}

/// Whether every worker at `urls` sees all of them alive and together they hold every one
/// of the `partitions`: the partitions are shared out.
async fn shared_out(urls: &[String], partitions: u16) -> Result<(), String> {
    let mut held = 0.0;
    for url in urls {
        let text = reqwest::get(format!("{url}/metrics"))
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        let live = metric(&text, "splashsync_worker_live_workers", &[]);
        if live != Some(urls.len() as f64) {
            return Err(format!("{url} sees {live:?} live workers"));
        }
        held += metric(&text, "splashsync_worker_partitions_held", &[]).unwrap_or(0.0);
    }
    match held == f64::from(partitions) {
        true => Ok(()),
        false => Err(format!("{held} of {partitions} partitions held")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_the_others_take_its_partitions_over() {
    let faults = Faults {
        latency_ms: 20,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 4).await;
    let listening = || WorkerOptions {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        ..WorkerOptions::default()
    };
    let first = cluster.start_worker(listening()).await;
    let second = cluster.start_worker(listening()).await;
    let urls: Vec<String> = [first, second]
        .iter()
        .map(|&w| cluster.worker_url(w).expect("the worker listens"))
        .collect();
    // The burst starts once both workers hold partitions, so that the kill takes some away.
    eventually(WAIT, "both workers sharing the partitions", || {
        shared_out(&urls, 4)
    })
    .await;
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
    // One call per job (the team mirror) plus the listing: 65 jobs overflow the window.
    for n in 0..65 {
        cluster.publish(&user_job(n, 1, active("Limited"))).await;
    }
    sim_reaches(&cluster.sim, Duration::from_secs(150), "65 users", |s| {
        users_in(s) == 65
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
    // One call per job (the team mirror) plus the listing: 40 jobs overflow the 30-call
    // window at the worker's 200 a minute.
    for n in 0..40 {
        cluster.publish(&user_job(n, 1, active("Adapt"))).await;
    }
    sim_reaches(
        &cluster.sim,
        Duration::from_secs(170),
        "all 40 users: nothing may be lost to the limit",
        |s| users_in(s) == 40,
    )
    .await;
    assert!(cluster.dead_letters().await.is_empty());
    let stats = cluster.sim.stats();
    // Every 429 pauses all partitions until Retry-After: a handful, not a hammering.
    let rejected = stats["rejected_rate_limited"].as_u64().unwrap_or(0);
    assert!((1..=8).contains(&rejected), "{stats}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbled_answers_and_a_lost_mirror_lose_nothing_and_never_write_from_a_stale_mirror() {
    // A fifth of the answers do not parse (the change was applied), some changes are
    // answered 500 after applying: the mirror must not believe what it did not read.
    let faults = Faults {
        garbled_answer_rate: 0.2,
        error_after_apply_rate: 0.05,
        ..Faults::default()
    };
    let mut cluster = Cluster::new(with_faults(faults), 4).await;
    for _ in 0..2 {
        cluster
            .start_worker(WorkerOptions {
                retry_budget: Duration::from_secs(120),
                ..WorkerOptions::default()
            })
            .await;
    }
    for n in 0..40 {
        cluster.publish(&user_job(n, 1, active("First"))).await;
    }
    sim_reaches(&cluster.sim, WAIT, "40 users", |s| users_in(s) == 40).await;
    // Redis loses everything, the mirror with it; then every user changes back and forth
    // (a mirror kept from before the loss would skip the changes back as "unchanged").
    cluster.store.delete_all().await.expect("redis answers");
    for n in 0..40 {
        cluster.publish(&user_job(n, 2, active("Second"))).await;
        let last = if n % 4 == 0 {
            UserSpec {
                active: false,
                ..active("First")
            }
        } else {
            active("First")
        };
        cluster.publish(&user_job(n, 3, last)).await;
    }
    // Markers behind every partition's jobs: once they are all in, every job was handled.
    let markers = cluster.publish_markers("marker").await;
    let state = sim_reaches(&cluster.sim, Duration::from_secs(90), "the markers", |s| {
        markers
            .iter()
            .all(|m| splashsync_test_support::has_user(s, m))
    })
    .await;
    let users: Vec<&serde_json::Value> = state["users"]
        .as_array()
        .map(|u| u.iter().filter(|u| u["first_name"] != "Marker").collect())
        .unwrap_or_default();
    assert_eq!(users.len(), 30, "{state}");
    assert!(
        users.iter().all(|u| u["first_name"] == "First"),
        "every change back applied: {state}"
    );
    for n in (0..40).filter(|n| n % 4 == 0) {
        let email = format!("u{n}@example.com");
        assert!(
            !splashsync_test_support::has_user(&state, &email),
            "{email} was deactivated"
        );
    }
    let stats = cluster.sim.stats();
    assert!(
        stats["garbled_answers"].as_u64().unwrap_or(0) > 0,
        "{stats}"
    );
    assert!(cluster.dead_letters().await.is_empty());
    versions_never_decrease(&cluster.sim.log()).unwrap();
    cluster.shutdown().await;
}
