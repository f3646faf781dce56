//! Intake on PostgreSQL: an outcome event or a dead letter, stored once (`ON CONFLICT DO
//! NOTHING`), and the key's state moved forward, never back to an older version, whichever
//! receiver's intake takes the message.

use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use sqlx::PgConnection;

use crate::audit::{now_fixed, state, NewDeadLetter};
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
    conn: &mut PgConnection,
    c: StateChange<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO provisioning_status (key, tenant, kind, state, version, last_error, splashtop_id, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (key) DO UPDATE SET state = excluded.state, version = excluded.version, \
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
    conn: &mut PgConnection,
    e: &OutcomeEvent,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO audit_events (event_id, job_id, tenant, key, version, kind, attempt, at, status, \
         detail, http_status, error_code, reason, splashtop_id, worker, received_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&e.event_id)
    .bind(&e.job_id)
    .bind(&e.tenant)
    .bind(e.key.to_string())
    .bind(e.version)
    .bind(&e.kind)
    .bind(i64::from(e.attempt))
    .bind(&e.at)
    .bind(e.status.as_str())
    .bind(&e.detail)
    .bind(e.http_status.map(i64::from))
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
                sqlx::query("UPDATE provisioning_status SET splashtop_id = $1 WHERE key = $2")
                    .bind(id)
                    .bind(e.key.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            return Ok(true);
        }
    };
    let key = e.key.to_string();
    set_state(
        conn,
        StateChange {
            key: &key,
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
    conn: &mut PgConnection,
    d: &NewDeadLetter,
) -> Result<bool, StoreError> {
    let delivery_id = format!("{}@{}", d.job_id, d.last_attempt.as_deref().unwrap_or("-"));
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO dead_letters (delivery_id, job_id, tenant, key, kind, version, reason, http_status, \
         error_code, error_body, attempts, first_attempt, last_attempt, payload, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING \
         RETURNING id",
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
    .fetch_optional(&mut *conn)
    .await?;
    let Some(dl_id) = inserted else {
        return Ok(false);
    };
    super::incidents::on_dead_letter(conn, d, dl_id).await?;
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
