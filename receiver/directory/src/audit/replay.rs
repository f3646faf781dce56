//! Replaying a dead letter: a fresh job for its key with the key's **current** directory
//! state (docs/DESIGN.md, invariant 4), never the dead letter's stale body. The job goes into the outbox
//! in the same transaction that marks the dead letter replayed, so the relay publishes
//! it in commit order after any job already waiting for the key: per-key order is kept.
//! An incident is replayed the same way, once, however many dead letters it holds.

use splashsync_protocol::job::Job;
use splashsync_protocol::JobKey;
use sqlx::SqliteConnection;

use super::changes;
use super::fresh::{self, Letter, Source};
use super::intake::set_state;
use super::{now_fixed, IncidentReplayed, Replayed};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::sqlite::outbox::insert_job;
use crate::sqlite::read::load_user;
use crate::sqlite::users::current_job;

/// Replays dead letter `id` (runs inside the writer's transaction); its incident, if still
/// open, is then being replayed by the same job.
pub(crate) async fn replay(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: i64,
) -> Result<Replayed, StoreError> {
    let row = sqlx::query("SELECT key, state, payload, incident_id FROM dead_letters WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Letter {
        key,
        payload,
        incident,
    } = Letter::open(id, row.as_ref())?;
    let what = format!("dead letter {id}");
    let (job_id, version) = fresh_job(conn, cx, &key, &what, &payload).await?;
    mark_replayed(conn, "id = ?", id, &job_id).await?;
    if let Some(incident) = incident {
        mark_incident_replaying(conn, incident, &job_id).await?;
    }
    Ok(Replayed {
        id,
        job_id,
        key,
        version,
    })
}

/// Replays incident `id`: one fresh job with its key's current state, whatever the number
/// of dead letters under it; they are all marked replayed by that job.
pub(crate) async fn replay_incident(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: i64,
) -> Result<IncidentReplayed, StoreError> {
    let key = super::incidents::active(conn, id).await?;
    let payload: Option<String> = sqlx::query_scalar(
        "SELECT payload FROM dead_letters WHERE incident_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let what = format!("incident {id}");
    let (job_id, version) =
        fresh_job(conn, cx, &key, &what, payload.as_deref().unwrap_or("")).await?;
    let dead_letters =
        mark_replayed(conn, "incident_id = ? AND state = 'open'", id, &job_id).await?;
    mark_incident_replaying(conn, id, &job_id).await?;
    Ok(IncidentReplayed {
        incident: id,
        key,
        job_id,
        version,
        dead_letters,
    })
}

async fn mark_replayed(
    conn: &mut SqliteConnection,
    which: &str,
    id: i64,
    job_id: &str,
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "UPDATE dead_letters SET state = 'replayed', resolved_at = ?, replay_job_id = ? WHERE {which} RETURNING id"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(now_fixed())
        .bind(job_id)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?)
}

async fn mark_incident_replaying(
    conn: &mut SqliteConnection,
    id: i64,
    job_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE incidents SET state = 'replaying', replay_job_id = ?, replayed_at = ? \
         WHERE id = ? AND state IN ('open', 'replaying')",
    )
    .bind(job_id)
    .bind(now_fixed())
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes a fresh job for `key` with its current directory state (or "deleted", built
/// from `payload`, when the key is gone) and marks the key pending; `what` names the dead
/// letter or incident replayed, for the job's origin and errors.
async fn fresh_job(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    key: &str,
    what: &str,
    payload: &str,
) -> Result<(String, i64), StoreError> {
    let (parsed, cx) = fresh::replay_of(cx, key, what)?;
    let object_id = parsed.id();
    let written = match Source::of(&parsed) {
        Source::User => match load_user(conn, object_id).await? {
            Some(record) => {
                current_job(conn, &cx, &record).await?;
                true
            }
            None => false,
        },
        Source::Group => {
            let group =
                sqlx::query("SELECT display_name, former_names, version FROM groups WHERE id = ?")
                    .bind(object_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if let Some(g) = &group {
                insert_job(conn, &fresh::group_job(&cx, &parsed, g)?).await?;
            }
            group.is_some()
        }
        Source::Retired => false,
    };
    if !written {
        gone(conn, &cx, &parsed, what, payload).await?;
    }
    let (job_id, version): (String, i64) = sqlx::query_as(
        "SELECT job_id, version FROM outbox WHERE key = ? ORDER BY seq DESC LIMIT 1",
    )
    .bind(key)
    .fetch_one(&mut *conn)
    .await?;
    set_state(conn, changes::pending(key, &parsed, version)).await?;
    Ok((job_id, version))
}

/// The key is no longer in the directory: writes its "deleted" job
/// ([`fresh::gone_job`]) at the key's latest version.
async fn gone(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    key: &JobKey,
    what: &str,
    payload: &str,
) -> Result<(), StoreError> {
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM outbox WHERE key = ?")
        .bind(key.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let stale: Option<Job> = serde_json::from_str(payload).ok();
    insert_job(conn, &fresh::gone_job(cx, key, what, stale, latest)?).await
}
