//! SIGTERM on the real `splashsync-worker` process: the job in flight finishes and is
//! acked before the process exits; nothing is redelivered. A job waiting (to retry, or for
//! a rate-limiter slot) is not in flight: the wait ends and the job goes back to its queue.

mod common;

use std::future::Future;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use splashsync_protocol::job::{Job, JobMeta, UserJob, UserState};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{JobKey, Tenant};
use splashsync_test_support::{account_job, email_in_partition, redis_url, UserSpec};
use splashtop_sim::{Faults, SimConfig};

fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A queue's ready (not delivered) messages and its consumers.
async fn counts(channel: &lapin::Channel, queue: &str) -> Option<(u32, u32)> {
    channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .ok()
        .map(|q| (q.message_count(), q.consumer_count()))
}

/// Polls `condition` until it holds (true) or `within` has passed (false). The caller
/// asserts, after cleaning up, so that a failure leaves no process or queue behind.
async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// API requests the simulator has received so far.
fn requests(sim: &splashtop_sim::SimHandle) -> u64 {
    sim.stats()["requests"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_job_in_flight_finish_and_ack_before_the_worker_exits() {
    // Every Splashtop call takes 1.5 s, so the job is surely in flight when SIGTERM comes.
    let sim = splashtop_sim::spawn(SimConfig {
        faults: Faults {
            latency_ms: 1500,
            ..Faults::default()
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let prefix = format!(
        "tw-term-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let topology = Topology::new(prefix.clone(), 2);
    let conn = splashsync_protocol::amqp::connect(&amqp_url(), "sigterm-test")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();

    let mut worker = Command::new(env!("CARGO_BIN_EXE_splashsync-worker"))
        .env("SPLASHSYNC_AMQP_URL", amqp_url())
        .env("SPLASHSYNC_AMQP_PREFIX", &prefix)
        .env("SPLASHSYNC_PARTITIONS", "2")
        .env("SPLASHSYNC_REDIS_PREFIX", &prefix)
        .env("SPLASHSYNC_WORKER_LISTEN", "127.0.0.1:0")
        .env("SPLASHTOP_API_URL", sim.base_url())
        .env("SPLASHTOP_API_TOKEN", sim.token())
        .env("SPLASHTOP_TEAM_ID", sim.team_id())
        .env("SPLASHTOP_RATE_LIMIT_PER_MINUTE", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();

    let key = JobKey::user(&Tenant::default(), "u-term");
    let job = Job::UserV1(UserJob {
        meta: JobMeta {
            job_id: uuid::Uuid::now_v7().to_string(),
            tenant: "default".into(),
            key: key.clone(),
            version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            origin: "test".into(),
        },
        state: UserState {
            user_id: "u-term".into(),
            user_name: "term@example.com".into(),
            email: "term@example.com".into(),
            first_name: "Term".into(),
            last_name: "Inated".into(),
            display_name: "Term Inated".into(),
            active: true,
            group: None,
            sso_name: None,
            deleted: false,
            incarnation: None,
        },
    });
    let partition = topology.partition_of(&job.route());
    let queue = topology.partition_queue(partition);
    channel
        .basic_publish(
            topology.jobs_exchange().as_str().into(),
            topology.routing_key(partition).as_str().into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&job).unwrap(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap();

    // SIGTERM once the worker holds the job (no longer ready) and its first Splashtop call
    // is in flight: the job is then surely being handled, and its invite, two 1.5 s calls
    // later, not yet applied.
    let within = Duration::from_secs(30);
    let taken = eventually(within, || async {
        counts(&channel, &queue)
            .await
            .is_some_and(|(ready, _)| ready == 0)
    })
    .await;
    let in_flight = taken && eventually(within, || async { requests(&sim) > 0 }).await;
    let applied_before = sim.snapshot()["users"].as_array().map_or(0, Vec::len);
    let term = if in_flight {
        Command::new("kill")
            .args(["-TERM", &worker.id().to_string()])
            .status()
            .is_ok_and(|s| s.success())
    } else {
        false
    };
    if !term {
        let _ = worker.kill();
    }
    // A worker that ignored SIGTERM would hang here: give it 30 s, then kill it and fail.
    let exit = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = worker.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = worker.kill();
                let _ = worker.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();

    // Once the broker has dropped the worker's consumer, a job it had not acked would be
    // back in the queue: only then is an empty queue proof of the ack.
    let consumer_gone = eventually(within, || async {
        counts(&channel, &queue)
            .await
            .is_some_and(|(_, consumers)| consumers == 0)
    })
    .await;
    let users_after = sim.snapshot()["users"].as_array().map_or(0, Vec::len);
    let left = counts(&channel, &queue).await.map(|(ready, _)| ready);
    let redis_cleanup = splashsync_worker::store::Store::new("redis://127.0.0.1:6379", &prefix);
    if let Ok(store) = redis_cleanup {
        let _ = store.delete_all().await;
    }
    let _ = topology.delete(&channel).await;
    let _ = conn.close(200, "done".into()).await;

    assert!(taken, "the worker took the job within 30 s");
    assert!(in_flight, "the job's first Splashtop call came within 30 s");
    assert!(term, "SIGTERM was sent");
    let exit = exit.expect("the worker exits within 30 s of SIGTERM");
    assert!(
        exit.success(),
        "the worker exits cleanly on SIGTERM: {exit:?}"
    );
    assert_eq!(
        applied_before, 0,
        "the job was still in flight when SIGTERM came"
    );
    assert_eq!(users_after, 1, "the job in flight finished before the exit");
    assert!(consumer_gone, "the broker dropped the worker's consumer");
    assert_eq!(
        left,
        Some(0),
        "the job was acked: nothing came back to the queue"
    );
}

/// Publishes `job` to its partition on `channel`.
async fn publish(channel: &lapin::Channel, topology: &Topology, job: &Job) {
    let p = topology.partition_of(&job.route());
    channel
        .basic_publish(
            topology.jobs_exchange().as_str().into(),
            topology.routing_key(p).as_str().into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(job).unwrap(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap();
}

/// A sample of the worker's `/metrics`, or why not.
async fn sample(url: &str, name: &str, labels: &[(&str, &str)]) -> Result<f64, String> {
    let (_, text) = common::get(&format!("{url}/metrics")).await?;
    splashsync_test_support::metric(&text, name, labels).ok_or_else(|| format!("no {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_long_retry_after_wait_and_a_rate_limiter_wait_leaving_both_jobs_queued() {
    // A warm-up job fills the worker's team mirror, so A's and B's first calls are their
    // writes. Then every call is answered 429 with a ten-minute Retry-After, which the
    // worker honours in full (its cap is ten minutes too): job A waits to retry, and the
    // rate limiter holds every other call, job B's first, for those ten minutes.
    let sim = splashtop_sim::spawn(SimConfig::default()).await.unwrap();
    let prefix = common::prefix("tw-term-wait");
    let topology = Topology::new(prefix.clone(), 2);
    let _cleanup = common::Cleanup(topology.clone());
    let conn = splashsync_protocol::amqp::connect(&amqp_url(), "sigterm-wait-test")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();
    let worker = common::WorkerProcess::start(&[
        ("SPLASHSYNC_AMQP_URL", amqp_url()),
        ("SPLASHSYNC_AMQP_PREFIX", prefix.clone()),
        ("SPLASHSYNC_PARTITIONS", "2".into()),
        ("SPLASHSYNC_REDIS_URL", redis_url()),
        ("SPLASHSYNC_REDIS_PREFIX", prefix.clone()),
        ("SPLASHTOP_API_URL", sim.base_url()),
        ("SPLASHTOP_API_TOKEN", sim.token().into()),
        ("SPLASHTOP_TEAM_ID", sim.team_id().into()),
        ("SPLASHTOP_RATE_LIMIT_PER_MINUTE", "600".into()),
        ("SPLASHSYNC_MAX_RETRY_AFTER_SECS", "600".into()),
        ("SPLASHSYNC_RETRY_BUDGET_SECS", "1200".into()),
    ]);
    let a = account_job(
        "u-wait-a",
        &email_in_partition(&topology, 0, "wait-a"),
        1,
        UserSpec::active("A"),
    );
    let b = account_job(
        "u-wait-b",
        &email_in_partition(&topology, 1, "wait-b"),
        1,
        UserSpec::active("B"),
    );

    let warm_up = account_job(
        "u-warm-up",
        &email_in_partition(&topology, 0, "warm-up"),
        1,
        UserSpec::active("W"),
    );

    let within = Duration::from_secs(30);
    let listening = eventually(within, || async { worker.url().is_some() }).await;
    let url = worker.url().unwrap_or_default();
    publish(&channel, &topology, &warm_up).await;
    // The listing (a page of groups, one of users) and the invite.
    let warmed = listening && eventually(within, || async { sim.log().len() == 1 }).await;
    let baseline = requests(&sim);
    sim.set_faults(Faults {
        throttle_rate: 1.0,
        retry_after_secs: 600,
        ..Faults::default()
    });
    publish(&channel, &topology, &a).await;
    // A's first call was throttled and A waits to retry: the limiter is paused now.
    let a_waits = warmed
        && eventually(within, || async {
            sample(
                &url,
                "splashsync_worker_job_retries_total",
                &[("kind", "user"), ("code", "rate_limited")],
            )
            .await
            .is_ok_and(|n| n >= 1.0)
        })
        .await;
    publish(&channel, &topology, &b).await;
    // B was taken and its first call waits for a slot, ten minutes away.
    let b_waits = a_waits
        && eventually(within, || async {
            sample(&url, "splashsync_worker_rate_limiter_waiting", &[])
                .await
                .is_ok_and(|n| n >= 1.0)
        })
        .await;
    let calls_before = requests(&sim);
    let term = b_waits && worker.term();
    // Well before the ten minutes are up: a worker that waited them out fails here.
    let (exit, output) = worker.exit_within(within).await;

    let queues = [topology.partition_queue(0), topology.partition_queue(1)];
    let consumers_gone = eventually(within, || async {
        for queue in &queues {
            if counts(&channel, queue).await.is_none_or(|(_, c)| c > 0) {
                return false;
            }
        }
        true
    })
    .await;
    let mut left = Vec::new();
    for queue in &queues {
        left.push(counts(&channel, queue).await.map(|(ready, _)| ready));
    }
    let dead = counts(&channel, &topology.dead_letter_queue())
        .await
        .map(|(ready, _)| ready);
    let calls_after = requests(&sim);
    let _ = channel.close(200, "done".into()).await;
    let _ = conn.close(200, "done".into()).await;

    assert!(warmed, "the warm-up job was applied: {output}");
    assert_eq!(
        baseline, 3,
        "the warm-up made two listing calls and its invite"
    );
    assert!(a_waits, "job A waited to retry: {output}");
    assert!(b_waits, "job B waited for a rate-limiter slot: {output}");
    assert!(term, "SIGTERM was sent");
    let exit = exit.expect("the worker exits within 30 s of SIGTERM, not after the waits");
    assert!(exit.success(), "a clean exit: {exit:?}\n{output}");
    assert_eq!(
        calls_before - baseline,
        1,
        "only A's first call reached Splashtop"
    );
    assert_eq!(calls_after - baseline, 1, "B's call was never made");
    assert!(consumers_gone, "the broker dropped the worker's consumers");
    assert_eq!(
        left,
        vec![Some(1), Some(1)],
        "both jobs went back to their queues"
    );
    assert_eq!(dead, Some(0), "nothing was dead-lettered");
    assert!(
        !output.contains("ERROR"),
        "no error on a clean stop: {output}"
    );
}
