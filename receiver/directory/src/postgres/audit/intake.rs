//! Intake on PostgreSQL: an outcome event or a dead letter, stored once (`ON CONFLICT DO
//! NOTHING`), and the key's state moved forward, never back to an older version, whichever
//! receiver's intake takes the message.

use splashsync_protocol::events::{OutcomeEvent, OutcomeStatus};
use sqlx::PgConnection;

use crate::audit::changes::{self, StateChange};
use crate::audit::{now_fixed, NewDeadLetter};
use crate::error::StoreError;

/// Writes `c` unless the key's state is about a newer version.
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
    let key = e.key.to_string();
    let Some(change) = changes::of_outcome(e, &key) else {
        // A newer version was applied already (or is, right behind it); the state is that version's.
        if let Some(id) = &e.splashtop_id {
            sqlx::query("UPDATE provisioning_status SET splashtop_id = $1 WHERE key = $2")
                .bind(id)
                .bind(&key)
                .execute(&mut *conn)
                .await?;
        }
        return Ok(true);
    };
    if matches!(e.status, OutcomeStatus::Applied) {
        super::incidents::on_applied(conn, e).await?;
    }
    set_state(conn, change).await?;
    Ok(true)
}

pub(crate) async fn insert_dead_letter(
    conn: &mut PgConnection,
    d: &NewDeadLetter,
) -> Result<bool, StoreError> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO dead_letters (delivery_id, job_id, tenant, key, kind, version, reason, http_status, \
         error_code, error_body, attempts, first_attempt, last_attempt, payload, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT DO NOTHING \
         RETURNING id",
    )
    .bind(changes::delivery_id(d))
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
    if let Some(change) = changes::of_dead_letter(d) {
        set_state(conn, change).await?;
    }
    Ok(true)
}
