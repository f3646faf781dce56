//! One tenant's Splashtop outage (every call answered 429) never holds back another
//! tenant's drain: each tenant has its own partition queues, worker, Splashtop client and
//! rate bucket, so nothing of the throttled tenant sits in front of the other's jobs.

use std::time::Duration;

use reqwest::StatusCode;
use splashsync_test_support::{eventually, has_user, sim_reaches};
use splashtop_sim::Faults;

use super::isolation::user;
use super::{two_tenants, APAC_TOKEN, EMEA_TOKEN};

/// Users each tenant creates.
const USERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_429s_never_hold_back_the_others_drain() {
    let app = two_tenants(true).await;
    let throttled = Faults {
        throttle_rate: 1.0,
        retry_after_secs: 1,
        ..Faults::default()
    };
    app.sim("emea").set_faults(throttled);
    let email = |tenant: &str, n: usize| format!("{tenant}{n}@example.com");
    for n in 0..USERS {
        for (token, tenant) in [(EMEA_TOKEN, "emea"), (APAC_TOKEN, "apac")] {
            let (s, body) = app
                .call(
                    token,
                    "POST",
                    "/Users",
                    Some(user(&email(tenant, n), tenant)),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{body}");
        }
    }
    // emea's worker is being refused (a positive signal that its jobs are in flight)…
    let emea = app.sim("emea");
    eventually(
        Duration::from_secs(60),
        "emea's Splashtop answering 429",
        || async { emea.stats()["throttled"].as_u64().unwrap_or(0) >= 2 },
    )
    .await;
    // …while apac's team receives every one of apac's users.
    sim_reaches(
        app.sim("apac"),
        Duration::from_secs(90),
        "every apac user in apac's team",
        |state| (0..USERS).all(|n| has_user(state, &email("apac", n))),
    )
    .await;
    let emea_state = emea.snapshot();
    assert!(
        (0..USERS).all(|n| !has_user(&emea_state, &email("emea", n))),
        "emea's Splashtop refused every call, yet holds a user: {emea_state}"
    );
    assert!((0..USERS).all(|n| !has_user(&app.sim("apac").snapshot(), &email("emea", n))));
    // Once emea's Splashtop answers again, its own jobs drain too, into its own team only.
    emea.set_faults(Faults::default());
    sim_reaches(
        emea,
        Duration::from_secs(120),
        "every emea user in emea's team once it answers",
        |state| (0..USERS).all(|n| has_user(state, &email("emea", n))),
    )
    .await;
    assert!((0..USERS).all(|n| !has_user(&emea.snapshot(), &email("apac", n))));
    app.stop().await;
}
