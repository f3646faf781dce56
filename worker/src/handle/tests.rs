//! Processing jobs on the simulator with the shared state in memory: versions,
//! incarnations, retries in place, dead-letter causes and stops.

use std::sync::Arc;
use std::time::Duration;

use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_protocol::DeadReason;
use splashtop_sim::SimConfig;
use tokio::sync::watch;
use tokio::time::Instant;

use super::process::{DeadCause, Outcome};
use super::Runtime;
use crate::apply::Applied;
use crate::config::DeactivateMode;
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::retry::RetryPolicy;
use crate::state::MemoryStore;
use crate::testkit::{
    fill_mirror, group_job, group_state, sim, user_job, user_state, users, Flaky,
};
use splashtop_api::{ApiError, TeamApi};

fn runtime(api: Arc<dyn TeamApi>, retry: RetryPolicy) -> Runtime {
    with_store(api, retry, Arc::new(MemoryStore::new()))
}

/// A runtime whose team mirror is already filled from `plain` (a client without
/// faults): the job's first call is then its write, not a listing.
async fn filled(plain: Arc<dyn TeamApi>, api: Arc<dyn TeamApi>, retry: RetryPolicy) -> Runtime {
    let store = Arc::new(MemoryStore::new());
    fill_mirror(&store, plain.as_ref()).await;
    with_store(api, retry, store)
}

fn with_store(api: Arc<dyn TeamApi>, retry: RetryPolicy, store: Arc<MemoryStore>) -> Runtime {
    let metrics = Arc::new(Metrics::new());
    Runtime {
        api,
        limiter: Arc::new(RateLimiter::new(0, metrics.limiter_wait())),
        metrics,
        store,
        topology: Topology::new("unit", 1),
        mode: DeactivateMode::Remove,
        retry,
        worker: "unit-worker".into(),
        prefetch: 1,
        coalesce: false,
        window_hold: None,
        floors: None,
    }
}

/// Processes `job` with nothing to do before a wait and no stop.
async fn process(rt: &Runtime, job: &Job) -> (Outcome, u32) {
    let (_stop_tx, stop) = watch::channel(false);
    rt.process(job, Instant::now(), &stop, |_, _, _| Box::pin(async {}))
        .await
}

fn unavailable(retry_after: Option<Duration>) -> ApiError {
    ApiError::Transient {
        status: Some(503),
        retry_after,
        detail: "unavailable".into(),
    }
}

/// Fast retries, for tests that wait for real.
fn quick(budget: Duration) -> RetryPolicy {
    RetryPolicy {
        base: Duration::from_millis(10),
        cap: Duration::from_millis(40),
        budget,
    }
}

#[tokio::test]
async fn an_older_version_or_incarnation_never_acts_again() {
    let (sim, api) = sim(SimConfig::default()).await;
    let rt = runtime(api, RetryPolicy::default());
    let first = user_state("u-0001", "ada@example.com", "Ada", None);

    let (done, attempts) = process(&rt, &user_job(first.clone(), 2)).await;
    assert!(
        matches!(done, Outcome::Done(Applied::Invited(_))),
        "{done:?}"
    );
    assert_eq!(attempts, 1);
    let (stale, _) = process(&rt, &user_job(first.clone(), 1)).await;
    assert_eq!(stale, Outcome::Done(Applied::Skipped { newer: 2 }));

    // Deleted and created again with the same userName: a new SCIM id, the same account.
    let second = user_state("u-0002", "ada@example.com", "Augusta", None);
    let (moved_on, _) = process(&rt, &user_job(second, 1)).await;
    assert!(
        matches!(moved_on, Outcome::Done(Applied::Updated(_))),
        "{moved_on:?}"
    );
    let renamed_back = user_state("u-0001", "ada@example.com", "Ada", None);
    let (superseded, _) = process(&rt, &user_job(renamed_back, 3)).await;
    assert_eq!(
        superseded,
        Outcome::Done(Applied::Superseded {
            by: "u-0002".into()
        })
    );
    assert_eq!(
        sim.log().len(),
        2,
        "one invite, one update: {:?}",
        sim.log()
    );
}

#[tokio::test]
async fn a_group_job_is_applied_once_per_version() {
    let (sim, api) = sim(SimConfig::default()).await;
    let rt = runtime(api, RetryPolicy::default());
    let job = group_job(group_state("g-1", "Sales", &[], false), 4);
    let (created, _) = process(&rt, &job).await;
    assert!(
        matches!(created, Outcome::Done(Applied::GroupCreated(_))),
        "{created:?}"
    );
    let (again, _) = process(&rt, &job).await;
    assert_eq!(again, Outcome::Done(Applied::Skipped { newer: 4 }));
    assert_eq!(sim.log().len(), 1, "{:?}", sim.log());
}

#[tokio::test]
async fn transient_failures_are_retried_in_place_and_reported_before_each_wait() {
    let (sim, api) = sim(SimConfig::default()).await;
    let flaky = Flaky::new(api.clone(), vec![unavailable(None), unavailable(None)]);
    let rt = filled(api, Arc::new(flaky), quick(Duration::from_secs(30))).await;
    let (_stop_tx, stop) = watch::channel(false);
    let waits = Arc::new(std::sync::Mutex::new(Vec::new()));
    let job = user_job(user_state("u-1", "ada@example.com", "Ada", None), 1);
    let (done, attempts) = rt
        .process(&job, Instant::now(), &stop, |error, _, n| {
            waits.lock().unwrap().push((n, error.status()));
            Box::pin(async {})
        })
        .await;
    assert!(
        matches!(done, Outcome::Done(Applied::Invited(_))),
        "{done:?}"
    );
    // The invite failed, then the read its lost answer calls for, then both went through.
    assert_eq!(attempts, 3);
    assert_eq!(*waits.lock().unwrap(), [(1, Some(503)), (2, Some(503))]);
    assert_eq!(users(&sim).len(), 1);
}

#[tokio::test]
async fn a_permanent_error_is_dead_lettered_at_once_with_its_code() {
    let (sim, api) = sim(SimConfig::default()).await;
    let rt = runtime(api, RetryPolicy::default());
    let mut state = user_state("u-1", "ada@example.com", "Ada", None);
    state.sso_name = Some("No Such SSO".into());
    let (dead, attempts) = process(&rt, &user_job(state, 1)).await;
    let Outcome::Dead(cause) = dead else {
        panic!("{dead:?}")
    };
    assert_eq!(attempts, 1);
    assert_eq!(
        (cause.reason, cause.status, cause.code.as_deref()),
        (
            DeadReason::Permanent,
            Some(422),
            Some("sso_method_not_found")
        )
    );
    assert!(users(&sim).is_empty());
}

#[tokio::test]
async fn an_exhausted_budget_is_dead_lettered_with_the_last_failure() {
    let (sim, api) = sim(SimConfig::default()).await;
    let flaky = Arc::new(Flaky::always(api.clone(), unavailable(None)));
    let rt = filled(api, flaky.clone(), quick(Duration::from_millis(200))).await;
    let job = user_job(user_state("u-1", "ada@example.com", "Ada", None), 1);
    let (dead, attempts) = process(&rt, &job).await;
    let expected = DeadCause {
        reason: DeadReason::RetryBudgetExhausted,
        status: Some(503),
        code: None,
        body: "unavailable".into(),
    };
    assert_eq!(dead, Outcome::Dead(expected));
    assert!(attempts > 1, "retried before giving up: {attempts}");
    assert_eq!(
        flaky.calls(),
        attempts,
        "one call per attempt (the first one failed)"
    );
    assert!(users(&sim).is_empty());
}

#[tokio::test]
async fn a_stop_while_waiting_for_a_retry_leaves_the_job_unfinished() {
    let (sim, api) = sim(SimConfig::default()).await;
    // Splashtop asks for a minute; the stop comes while the job waits for it.
    let flaky = Flaky::new(
        api.clone(),
        vec![unavailable(Some(Duration::from_secs(60)))],
    );
    let rt = filled(api, Arc::new(flaky), RetryPolicy::default()).await;
    let (stop_tx, stop) = watch::channel(false);
    let job = user_job(user_state("u-1", "ada@example.com", "Ada", None), 1);
    let (stopped, attempts) = rt
        .process(&job, Instant::now(), &stop, |_, _, _| {
            let _ = stop_tx.send(true);
            Box::pin(async {})
        })
        .await;
    assert_eq!((stopped, attempts), (Outcome::Stopped, 1));
    assert!(users(&sim).is_empty());
}

/// A `MakeWriter` into a shared buffer, to read what a log line printed.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn every_line_about_a_job_names_its_person_or_group_beside_its_id_and_key() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let user = user_job(user_state("u-1", "ada@example.com", "Ada", None), 3);
    let group = group_job(group_state("g-1", "Sales", &[], false), 2);
    tracing::subscriber::with_default(subscriber, || {
        super::job_span(&user).in_scope(|| tracing::warn!("about the user"));
        super::job_span(&group).in_scope(|| tracing::warn!("about the group"));
    });
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let meta = user.meta();
    for needle in [
        format!("job_id={}", meta.job_id),
        format!("key={}", meta.key),
        "email=ada@example.com".to_owned(),
        "about the user".to_owned(),
    ] {
        assert!(lines[0].contains(&needle), "{needle} in {}", lines[0]);
    }
    assert!(
        lines[1].contains("group=Sales") && !lines[1].contains("email="),
        "{}",
        lines[1]
    );
}
