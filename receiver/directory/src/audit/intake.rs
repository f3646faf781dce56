//! Intake writes: an outcome event or a dead letter, stored once, and the key's state
//! moved forward (never back to an older version). Each runs inside the writer's batch.

use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use sqlx::SqliteConnection;

use super::{now_fixed, state, NewDeadLetter};
use crate::error::StoreError;

/// A key's new state, applied only if it is about the same or a newer version.
pub(crate) struct StateChange<'a> {
    pub(crate) key: &'a str,
    pub(crate) tenant: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) state: &'a str,
    pub(crate) version: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) splashtop_id: Option<String>,
}

pub(crate) async fn set_state(
    conn: &mut SqliteConnection,
    c: StateChange<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO provisioning_status (key, tenant, kind, state, version, last_error, splashtop_id, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT(key) DO UPDATE SET state = excluded.state, version = excluded.version, \
         last_error = excluded.last_error, \
         splashtop_id = COALESCE(excluded.splashtop_id, provisioning_status.splashtop_id), \
         updated = excluded.updated \
         WHERE excluded.version >= provisioning_status.version",
    )
    .bind(c.key)
    .bind(c.tenant)
    .bind(c.kind)
    .bind(c.state)
    .bind(c.version)
    .bind(c.last_error)
    .bind(c.splashtop_id)
    .bind(now_fixed())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn insert_outcome(
    conn: &mut SqliteConnection,
    e: &OutcomeEvent,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO audit_events (event_id, job_id, tenant, key, version, kind, attempt, at, status, \
         detail, http_status, error_code, reason, splashtop_id, worker, received_at, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&e.event_id)
    .bind(&e.job_id)
    .bind(&e.tenant)
    .bind(e.key.to_string())
    .bind(e.version)
    .bind(&e.kind)
    .bind(e.attempt)
    .bind(&e.at)
    .bind(e.status.as_str())
    .bind(&e.detail)
    .bind(e.http_status)
    .bind(&e.error_code)
    .bind(&e.reason)
    .bind(&e.splashtop_id)
    .bind(&e.worker)
    .bind(now_fixed())
    .bind(&e.next_attempt_at)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    let error = || {
        let code = e
            .error_code
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let http = e
            .http_status
            .map(|s| format!("HTTP {s}"))
            .unwrap_or_else(|| "error".into());
        Some(format!("{http}{code}: {}", e.detail))
    };
    let (new_state, last_error) = match e.status {
        OutcomeStatus::Applied => {
            super::incidents::on_applied(conn, e).await?;
            (state::APPLIED, None)
        }
        OutcomeStatus::Retrying => (state::RETRYING, error()),
        OutcomeStatus::DeadLettered => (state::DEAD_LETTERED, error()),
        OutcomeStatus::SkippedStale | OutcomeStatus::Superseded => {
            // A newer version was applied already (or is, right behind it); the state is that version's.
            if let Some(id) = &e.splashtop_id {
                sqlx::query("UPDATE provisioning_status SET splashtop_id = ? WHERE key = ?")
                    .bind(id)
                    .bind(e.key.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(true);
        }
    };
    set_state(
        conn,
        StateChange {
            key: &e.key.to_string(),
            tenant: &e.tenant,
            kind: &e.kind,
            state: new_state,
            version: e.version,
            last_error,
            splashtop_id: e.splashtop_id.clone(),
        },
    )
    .await?;
    Ok(true)
}

pub(crate) async fn insert_dead_letter(
    conn: &mut SqliteConnection,
    d: &NewDeadLetter,
) -> Result<bool, StoreError> {
    // A dead letter redelivered (the receiver died before its ack) has the same job and
    // last attempt: it is stored once.
    let delivery_id = format!("{}@{}", d.job_id, d.last_attempt.as_deref().unwrap_or("-"));
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO dead_letters (delivery_id, job_id, tenant, key, kind, version, reason, http_status, \
         error_code, error_body, attempts, first_attempt, last_attempt, payload, received_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(delivery_id)
    .bind(&d.job_id)
    .bind(&d.tenant)
    .bind(&d.key)
    .bind(&d.kind)
    .bind(d.version)
    .bind(&d.reason)
    .bind(d.http_status)
    .bind(&d.error_code)
    .bind(&d.error_body)
    .bind(d.attempts)
    .bind(&d.first_attempt)
    .bind(&d.last_attempt)
    .bind(&d.payload)
    .bind(now_fixed())
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(false);
    }
    super::incidents::on_dead_letter(conn, d, inserted.last_insert_rowid()).await?;
    if !d.key.is_empty() {
        let code = d
            .error_code
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        set_state(
            conn,
            StateChange {
                key: &d.key,
                tenant: &d.tenant,
                kind: &d.kind,
                state: state::DEAD_LETTERED,
                version: d.version,
                last_error: Some(format!("{}{code}: {}", d.reason, d.error_body)),
                splashtop_id: None,
            },
        )
        .await?;
    }
    Ok(true)
}
