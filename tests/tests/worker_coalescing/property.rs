//! The property test: random sequences of user changes (accounts deleted and created again
//! with the same userName included) queued before the workers start, drained through
//! faults and a `kill -9`, once without coalescing and once with it.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use splashsync_protocol::events::OutcomeStatus;
use splashsync_protocol::job::Job;
use splashsync_test_support::{
    account_job, delete_job, eventually, has_user, sim_reaches, versions_never_decrease, Cluster,
    Publisher, UserSpec, WorkerOptions,
};
use splashtop_sim::{Faults, LogEntry, SimConfig};

use super::{take_events, WAIT};

/// The directory the property test models: accounts deleted and created again with the
/// same userName (a new SCIM id, so a new key on the same account route).
#[derive(Debug, Default)]
struct Accounts {
    /// slot → (SCIM id, version, state), while the slot's user exists.
    live: BTreeMap<usize, (String, i64, UserSpec)>,
}

const SLOTS: usize = 5;

fn email(slot: usize) -> String {
    format!("acct{slot}@example.com")
}

impl Accounts {
    fn step(&mut self, rng: &mut StdRng, op: usize) -> Job {
        let slot = rng.random_range(0..SLOTS);
        let Some((id, version, _)) = self.live.get(&slot).cloned() else {
            // UUIDv7: a later incarnation sorts after its predecessor.
            let id = uuid::Uuid::now_v7().to_string();
            let spec = UserSpec::active(&format!("F{op}"));
            self.live.insert(slot, (id.clone(), 1, spec.clone()));
            return account_job(&id, &email(slot), 1, spec);
        };
        if rng.random_bool(0.2) {
            self.live.remove(&slot);
            return delete_job(&id, &email(slot), version + 1);
        }
        let spec = UserSpec {
            first_name: format!("F{op}"),
            active: rng.random_bool(0.8),
            ..UserSpec::default()
        };
        self.live
            .insert(slot, (id.clone(), version + 1, spec.clone()));
        account_job(&id, &email(slot), version + 1, spec)
    }

    /// email → first name of every active user.
    fn expected(&self) -> BTreeMap<String, String> {
        self.live
            .iter()
            .filter(|(_, (_, _, spec))| spec.active)
            .map(|(slot, (_, _, spec))| (email(*slot), spec.first_name.clone()))
            .collect()
    }
}

/// Per account, the SCIM ids acting on it (from the journal's key header) never go back
/// to an older incarnation.
fn incarnations_never_go_back(log: &[LogEntry]) -> Result<(), String> {
    let mut newest: BTreeMap<String, String> = BTreeMap::new();
    for e in log {
        let (Some(email), Some(key)) = (&e.email, &e.key) else {
            continue;
        };
        let id = key.rsplit('/').next().unwrap_or_default().to_string();
        let seen = newest.entry(email.to_lowercase()).or_insert(id.clone());
        if id < *seen {
            return Err(format!(
                "{email}: incarnation {id} acted after {seen} (seq {})",
                e.seq
            ));
        }
        *seen = id;
    }
    Ok(())
}

/// What one run of a sequence cost.
#[derive(Debug)]
struct Cost {
    /// State changes written (the simulator's journal, markers excluded).
    writes: usize,
    /// Every API request the simulator answered, faults and reads included.
    requests: u64,
    superseded: usize,
}

/// Publishes `jobs` before any worker runs, starts two workers, kills one (`kill -9`)
/// mid-drain and starts another; checks that the team equals the directory, that no
/// key's version and no account's incarnation went back, and that nothing was
/// dead-lettered.
async fn run_sequence(
    seed: u64,
    jobs: &[Job],
    expected: &BTreeMap<String, String>,
    coalesce: bool,
) -> Cost {
    let sim = SimConfig {
        faults: Faults {
            error_rate: 0.05,
            error_after_apply_rate: 0.05,
            throttle_rate: 0.03,
            reset_rate: 0.02,
            // Slow enough that the kill lands while windows are still being drained.
            latency_ms: 20,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let mut cluster = Cluster::new(sim, 2).await;
    for job in jobs {
        cluster.publish(job).await;
    }
    let opts = WorkerOptions {
        coalesce,
        ..WorkerOptions::default()
    };
    let first = cluster.start_worker(opts.clone()).await;
    cluster.start_worker(opts.clone()).await;
    let what = format!("seed {seed}: a first change applied before the kill");
    eventually(WAIT, &what, || async { !cluster.sim.log().is_empty() }).await;
    cluster.kill_worker(first).await;
    cluster.start_worker(opts).await;
    let markers = cluster.publish_markers("marker").await;
    let state = sim_reaches(
        &cluster.sim,
        Duration::from_secs(120),
        &format!("seed {seed} (coalesce {coalesce}): every partition's marker applied"),
        |s| markers.iter().all(|m| has_user(s, m)),
    )
    .await;
    let observed: BTreeMap<String, String> = state["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| {
            Some((
                u["email"].as_str()?.to_string(),
                u["first_name"].as_str()?.to_string(),
            ))
        })
        .filter(|(email, _)| !markers.contains(email))
        .collect();
    assert_eq!(&observed, expected, "seed {seed} (coalesce {coalesce})");
    let log = cluster.sim.log();
    versions_never_decrease(&log).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    incarnations_never_go_back(&log).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(cluster.dead_letters().await.is_empty(), "seed {seed}");
    // The markers' events come after every event of the jobs before them.
    let broker = Publisher::connect(&cluster.topology, "splashsync-test-events").await;
    let events = take_events(&broker).await;
    broker.close().await;
    let cost = Cost {
        writes: log
            .iter()
            .filter(|e| !e.email.as_ref().is_some_and(|m| markers.contains(m)))
            .count(),
        requests: cluster.sim.stats()["requests"].as_u64().unwrap_or_default(),
        superseded: events
            .iter()
            .filter(|e| e.status == OutcomeStatus::Superseded)
            .count(),
    };
    cluster.shutdown().await;
    cost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coalescing_converges_through_faults_and_kill_9_and_never_costs_more_writes() {
    let base: u64 = std::env::var("SPLASHSYNC_PROP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    for case in 0..2 {
        let seed = base.wrapping_add(case);
        eprintln!("coalescing property seed {seed} (rerun with SPLASHSYNC_PROP_SEED={seed})");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut model = Accounts::default();
        let mut jobs: Vec<Job> = Vec::new();
        for op in 0..60 {
            let job = model.step(&mut rng, op);
            if rng.random_bool(0.1) && !jobs.is_empty() {
                // A relay re-publish of an older job, possibly stale by now.
                jobs.push(jobs[rng.random_range(0..jobs.len())].clone());
            }
            jobs.push(job);
        }
        let changes = jobs.len();
        let expected = model.expected();
        let off = run_sequence(seed, &jobs, &expected, false).await;
        let on = run_sequence(seed, &jobs, &expected, true).await;
        eprintln!(
            "seed {seed}: {changes} jobs; without coalescing {} writes, {} requests ({:.2}/job); \
             with it {} writes, {} requests ({:.2}/job), {} superseded",
            off.writes,
            off.requests,
            off.requests as f64 / changes as f64,
            on.writes,
            on.requests,
            on.requests as f64 / changes as f64,
            on.superseded
        );
        assert_eq!(
            off.superseded, 0,
            "seed {seed}: nothing superseded when off"
        );
        assert!(
            on.superseded > 0,
            "seed {seed}: jobs queued before the workers start are coalesced"
        );
        assert!(
            on.writes <= off.writes,
            "seed {seed}: coalescing never writes more ({on:?} vs {off:?})"
        );
    }
}
