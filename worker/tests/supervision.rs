//! The worker's supervised tasks and its operations listener, in process: a task that
//! fails is restarted and `/readyz` says so meanwhile; a slow client is cut off.

mod common;

use std::sync::Arc;
use std::time::Duration;

use lapin::options::QueueDeleteOptions;
use secrecy::SecretString;
use splashsync_protocol::topology::Topology;
use splashsync_runtime::http::Limits;
use splashsync_runtime::supervisor::RestartPolicy;
use splashsync_test_support::{
    amqp_url, eventually, install_crypto, redis_url, user_job, Publisher, UserSpec,
};
use splashsync_worker::config::DeactivateMode;
use splashsync_worker::consumer::Worker;
use splashsync_worker::splashtop::HttpTeamApi;
use splashtop_sim::{SimConfig, SimHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(30);

/// A worker for `sim` on `topology`, its listener on a free port; `amqp` overrides the
/// broker URL.
fn worker(sim: &SimHandle, topology: &Topology, amqp: Option<String>) -> Worker {
    install_crypto();
    let api = HttpTeamApi::new(
        &sim.base_url(),
        sim.team_id(),
        SecretString::from(sim.token().to_owned()),
        Duration::from_secs(5),
    )
    .unwrap();
    Worker::new(
        Arc::new(api),
        topology.clone(),
        amqp.unwrap_or_else(amqp_url),
        DeactivateMode::Remove,
    )
    .with_redis(&redis_url(), topology.prefix())
    .with_rate_limit(0)
    .with_heartbeat(Duration::from_millis(200))
    .with_listen("127.0.0.1:0".parse().unwrap())
}

/// `/readyz` as JSON, with its status.
async fn readyz(base: &str) -> Result<(u16, serde_json::Value), String> {
    let (status, body) = common::get(&format!("{base}/readyz")).await?;
    let body = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_session_is_restarted_and_readyz_says_so_meanwhile() {
    let sim = splashtop_sim::spawn(SimConfig::default()).await.unwrap();
    let topology = Topology::new(common::prefix("tw-restart"), 1);
    let _cleanup = common::Cleanup(topology.clone());
    let publisher = Publisher::connect(&topology, "restart-test").await;
    // Slow restarts, so that the restart's wait can be seen from outside.
    let restarts = RestartPolicy {
        min_delay: Duration::from_secs(3),
        max_delay: Duration::from_secs(3),
        healthy_after: Duration::from_secs(60),
    };
    let bound = worker(&sim, &topology, None)
        .with_restart_policy(restarts)
        .bind()
        .await
        .unwrap();
    let base = format!("http://{}", bound.addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));

    let queue = topology.partition_queue(0);
    let channel = publisher.channel().await;
    eventually(WAIT, "the worker consumes its partition", || async {
        common::counts(&channel, &queue)
            .await
            .is_some_and(|(_, consumers)| consumers == 1)
    })
    .await;
    let (status, body) = readyz(&base).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tasks"]["session"]["restarts"], 0, "{body}");

    // The partition's queue disappears under its consumer: the session fails.
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let down = eventually(WAIT, "readyz names the failed session", || async {
        match readyz(&base).await {
            Ok((503, body)) if body["tasks"]["session"]["ready"] == false => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let problem = down["tasks"]["session"]["problem"].as_str().unwrap_or("");
    assert!(problem.contains("partition 0"), "{down}");
    assert_eq!(down["ready"], false);
    let up = eventually(WAIT, "the restarted session is ready", || async {
        match readyz(&base).await {
            Ok((200, body)) => Ok(body),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(up["tasks"]["session"]["restarts"], 1, "{up}");
    let (_, metrics) = common::get(&format!("{base}/metrics")).await.unwrap();
    assert_eq!(
        splashsync_test_support::metric(
            &metrics,
            "splashsync_worker_task_restarts_total",
            &[("task", "session")]
        ),
        Some(1.0),
        "{metrics}"
    );

    // The new session declared the queue again and consumes it.
    publisher
        .publish(&user_job(1, 1, UserSpec::active("Back")))
        .await;
    eventually(WAIT, "the job after the restart is applied", || async {
        sim.snapshot()["users"]
            .as_array()
            .is_some_and(|u| u.len() == 1)
    })
    .await;

    let _ = stop.send(());
    task.await.unwrap().unwrap();
    let _ = channel.close(200, "done".into()).await;
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_listener_cuts_off_a_client_that_trickles_or_idles() {
    let sim = splashtop_sim::spawn(SimConfig::default()).await.unwrap();
    let topology = Topology::new(common::prefix("tw-ops"), 1);
    let _cleanup = common::Cleanup(topology.clone());
    let limits = Limits {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        max_connections: 4,
        shutdown_grace: Duration::from_secs(1),
    };
    // No broker at this address: the listener serves all the same.
    let bound = worker(
        &sim,
        &topology,
        Some("amqp://guest:guest@127.0.0.1:9/%2f".into()),
    )
    .with_ops_limits(limits)
    .bind()
    .await
    .unwrap();
    let addr = bound.addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));

    // Never finishes its headers.
    let mut trickling = TcpStream::connect(addr).await.unwrap();
    trickling
        .write_all(b"GET /healthz HTTP/1.1\r\nhost")
        .await
        .unwrap();
    // Asks once, then keeps the connection open and says nothing more.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut trickled = Vec::new();
    let mut answered = Vec::new();
    // The deadline only keeps a listener without limits from hanging the test run.
    let closed = tokio::time::timeout(WAIT, async {
        let a = trickling.read_to_end(&mut trickled).await;
        let b = idle.read_to_end(&mut answered).await;
        (a, b)
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();

    assert!(closed.is_ok(), "the listener held its clients");
    let answered = String::from_utf8_lossy(&answered);
    assert!(
        answered.starts_with("HTTP/1.1 200"),
        "the idle client was answered first: {answered}"
    );
}
