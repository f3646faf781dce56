//! The tenant guard on the real `splashsync-worker` process: a prefix claimed by another
//! tenant stops the worker at start, with the claim's message.

mod common;

use std::time::Duration;

use splashsync_protocol::topology::Topology;
use splashsync_test_support::{amqp_url, redis_url};

use common::WorkerProcess;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_claimed_by_another_tenant_stops_the_worker_with_the_reason() {
    let prefix = common::prefix("tw-tenant");
    let topology = Topology::new(prefix.clone(), 1);
    let _cleanup = common::Cleanup(topology.clone());
    let conn = splashsync_protocol::amqp::connect(&amqp_url(), "tenant-test")
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    topology.declare(&channel).await.unwrap();
    // The receiver of tenant "emea" got here first.
    topology.claim_tenant(&conn, "emea").await.unwrap();

    let worker = WorkerProcess::start(&[
        ("SPLASHSYNC_AMQP_URL", amqp_url()),
        ("SPLASHSYNC_AMQP_PREFIX", prefix.clone()),
        ("SPLASHSYNC_PARTITIONS", "1".into()),
        ("SPLASHSYNC_REDIS_URL", redis_url()),
        ("SPLASHSYNC_TENANT", "apac".into()),
        ("SPLASHTOP_API_URL", "http://127.0.0.1:9".into()),
        ("SPLASHTOP_API_TOKEN", "token".into()),
        ("SPLASHTOP_TEAM_ID", "team-1".into()),
    ]);
    // A worker that ignored the claim would run on: give it 30 s, then kill it and fail.
    let (exit, output) = worker.exit_within(Duration::from_secs(30)).await;
    // Whatever happened, the claim still names the first tenant.
    let still_emea = topology.claim_tenant(&conn, "emea").await;
    let _ = channel.close(200, "done".into()).await;
    let _ = conn.close(200, "done".into()).await;

    let exit = exit.expect("the worker stops on its own within 30 s");
    assert_eq!(exit.code(), Some(2), "a configuration error: {output}");
    assert!(
        output.contains(r#"belongs to tenant "emea", not "apac""#),
        "the reason is printed: {output}"
    );
    assert!(still_emea.is_ok(), "{still_emea:?}");
}
