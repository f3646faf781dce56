//! Incidents on PostgreSQL (SQLite's `crate::audit::incidents`, ported; the rules are
//! [`crate::audit::filing`]'s), written: one per key that failed. A dead letter opens the key's incident or
//! joins the active one (its cause becomes the latest failure's); an applied job at the
//! failed version or later resolves it (by that job); a failure after that reopens it. An
//! operator replays it (one fresh job, whatever the number of dead letters under it) or
//! discards it with a note. Every function runs inside the writer's transaction.

use splashsync_protocol::admin::{cause_of, incident_state, IncidentDiscarded};
use splashsync_protocol::events::OutcomeEvent;
use sqlx::PgConnection;

use crate::audit::filing::{self, Filing, Latest};
use crate::audit::{now_fixed, NewDeadLetter};
use crate::error::StoreError;

/// The names an incident about `object_id` shows ([`filing::names`]).
async fn names(
    conn: &mut PgConnection,
    d: &NewDeadLetter,
    object_id: &str,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let current = match filing::current_name_sql(&d.kind) {
        Some(sql) => {
            sqlx::query_scalar(sql)
                .bind(object_id)
                .fetch_optional(&mut *conn)
                .await?
        }
        None => None,
    };
    Ok(filing::names(&d.payload, current))
}

/// The latest applied job of a key at `version` or later, if the key's state says one was.
async fn applied_since(
    conn: &mut PgConnection,
    key: &str,
    version: i64,
) -> Result<Option<String>, StoreError> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM provisioning_status WHERE key = $1 AND state = 'applied' AND version > $2",
    )
    .bind(key)
    .bind(version)
    .fetch_optional(&mut *conn)
    .await?;
    if applied.is_none() {
        return Ok(None);
    }
    let job: Option<String> = sqlx::query_scalar(
        "SELECT job_id FROM audit_events WHERE key = $1 AND status = 'applied' ORDER BY version DESC, at DESC LIMIT 1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(Some(job.unwrap_or_default()))
}

/// Files dead letter `dl_id` under its key's incident: the active one, the last resolved
/// one (reopened), or a new one. A dead letter about a version older than one applied
/// since is filed resolved (it arrived late; nothing is wrong any more).
pub(crate) async fn on_dead_letter(
    conn: &mut PgConnection,
    d: &NewDeadLetter,
    dl_id: i64,
) -> Result<(), StoreError> {
    let key = filing::incident_key(&d.key, &d.job_id);
    let object_id = filing::object_id(&key, &d.job_id);
    let (name, email) = names(conn, d, &object_id).await?;
    let cause = cause_of(d.error_code.as_deref(), &d.reason);
    let now = now_fixed();
    let stale_fix = applied_since(conn, &key, d.version).await?;
    let latest = sqlx::query(
        "SELECT id, state, last_version FROM incidents WHERE key = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(&key)
    .fetch_optional(&mut *conn)
    .await?;
    let latest = latest.as_ref().map(Latest::from_row).transpose()?;
    let filing = Filing::of(latest.as_ref(), stale_fix.is_some(), d.version);
    let id = match filing {
        Filing::Join { id, newer } => {
            sqlx::query(
                "UPDATE incidents SET attempts = attempts + $1, dead_letters = dead_letters + 1, \
                 last_seen = $2, name = COALESCE($3, name), email = COALESCE($4, email), \
                 state = CASE WHEN $5 THEN 'open' ELSE state END, \
                 cause = CASE WHEN $6 THEN $7 ELSE cause END, reason = CASE WHEN $8 THEN $9 ELSE reason END, \
                 error_code = CASE WHEN $10 THEN $11 ELSE error_code END, \
                 http_status = CASE WHEN $12 THEN $13 ELSE http_status END, \
                 message = CASE WHEN $14 THEN $15 ELSE message END, \
                 last_job_id = CASE WHEN $16 THEN $17 ELSE last_job_id END, \
                 last_version = GREATEST(last_version, $18) WHERE id = $19",
            )
            .bind(d.attempts)
            .bind(&now)
            .bind(&name)
            .bind(&email)
            .bind(newer)
            .bind(newer)
            .bind(&cause)
            .bind(newer)
            .bind(&d.reason)
            .bind(newer)
            .bind(&d.error_code)
            .bind(newer)
            .bind(d.http_status)
            .bind(newer)
            .bind(&d.error_body)
            .bind(newer)
            .bind(&d.job_id)
            .bind(d.version)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            id
        }
        Filing::Late { id } => {
            // Late news about a version fixed since: kept under the resolved incident.
            sqlx::query(
                "UPDATE incidents SET attempts = attempts + $1, dead_letters = dead_letters + 1 WHERE id = $2",
            )
            .bind(d.attempts)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            id
        }
        Filing::Reopen { id } => {
            sqlx::query(
                "UPDATE incidents SET state = 'open', reopened = reopened + 1, closed_at = NULL, \
                 attempts = attempts + $1, dead_letters = dead_letters + 1, last_seen = $2, \
                 name = COALESCE($3, name), email = COALESCE($4, email), cause = $5, reason = $6, \
                 error_code = $7, http_status = $8, message = $9, last_job_id = $10, last_version = $11 \
                 WHERE id = $12",
            )
            .bind(d.attempts)
            .bind(&now)
            .bind(&name)
            .bind(&email)
            .bind(&cause)
            .bind(&d.reason)
            .bind(&d.error_code)
            .bind(d.http_status)
            .bind(&d.error_body)
            .bind(&d.job_id)
            .bind(d.version)
            .bind(id)
            .execute(&mut *conn)
            .await?;
            id
        }
        Filing::New { resolved } => {
            let (state, closed_at) = match resolved {
                true => (incident_state::RESOLVED, Some(now.clone())),
                false => (incident_state::OPEN, None),
            };
            sqlx::query_scalar(
                "INSERT INTO incidents (tenant, key, kind, object_id, name, email, state, cause, reason, \
                 error_code, http_status, message, first_seen, last_seen, attempts, dead_letters, \
                 last_job_id, last_version, closed_at, resolved_by_job) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $17, $18, $19) RETURNING id",
            )
            .bind(&d.tenant)
            .bind(&key)
            .bind(&d.kind)
            .bind(&object_id)
            .bind(&name)
            .bind(&email)
            .bind(state)
            .bind(&cause)
            .bind(&d.reason)
            .bind(&d.error_code)
            .bind(d.http_status)
            .bind(&d.error_body)
            .bind(&now)
            .bind(&now)
            .bind(d.attempts)
            .bind(&d.job_id)
            .bind(d.version)
            .bind(closed_at)
            .bind(&stale_fix)
            .fetch_one(&mut *conn)
            .await?
        }
    };
    let dl_state = filing.dead_letter_state();
    sqlx::query(
        "UPDATE dead_letters SET incident_id = $1, state = $2, \
         resolved_at = CASE WHEN $3::text = 'resolved' THEN $4::text END WHERE id = $5",
    )
    .bind(id)
    .bind(dl_state)
    .bind(dl_state)
    .bind(&now)
    .bind(dl_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An applied job resolves its key's active incident when it is about the failed version
/// or a later one; the incident's open dead letters are resolved with it.
pub(crate) async fn on_applied(
    conn: &mut PgConnection,
    e: &OutcomeEvent,
) -> Result<(), StoreError> {
    let now = now_fixed();
    let resolved: Option<i64> = sqlx::query_scalar(
        "UPDATE incidents SET state = 'resolved', closed_at = $1, resolved_by_job = $2 \
         WHERE key = $3 AND state IN ('open', 'replaying') AND last_version <= $4 RETURNING id",
    )
    .bind(&now)
    .bind(&e.job_id)
    .bind(e.key.to_string())
    .bind(e.version)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = resolved {
        sqlx::query(
            "UPDATE dead_letters SET state = 'resolved', resolved_at = $1 WHERE incident_id = $2 AND state = 'open'",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The key of incident `id`, or why it cannot be acted on ([`filing::actionable`]).
pub(crate) async fn active(conn: &mut PgConnection, id: i64) -> Result<String, StoreError> {
    let row = sqlx::query_as("SELECT key, state FROM incidents WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    filing::actionable(id, row)
}

/// Discards incident `id` and its open dead letters with `note`.
pub(crate) async fn discard(
    conn: &mut PgConnection,
    id: i64,
    note: String,
    by: String,
) -> Result<IncidentDiscarded, StoreError> {
    active(conn, id).await?;
    let at = now_fixed();
    sqlx::query(
        "UPDATE incidents SET state = 'discarded', closed_at = $1, note = $2, discarded_by = $3 WHERE id = $4",
    )
    .bind(&at)
    .bind(&note)
    .bind(&by)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let dead_letters: Vec<i64> = sqlx::query_scalar(
        "UPDATE dead_letters SET state = 'discarded', resolved_at = $1, note = $2 \
         WHERE incident_id = $3 AND state = 'open' RETURNING id",
    )
    .bind(&at)
    .bind(filing::discard_note(&note, id, &by))
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(IncidentDiscarded {
        incident: id,
        note,
        by,
        at,
        dead_letters,
    })
}
