//! The SQLite audit store on a real database file: outcomes and dead letters stored once,
//! states moving forward, replays writing the key's current state, discards, timelines.

mod common;

use common::{cx, store, user_job, Store};
use serde_json::json;
use splashsync_directory::audit::{state, AuditStore, DeadLetterFilter, NewDeadLetter};
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::{JobKey, Tenant};

fn key(id: &str) -> JobKey {
    JobKey::user(&Tenant::default(), id)
}

fn event(id: &str, version: i64, status: OutcomeStatus) -> OutcomeEvent {
    OutcomeEvent {
        event_id: format!("e-{id}-{version}-{}", status.as_str()),
        job_id: format!("j-{id}-{version}"),
        tenant: "default".into(),
        key: key(id),
        version,
        kind: "user".into(),
        attempt: 1,
        at: splashsync_scim::now_rfc3339(),
        status,
        detail: "licence full".into(),
        http_status: Some(403),
        error_code: Some("license_full".into()),
        reason: None,
        splashtop_id: None,
        worker: "w1".into(),
        next_attempt_at: None,
        name: None,
    }
}

fn dead_letter(id: &str, version: i64) -> NewDeadLetter {
    NewDeadLetter {
        job_id: format!("j-{id}-{version}"),
        tenant: "default".into(),
        key: key(id).to_string(),
        kind: "user".into(),
        version,
        reason: "permanent".into(),
        http_status: Some(403),
        error_code: Some("license_full".into()),
        error_body: "no seat left".into(),
        attempts: 1,
        first_attempt: Some("2026-01-01T00:00:00.000Z".into()),
        last_attempt: Some("2026-01-01T00:00:01.000Z".into()),
        payload: "{}".into(),
    }
}

async fn audited() -> (Store, std::sync::Arc<dyn AuditStore>) {
    let s = store().await;
    let audit = s.audit.clone();
    (s, audit)
}

#[tokio::test]
async fn an_outcome_is_stored_once_and_a_state_never_goes_back_a_version() {
    let (s, audit) = audited().await;
    s.users(&["u1"]).await;
    let pending = audit.status(key("u1").to_string()).await.unwrap().unwrap();
    assert_eq!(
        (pending.state.as_str(), pending.version),
        (state::PENDING, 1)
    );
    assert!(audit
        .record_outcome(event("u1", 1, OutcomeStatus::Applied))
        .await
        .unwrap());
    assert!(!audit
        .record_outcome(event("u1", 1, OutcomeStatus::Applied))
        .await
        .unwrap());
    let applied = audit.status(key("u1").to_string()).await.unwrap().unwrap();
    assert_eq!(applied.state, state::APPLIED);
    // A late report about version 0 does not move the state back.
    audit
        .record_outcome(event("u1", 0, OutcomeStatus::Retrying))
        .await
        .unwrap();
    let still = audit.status(key("u1").to_string()).await.unwrap().unwrap();
    assert_eq!(still.state, state::APPLIED);
    assert_eq!(audit.attempts("j-u1-1".into()).await.unwrap().len(), 1);
    assert!(audit
        .status(key("nobody").to_string())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_replay_writes_the_current_state_at_the_current_version_once() {
    let (s, audit) = audited().await;
    s.users(&["u1"]).await;
    let edit = Box::new(|_: &_| Ok(json!({"userName": "u1@x.com", "active": false})));
    s.directory
        .update_user(cx(GroupPolicy::Reject), "u1".into(), None, edit)
        .await
        .unwrap();
    assert!(audit
        .record_dead_letter(dead_letter("u1", 1))
        .await
        .unwrap());
    assert!(!audit
        .record_dead_letter(dead_letter("u1", 1))
        .await
        .unwrap());
    let status = audit.status(key("u1").to_string()).await.unwrap().unwrap();
    // The dead letter is about version 1; version 2 is still waiting, so: pending.
    assert_eq!((status.state.as_str(), status.version), (state::PENDING, 2));
    let open = audit
        .dead_letters(DeadLetterFilter::default())
        .await
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        open[0].origin.as_deref(),
        None,
        "its job is not in this outbox"
    );
    let before = s.jobs().await.len();
    let replayed = audit
        .replay(cx(GroupPolicy::Reject), open[0].id)
        .await
        .unwrap();
    assert_eq!(replayed.version, 2);
    let jobs = s.jobs_after(before).await;
    assert_eq!(jobs.len(), 1);
    let job = user_job(&jobs[0]);
    assert_eq!(job.meta.job_id, replayed.job_id);
    assert!(
        !job.state.active,
        "the current state, not the dead letter's"
    );
    assert!(job.meta.origin.contains("replay of dead letter"));
    let again = audit
        .replay(cx(GroupPolicy::Reject), open[0].id)
        .await
        .unwrap_err();
    assert!(
        matches!(&again, StoreError::AlreadyResolved { state, .. } if state == "replayed"),
        "{again:?}"
    );
    assert!(audit
        .dead_letters(DeadLetterFilter::default())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_discard_keeps_the_note_and_happens_once() {
    let (s, audit) = audited().await;
    s.users(&["u1"]).await;
    audit
        .record_dead_letter(dead_letter("u1", 1))
        .await
        .unwrap();
    let id = audit
        .dead_letters(DeadLetterFilter::default())
        .await
        .unwrap()[0]
        .id;
    audit.discard(id, "left the company".into()).await.unwrap();
    let dl = audit.dead_letter(id).await.unwrap().unwrap();
    assert_eq!(dl.state, "discarded");
    assert_eq!(dl.note.as_deref(), Some("left the company"));
    let err = audit.discard(id, "again".into()).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyResolved { .. }), "{err:?}");
    let err = audit.discard(999, "none".into()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn the_timeline_says_what_was_asked_and_what_splashtop_answered() {
    let (s, audit) = audited().await;
    s.users(&["u1"]).await;
    audit
        .record_outcome(event("u1", 1, OutcomeStatus::Retrying))
        .await
        .unwrap();
    let timeline = audit.timeline(key("u1").to_string()).await.unwrap();
    let what: Vec<&str> = timeline.iter().map(|e| e.what.as_str()).collect();
    assert_eq!(what, ["asked", "attempt"]);
    assert!(timeline[0].detail.starts_with("test (version 1"));
    assert!(timeline[1].detail.contains("[license_full]"));
    assert_eq!(
        audit.user_id_by_name("U1@X.COM".into()).await.unwrap(),
        Some("u1".into())
    );
    let stats = audit.outbox_stats().await.unwrap();
    assert_eq!((stats.pending, stats.sent), (1, 0));
}
