//! The workers table keeps each worker's newest heartbeat (an older one arriving late
//! changes nothing), says which are live or stopped, and a retrying outcome's next attempt
//! reaches the "retrying now" list and the timeline; on SQLite and PostgreSQL alike.

mod common;

use common::store;
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::workers::{WorkerHeartbeat, WorkerRun};
use splashsync_protocol::{JobKey, Tenant};

fn heartbeat(id: &str, seq: u64, run: WorkerRun, partitions: Vec<u16>) -> WorkerHeartbeat {
    WorkerHeartbeat {
        id: id.into(),
        tenant: "default".into(),
        host: format!("host-{id}"),
        pid: 4242,
        version: "0.1.0".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        at: splashsync_scim::now_rfc3339(),
        seq,
        run,
        partitions,
        rate_limit_per_minute: Some(50.0),
        rate_limit_share_per_minute: Some(100.0),
        rate_limit_state: Some("reduced_after_429".into()),
        interval_secs: 5.0,
    }
}

#[tokio::test]
async fn the_newest_heartbeat_of_each_worker_wins_and_a_stop_is_kept() {
    let s = store().await;
    let w = &s.workers;
    assert!(w
        .record_heartbeat(heartbeat("a", 2, WorkerRun::Running, vec![0, 1]))
        .await
        .unwrap());
    assert!(
        !w.record_heartbeat(heartbeat("a", 1, WorkerRun::Running, vec![5]))
            .await
            .unwrap(),
        "an older heartbeat arriving late is ignored"
    );
    assert!(w
        .record_heartbeat(heartbeat("b", 1, WorkerRun::Running, vec![2]))
        .await
        .unwrap());
    let list = w.workers().await.unwrap();
    assert_eq!((list.total, list.live, list.partitions_held), (2, 2, 3));
    let a = list.workers.iter().find(|x| x.id == "a").unwrap();
    assert_eq!(a.partitions, [0, 1]);
    assert_eq!((a.host.as_str(), a.pid), ("host-a", 4242));
    assert_eq!(a.rate_limit_per_minute, Some(50.0));
    assert_eq!(a.rate_limit_share_per_minute, Some(100.0));
    assert_eq!(a.rate_limit_state.as_deref(), Some("reduced_after_429"));
    assert!(a.last_heartbeat_age_seconds < 60.0, "{a:?}");

    assert!(w
        .record_heartbeat(heartbeat("a", 3, WorkerRun::Stopped, vec![]))
        .await
        .unwrap());
    let list = w.workers().await.unwrap();
    let states: Vec<(&str, &str)> = list
        .workers
        .iter()
        .map(|x| (x.id.as_str(), x.state.as_str()))
        .collect();
    assert_eq!(states, [("b", "live"), ("a", "stopped")], "live first");
    assert_eq!((list.live, list.partitions_held), (1, 1));
}

#[tokio::test]
async fn a_retrying_attempt_s_next_attempt_shows_in_retrying_now_and_the_timeline() {
    let s = store().await;
    let key = JobKey::user(&Tenant::default(), "u1");
    let next = "2026-01-01T00:00:09.500Z";
    let event = OutcomeEvent {
        event_id: "e-1".into(),
        job_id: "j-1".into(),
        tenant: "default".into(),
        key: key.clone(),
        version: 1,
        kind: "user".into(),
        attempt: 2,
        at: splashsync_scim::now_rfc3339(),
        status: OutcomeStatus::Retrying,
        detail: "Splashtop answered 429 (rate limited)".into(),
        http_status: Some(429),
        error_code: None,
        reason: None,
        splashtop_id: None,
        worker: "w1".into(),
        next_attempt_at: Some(next.into()),
        name: None,
    };
    assert!(s.audit.record_outcome(event).await.unwrap());
    let retrying = s.audit.retrying_now(10).await.unwrap();
    assert_eq!(retrying.len(), 1, "{retrying:?}");
    assert_eq!(retrying[0].next_attempt.as_deref(), Some(next));
    let timeline = s.audit.timeline(key.to_string()).await.unwrap();
    let line = timeline.iter().find(|t| t.what == "attempt").unwrap();
    assert!(
        line.detail.ends_with(&format!("next attempt at {next}")),
        "{line:?}"
    );
}
