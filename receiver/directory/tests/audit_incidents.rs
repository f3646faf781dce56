//! Incidents on a real database (SQLite or PostgreSQL, see `common`): one per key whatever the number of dead letters,
//! the latest failure as cause, resolved by a later applied job, reopened by a new
//! failure; filters, paging and totals; replay once per incident; discard with a note;
//! existing databases backfilled by the migration.

mod common;

use common::{cx, store, store_on, Store};
use splashsync_directory::audit::sqlite::SqliteAudit;
use splashsync_directory::audit::{AuditStore, DeadLetterFilter, IncidentFilter, NewDeadLetter};
use splashsync_directory::engine::Engine;
use splashsync_directory::{GroupPolicy, StoreError};
use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use splashsync_protocol::{JobKey, Tenant};
use sqlx::Connection;

fn key(id: &str) -> String {
    JobKey::user(&Tenant::default(), id).to_string()
}

/// A dead letter of user `id`'s job at `version`, failed with Splashtop `code`; its body
/// is the user's first job in `s`'s outbox (so it names the account's email).
async fn failure(s: &Store, id: &str, version: i64, code: &str, n: u32) -> NewDeadLetter {
    let job = s
        .jobs()
        .await
        .into_iter()
        .find(|j| j.meta().key.to_string() == key(id))
        .map(|j| serde_json::to_string(&j).unwrap())
        .unwrap_or_default();
    NewDeadLetter {
        job_id: format!("j-{id}-{version}-{n}"),
        tenant: "default".into(),
        key: key(id),
        kind: "user".into(),
        version,
        reason: "permanent".into(),
        http_status: Some(422),
        error_code: Some(code.into()),
        error_body: format!("{code} said Splashtop"),
        attempts: 2,
        first_attempt: Some("2026-01-01T00:00:00.000Z".into()),
        last_attempt: Some(format!("2026-01-01T00:00:0{n}.000Z")),
        payload: job,
    }
}

fn applied(id: &str, version: i64, job: &str) -> OutcomeEvent {
    OutcomeEvent {
        event_id: format!("e-{job}"),
        job_id: job.into(),
        tenant: "default".into(),
        key: JobKey::parse(&key(id)).unwrap(),
        version,
        kind: "user".into(),
        attempt: 1,
        at: splashsync_scim::now_rfc3339(),
        status: OutcomeStatus::Applied,
        detail: "Invited(\"u_1\")".into(),
        http_status: None,
        error_code: None,
        reason: None,
        splashtop_id: Some("u_1".into()),
        worker: "w1".into(),
        next_attempt_at: None,
        name: None,
    }
}

fn open() -> IncidentFilter {
    IncidentFilter::default()
}

#[tokio::test]
async fn two_causes_make_one_incident_with_the_latest_cause_that_resolves_and_reopens() {
    let s = store().await;
    let audit = s.audit.clone();
    s.users(&["u1"]).await;
    audit
        .record_dead_letter(failure(&s, "u1", 1, "sso_method_not_found", 1).await)
        .await
        .unwrap();
    audit
        .record_dead_letter(failure(&s, "u1", 1, "seat_limit_reached", 2).await)
        .await
        .unwrap();
    let page = audit.incidents(open()).await.unwrap();
    assert_eq!(page.total, 1, "{page:?}");
    let inc = &page.incidents[0];
    assert_eq!(inc.cause, "seat_limit_reached");
    assert_eq!((inc.dead_letters, inc.attempts), (2, 4));
    assert_eq!(inc.name.as_deref(), Some("u1@x.com"));
    assert!(inc.what_to_do.contains("seat"), "{}", inc.what_to_do);
    let dls = audit
        .dead_letters(DeadLetterFilter::default())
        .await
        .unwrap();
    assert!(dls.iter().all(|d| d.incident_id == Some(inc.id)));
    assert_eq!(dls[0].name.as_deref(), Some("u1@x.com"));

    // An older job applied late resolves nothing; the failed version applied does.
    audit
        .record_outcome(applied("u1", 0, "j-old"))
        .await
        .unwrap();
    assert_eq!(audit.incidents(open()).await.unwrap().total, 1);
    audit
        .record_outcome(applied("u1", 1, "j-fixed"))
        .await
        .unwrap();
    assert_eq!(audit.incidents(open()).await.unwrap().total, 0);
    let detail = audit.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(detail.incident.state, "resolved");
    assert_eq!(detail.incident.resolved_by_job.as_deref(), Some("j-fixed"));
    assert!(detail.dead_letters.iter().all(|d| d.state == "resolved"));
    assert!(
        detail
            .timeline
            .iter()
            .any(|e| e.what == "resolved" && e.detail.contains("j-fixed")),
        "{:?}",
        detail.timeline
    );
    assert!(
        detail
            .timeline
            .iter()
            .any(|e| e.detail.contains("invited to the team (Splashtop id u_1)")),
        "attempts read in words: {:?}",
        detail.timeline
    );

    // It fails again at a later version: the same incident reopens.
    audit
        .record_dead_letter(failure(&s, "u1", 2, "domain_not_allowed", 3).await)
        .await
        .unwrap();
    let page = audit.incidents(open()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.incidents[0].id, inc.id);
    assert_eq!(page.incidents[0].cause, "domain_not_allowed");
    assert_eq!(page.incidents[0].reopened, 1);
}

#[tokio::test]
async fn a_failure_older_than_a_version_applied_since_opens_nothing() {
    let s = store().await;
    let audit = s.audit.clone();
    s.users(&["u1"]).await;
    audit
        .record_outcome(applied("u1", 3, "j-new"))
        .await
        .unwrap();
    audit
        .record_dead_letter(failure(&s, "u1", 2, "seat_limit_reached", 1).await)
        .await
        .unwrap();
    assert_eq!(audit.incidents(open()).await.unwrap().total, 0);
    let all = IncidentFilter {
        state: Some("all".into()),
        ..open()
    };
    let page = audit.incidents(all).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.incidents[0].state, "resolved");
}

#[tokio::test]
async fn filters_page_and_count_by_cause_person_and_kind() {
    let s = store().await;
    let audit = s.audit.clone();
    let ids = ["alice", "albert", "bob", "carol", "dave"];
    s.users(&ids).await;
    for (n, id) in ids.iter().enumerate() {
        let code = if n < 3 {
            "seat_limit_reached"
        } else {
            "sso_method_not_found"
        };
        audit
            .record_dead_letter(failure(&s, id, 1, code, 1).await)
            .await
            .unwrap();
    }
    let by = |f: IncidentFilter| {
        let audit = &audit;
        async move { audit.incidents(f).await.unwrap() }
    };
    let seat = by(IncidentFilter {
        cause: Some("seat_limit_reached".into()),
        limit: Some(2),
        ..open()
    })
    .await;
    assert_eq!((seat.total, seat.incidents.len()), (3, 2));
    let rest = by(IncidentFilter {
        cause: Some("seat_limit_reached".into()),
        limit: Some(2),
        offset: Some(2),
        ..open()
    })
    .await;
    assert_eq!((rest.total, rest.incidents.len()), (3, 1));
    let mut seen: Vec<i64> = seat.incidents.iter().map(|i| i.id).collect();
    seen.push(rest.incidents[0].id);
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 3, "pages do not overlap");
    let al = by(IncidentFilter {
        person: Some("AL".into()),
        ..open()
    })
    .await;
    assert_eq!(al.total, 2, "userName prefix, case-insensitive");
    let none = by(IncidentFilter {
        person: Some("a%".into()),
        ..open()
    })
    .await;
    assert_eq!(none.total, 0, "% is a character, not a wildcard");
    let groups = by(IncidentFilter {
        kind: Some("group".into()),
        ..open()
    })
    .await;
    assert_eq!(groups.total, 0);
    let causes = audit.open_incidents_by_cause().await.unwrap();
    assert_eq!(
        causes
            .iter()
            .map(|c| (c.cause.as_str(), c.count))
            .collect::<Vec<_>>(),
        [("seat_limit_reached", 3), ("sso_method_not_found", 2)]
    );
    let found = audit.find_users("AL".into(), 10).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|u| u.user_name.as_str())
            .collect::<Vec<_>>(),
        ["albert@x.com", "alice@x.com"]
    );
}

#[tokio::test]
async fn a_replay_writes_one_job_per_incident_and_its_application_resolves_it() {
    let s = store().await;
    let audit = s.audit.clone();
    s.users(&["u1"]).await;
    for n in 1..=3 {
        audit
            .record_dead_letter(failure(&s, "u1", 1, "seat_limit_reached", n).await)
            .await
            .unwrap();
    }
    let id = audit.incidents(open()).await.unwrap().incidents[0].id;
    let before = s.jobs().await.len();
    let replayed = audit
        .replay_incident(cx(GroupPolicy::Reject), id)
        .await
        .unwrap();
    assert_eq!(s.jobs_after(before).await.len(), 1, "one job, not three");
    assert_eq!(replayed.dead_letters.len(), 3);
    assert_eq!(audit.incidents(open()).await.unwrap().total, 0);
    let active = IncidentFilter {
        state: Some("active".into()),
        ..open()
    };
    let page = audit.incidents(active).await.unwrap();
    assert_eq!(page.incidents[0].state, "replaying");
    assert_eq!(
        page.incidents[0].replay_job_id.as_deref(),
        Some(replayed.job_id.as_str())
    );
    audit
        .record_outcome(applied("u1", replayed.version, &replayed.job_id))
        .await
        .unwrap();
    let detail = audit.incident(id).await.unwrap().unwrap();
    assert_eq!(detail.incident.state, "resolved");
    assert_eq!(
        detail.incident.resolved_by_job.as_deref(),
        Some(replayed.job_id.as_str())
    );
    let err = audit
        .replay_incident(cx(GroupPolicy::Reject), id)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::IncidentClosed { state, .. } if state == "resolved"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_discard_keeps_who_why_and_when_and_a_later_failure_opens_a_new_incident() {
    let s = store().await;
    let audit = s.audit.clone();
    s.users(&["u1"]).await;
    audit
        .record_dead_letter(failure(&s, "u1", 1, "email_owned_by_other_team", 1).await)
        .await
        .unwrap();
    let id = audit.incidents(open()).await.unwrap().incidents[0].id;
    let done = audit
        .discard_incident(id, "left the company".into(), "ops@x.com".into())
        .await
        .unwrap();
    assert_eq!(done.dead_letters.len(), 1);
    let detail = audit.incident(id).await.unwrap().unwrap();
    assert_eq!(detail.incident.state, "discarded");
    assert_eq!(detail.incident.note.as_deref(), Some("left the company"));
    assert_eq!(detail.incident.discarded_by.as_deref(), Some("ops@x.com"));
    assert!(detail.incident.closed_at.is_some());
    assert_eq!(detail.dead_letters[0].state, "discarded");
    let err = audit
        .discard_incident(id, "again".into(), "x".into())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IncidentClosed { .. }), "{err:?}");
    audit
        .record_dead_letter(failure(&s, "u1", 2, "seat_limit_reached", 2).await)
        .await
        .unwrap();
    let page = audit.incidents(open()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_ne!(page.incidents[0].id, id);
}

#[tokio::test]
async fn the_migration_files_existing_open_dead_letters_under_incidents() {
    // SQLite's migration backfills databases of before the incidents; PostgreSQL's has no
    // such databases in the field (its engine came with the incidents' migration).
    let s = store_on(Engine::Sqlite).await;
    let audit = s.audit.clone();
    s.users(&["u1", "u2"]).await;
    for (id, n) in [("u1", 1), ("u1", 2), ("u2", 3)] {
        audit
            .record_dead_letter(failure(&s, id, 1, "seat_limit_reached", n).await)
            .await
            .unwrap();
    }
    audit
        .record_outcome(applied("u2", 1, "j-u2-fixed"))
        .await
        .unwrap();
    // Back to a database of before the incidents (schema version 5, what later migrations
    // added undone too): open dead letters, u2 applied since.
    let url = s.url.clone();
    drop(audit);
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "DROP INDEX dead_letters_incident; ALTER TABLE dead_letters DROP COLUMN incident_id; \
         DROP TABLE incidents; UPDATE dead_letters SET state = 'open', resolved_at = NULL; \
         DROP TABLE reconcile_runs; DROP TABLE workers; ALTER TABLE audit_events DROP COLUMN next_attempt_at; \
         DELETE FROM schema_migrations WHERE version >= 6;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let directory = splashsync_directory::sqlite::SqliteDirectory::open(&url)
        .await
        .unwrap();
    let audit = SqliteAudit::new(&directory);
    let page = audit.incidents(open()).await.unwrap();
    assert_eq!(page.total, 1, "u2 was applied since: resolved");
    let inc = &page.incidents[0];
    assert_eq!(
        (inc.key.as_str(), inc.dead_letters),
        (key("u1").as_str(), 2)
    );
    assert_eq!(inc.name.as_deref(), Some("u1@x.com"));
    assert_eq!(inc.object_id, "u1");
    let all = IncidentFilter {
        state: Some("resolved".into()),
        ..open()
    };
    let resolved = audit.incidents(all).await.unwrap();
    assert_eq!(
        resolved.incidents[0].resolved_by_job.as_deref(),
        Some("j-u2-fixed")
    );
}
