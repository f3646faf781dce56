//! Several tenants in one deployment (docs/DESIGN.md, "Tenants"), on the real broker, Redis
//! and two simulated Splashtop teams: isolation of the directory ([`isolation`]) and of the
//! drain ([`drain`]).

mod drain;
mod isolation;

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use lapin::types::FieldTable;
use splashsync_protocol::job::Job;
use splashsync_protocol::topology::Topology;
use splashsync_test_support::{Publisher, TenantSetup, TenantsStack};
use splashtop_sim::SimConfig;

const EMEA_TOKEN: &str = "emea-Qm2LrT7vWc8ZpA1sDf4GhJ6kLz9x";
const APAC_TOKEN: &str = "apac-Zq81mN0vB7cX6zL5kJ4hG3fD2sA1";

/// `emea` (group policy `move`) and `apac`, each its own simulated team; with a worker
/// per tenant when `workers`.
async fn two_tenants(workers: bool) -> TenantsStack {
    let team = |id: &str| SimConfig {
        team_id: id.into(),
        ..SimConfig::default()
    };
    TenantsStack::start(
        vec![
            TenantSetup {
                name: "emea",
                token: EMEA_TOKEN,
                sim: team("team-emea"),
                extra: "group_policy = \"move\"\nrate_limit_per_minute = 0".into(),
            },
            TenantSetup {
                name: "apac",
                token: APAC_TOKEN,
                sim: team("team-apac"),
                extra: "rate_limit_per_minute = 0".into(),
            },
        ],
        workers,
    )
    .await
}

/// The tenants of the first `want` jobs on `topology`'s partition queues (consumed: the
/// queues are single-active-consumer quorum queues, which refuse `basic.get`).
pub(crate) async fn job_tenants(topology: &Topology, want: usize) -> Vec<String> {
    let link = Publisher::connect(topology, "t-tenants-reader").await;
    let channel = link.channel().await;
    let mut consumers = Vec::new();
    for queue in topology.partition_queues() {
        let tag = format!("t-tenants-{queue}");
        let consumer = channel
            .basic_consume(
                queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        consumers.push(consumer);
    }
    let mut deliveries = futures_util::stream::select_all(consumers);
    let mut tenants = Vec::new();
    while tenants.len() < want {
        let next = tokio::time::timeout(Duration::from_secs(30), deliveries.next()).await;
        let delivery = next
            .expect("the tenant's jobs reach its queues")
            .expect("a delivery")
            .expect("no consumer error");
        let job: Job = serde_json::from_slice(&delivery.data).expect("a job");
        tenants.push(job.meta().tenant.to_string());
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    link.close().await;
    tenants
}
