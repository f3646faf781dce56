//! The tenant guard on the real broker.
#![cfg(feature = "amqp")]

use lapin::options::QueueDeleteOptions;
use splashsync_protocol::topology::{TenantClaimError, Topology};

fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

#[tokio::test]
async fn a_prefix_belongs_to_the_first_tenant_that_claims_it() {
    let conn = splashsync_protocol::amqp::connect(&amqp_url(), "splashsync-test-tenant")
        .await
        .expect("broker reachable");
    let prefix = format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let topology = Topology::new(prefix.clone(), 1);
    let first = topology.claim_tenant(&conn, "emea").await;
    let again = topology.claim_tenant(&conn, "emea").await;
    let other = topology.claim_tenant(&conn, "apac").await;
    let channel = conn.create_channel().await.unwrap();
    channel
        .queue_delete(
            topology.tenant_queue().as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    first.expect("a free prefix is claimed");
    again.expect("the same tenant may start again");
    match other {
        Err(TenantClaimError::Mismatch {
            held_by, wanted, ..
        }) => {
            assert_eq!((held_by.as_str(), wanted.as_str()), ("emea", "apac"));
        }
        other => panic!("another tenant must be refused, got {other:?}"),
    }
}
