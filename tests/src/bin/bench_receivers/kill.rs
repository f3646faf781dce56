//! `--kill`: `kill -9` of the receiver holding the outbox lease in the middle of a write
//! load on PostgreSQL. Prints how long until another receiver holds the lease, publishes
//! a job committed after the kill, and has published everything committed before it; then
//! takes every job out of RabbitMQ and checks that nothing committed was lost and no key's
//! versions arrived out of order (the run fails otherwise).
//!
//! The first receiver is started alone and waited for until it holds the lease, so the
//! victim is known without asking the processes. Each connection owns one user and
//! rewrites it (PUT, a new name each time) on the receivers in turn, so one key's jobs are
//! committed by every receiver, the victim included.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{JobKey, Tenant};
use splashsync_test_support::{eventually, Publisher};
use sqlx::PgPool;

use splashsync_test_support::bench::ReceiverProcess;

use super::{spawn_receiver, TOKEN};

/// How long each failover step may take before the run fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// What a kill run needs.
pub(super) struct KillRun<'a> {
    pub(super) bin: &'a std::path::Path,
    pub(super) database_url: &'a str,
    pub(super) topology: &'a Topology,
    pub(super) receivers: usize,
    pub(super) connections: usize,
    pub(super) seconds: u64,
}

/// The backend holding the outbox lease in this database, if one does.
async fn lease_holder(pool: &PgPool) -> anyhow::Result<Option<i32>> {
    Ok(sqlx::query_scalar(
        "SELECT a.pid FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid \
         WHERE a.datname = current_database() AND a.application_name = 'splashsync-outbox-lease' \
           AND l.locktype = 'advisory' AND l.granted",
    )
    .fetch_optional(pool)
    .await?)
}

fn user_body(c: usize, round: u64) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("kill-{c}@bench.example.com"),
        "name": {"givenName": format!("Round{round}"), "familyName": "Bench"},
        "active": true
    })
}

/// One connection's writes: create its user, then rewrite it on the receivers in turn
/// until `deadline`, skipping the victim once it is dead. Returns (user id, answered
/// writes, failed requests).
async fn writer(
    c: usize,
    ports: Arc<Vec<u16>>,
    dead: Arc<AtomicBool>,
    deadline: Instant,
) -> anyhow::Result<(String, u64, u64)> {
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!(
            "http://127.0.0.1:{}/scim/v2/Users",
            ports[c % ports.len()]
        ))
        .bearer_auth(TOKEN)
        .json(&user_body(c, 0))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let (mut answered, mut failed, mut round) = (1u64, 0u64, 0u64);
    while Instant::now() < deadline {
        round += 1;
        let i = (c + round as usize) % ports.len();
        if i == 0 && dead.load(Ordering::SeqCst) {
            continue;
        }
        let url = format!("http://127.0.0.1:{}/scim/v2/Users/{id}", ports[i]);
        let sent = http.put(&url).bearer_auth(TOKEN).json(&user_body(c, round));
        match sent.send().await {
            Ok(r) if r.status().is_success() => answered += 1,
            _ => {
                failed += 1;
                // A refused connection answers at once: no tight loop on the dead port.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    Ok((id, answered, failed))
}

/// Polls the database from the kill on: (lease taken over, first job committed after the
/// kill published, every job committed before it published), as times since the kill.
async fn failover(pool: &PgPool, victim: i32, killed: Instant) -> anyhow::Result<[Duration; 3]> {
    let committed_before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        .fetch_one(pool)
        .await?;
    let mut times: [Option<Duration>; 3] = [None; 3];
    while times.iter().any(Option::is_none) {
        if killed.elapsed() > PATIENCE {
            anyhow::bail!("failover steps not done within {PATIENCE:?}: {times:?}");
        }
        let now = killed.elapsed();
        if times[0].is_none() && lease_holder(pool).await?.is_some_and(|pid| pid != victim) {
            times[0] = Some(now);
        }
        let (after, before): (bool, i64) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE seq > $1 AND sent_at IS NOT NULL), \
                    (SELECT COUNT(*) FROM outbox WHERE seq <= $1 AND sent_at IS NULL)",
        )
        .bind(committed_before)
        .fetch_one(pool)
        .await?;
        if times[1].is_none() && after {
            times[1] = Some(now);
        }
        if times[2].is_none() && before == 0 {
            times[2] = Some(now);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(times.map(Option::unwrap_or_default))
}

/// What arrived, against what was committed and answered.
#[derive(Debug, Default)]
struct Verdict {
    committed: usize,
    delivered: usize,
    duplicates: usize,
    lost: usize,
    reordered: usize,
    short: usize,
}

/// Takes every job out of the partition queues and checks them against the outbox and the
/// writes the clients saw answered.
async fn verify(
    pool: &PgPool,
    topology: &Topology,
    answered: &[(String, u64)],
) -> anyhow::Result<Verdict> {
    let committed: Vec<String> = sqlx::query_scalar("SELECT job_id FROM outbox ORDER BY seq")
        .fetch_all(pool)
        .await?;
    let link = Publisher::connect(topology, "bench-receivers-verify").await;
    let jobs = link.drain_jobs().await;
    link.close().await;
    let mut seen = HashSet::new();
    let mut versions: HashMap<String, Vec<i64>> = HashMap::new();
    let mut verdict = Verdict {
        committed: committed.len(),
        delivered: jobs.len(),
        ..Verdict::default()
    };
    for job in &jobs {
        let meta = job.meta();
        // A job republished after the kill (published, not yet marked sent) arrives twice:
        // its first arrival is where it counts.
        if !seen.insert(meta.job_id.clone()) {
            verdict.duplicates += 1;
            continue;
        }
        versions
            .entry(meta.key.to_string())
            .or_default()
            .push(meta.version);
    }
    verdict.lost = committed.iter().filter(|j| !seen.contains(*j)).count();
    verdict.reordered = versions
        .values()
        .filter(|v| v.windows(2).any(|w| w[0] >= w[1]))
        .count();
    // Every write a client saw answered is one distinct version of its user's key.
    verdict.short = answered
        .iter()
        .filter(|(id, n)| {
            let key = JobKey::user(&Tenant::default(), id).to_string();
            versions.get(&key).map_or(0, Vec::len) < *n as usize
        })
        .count();
    Ok(verdict)
}

/// Runs the kill scenario and prints its figures; fails when a job was lost or reordered.
pub(super) async fn run(run: KillRun<'_>) -> anyhow::Result<()> {
    anyhow::ensure!(run.receivers >= 2, "--kill needs --receivers 2 or more");
    let pool = PgPool::connect(run.database_url).await?;
    let prefix = run.topology.prefix();
    let mut running: Vec<ReceiverProcess> = vec![
        spawn_receiver(run.bin, run.database_url, prefix)?
            .healthy()
            .await,
    ];
    let victim = eventually(
        Duration::from_secs(30),
        "the first receiver to take the lease",
        || {
            let pool = pool.clone();
            async move { lease_holder(&pool).await.ok().flatten() }
        },
    )
    .await;
    for _ in 1..run.receivers {
        running.push(
            spawn_receiver(run.bin, run.database_url, prefix)?
                .healthy()
                .await,
        );
    }
    anyhow::ensure!(
        lease_holder(&pool).await? == Some(victim),
        "the lease moved before the kill"
    );
    let ports = Arc::new(
        running
            .iter()
            .map(ReceiverProcess::port)
            .collect::<Vec<_>>(),
    );
    let dead = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(run.seconds);
    let writers: Vec<_> = (0..run.connections)
        .map(|c| tokio::spawn(writer(c, ports.clone(), dead.clone(), deadline)))
        .collect();
    // Half-way through the load, SIGKILL: no graceful close, no last publish.
    tokio::time::sleep(Duration::from_secs(run.seconds) / 2).await;
    let killed = Instant::now();
    running[0].kill_now();
    dead.store(true, Ordering::SeqCst);
    let [lease, first, backlog] = failover(&pool, victim, killed).await?;
    let (mut answered, mut failed) = (Vec::new(), 0);
    for w in writers {
        let (id, ok, err) = w.await??;
        answered.push((id, ok));
        failed += err;
    }
    eventually(Duration::from_secs(120), "the outbox to drain", || {
        let pool = pool.clone();
        async move {
            let pending: Result<i64, _> =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                    .fetch_one(&pool)
                    .await;
            matches!(pending, Ok(0))
        }
    })
    .await;
    let verdict = verify(&pool, run.topology, &answered).await?;
    pool.close().await;
    println!(
        "kill -9 of the lease holder after {} s of {} s, {} receivers, {} connections rewriting their user",
        run.seconds / 2,
        run.seconds,
        run.receivers,
        run.connections
    );
    println!(
        "  lease taken over by another receiver   {:>8.3} s after the kill",
        lease.as_secs_f64()
    );
    println!(
        "  first job committed after it published {:>8.3} s",
        first.as_secs_f64()
    );
    println!(
        "  every job committed before it published {:>7.3} s",
        backlog.as_secs_f64()
    );
    println!(
        "  writes answered {}, failed {failed} (in flight to or sent to the dead receiver)",
        answered.iter().map(|(_, n)| n).sum::<u64>()
    );
    println!(
        "  jobs committed {}, delivered {} ({} republished duplicates), lost {}, keys reordered {}, users short of an answered write {}",
        verdict.committed, verdict.delivered, verdict.duplicates, verdict.lost, verdict.reordered, verdict.short
    );
    anyhow::ensure!(
        verdict.lost == 0 && verdict.reordered == 0 && verdict.short == 0,
        "a committed job was lost or a key's versions arrived out of order"
    );
    Ok(())
}
