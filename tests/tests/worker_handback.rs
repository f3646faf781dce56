//! A crawling partition hands its window back to the queue before RabbitMQ's consumer
//! timeout, and on RabbitMQ 3.x each return counts towards the quorum queue's delivery
//! limit. The jobs at the back of a window must not reach that limit by waiting: the
//! partition catches up one job at a time after a hand-back (docs/DESIGN.md,
//! "Coalescing"), so every job is attempted and none is dead-lettered by the broker.

use std::time::Duration;

use splashsync_test_support::{
    account_job, has_user, metric, sim_reaches, Cluster, UserSpec, WorkerOptions,
};
use splashtop_sim::{Faults, SimConfig};

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_handed_back_again_and_again_are_never_dead_lettered_unattempted() {
    // Each job takes two requests of 300 ms, longer than the window may hold the next:
    // without catching up, the window would be handed back after every job, and the sixth
    // job returned five times, past the queue's delivery limit of two.
    let sim = SimConfig {
        faults: Faults {
            latency_ms: 300,
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let mut cluster = Cluster::with_delivery_limit(sim, 1, 2).await;
    let emails: Vec<String> = (0..6).map(|i| format!("crawl{i}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        let job = account_job(&format!("crawl{i}"), email, 1, UserSpec::active("Crawl"));
        cluster.publish(&job).await;
    }
    let w = cluster
        .start_worker(WorkerOptions {
            window_hold: Some(Duration::from_millis(200)),
            listen: Some("127.0.0.1:0".parse().expect("addr")),
            ..WorkerOptions::default()
        })
        .await;
    let base = cluster.worker_url(w).expect("the worker listens");
    sim_reaches(&cluster.sim, WAIT, "every job applied", |s| {
        emails.iter().all(|e| has_user(s, e))
    })
    .await;
    let written: Vec<String> = cluster
        .sim
        .log()
        .into_iter()
        .filter_map(|e| e.email)
        .collect();
    assert_eq!(written, emails, "each applied once, in the order published");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let handed_back = metric(&metrics, "splashsync_worker_windows_handed_back_total", &[]);
    assert!(handed_back.is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(cluster.dead_letters().await.is_empty());
    cluster.shutdown().await;
}
