//! Replaying on PostgreSQL (SQLite's `crate::audit::replay`, ported): a fresh job for the
//! key with its current directory state (docs/DESIGN.md, invariant 4), written in the
//! transaction that marks the dead letter (or the incident and its dead letters) replayed.
//! The dead letter's, the incident's and the resource's rows are locked, so two operators
//! replaying on two receivers write one job.

use splashsync_protocol::job::{GroupState, Job, JobMeta};
use splashsync_protocol::{JobKey, KeyKind};
use sqlx::{PgConnection, Row};

use super::intake::{set_state, StateChange};
use crate::audit::{now_fixed, state, IncidentReplayed, Replayed};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::plan;
use crate::postgres::outbox::insert_job;
use crate::postgres::read::load_user_for_update;
use crate::postgres::users::current_job;

fn unreplayable(detail: impl Into<String>) -> StoreError {
    StoreError::Unreplayable(detail.into())
}

/// Replays dead letter `id` (runs inside the writer's transaction); its incident, if still
/// open, is then being replayed by the same job.
pub(crate) async fn replay(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: i64,
) -> Result<Replayed, StoreError> {
    let row = sqlx::query(
        "SELECT key, state, payload, incident_id FROM dead_letters WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
    let key: String = row.try_get("key")?;
    let current: String = row.try_get("state")?;
    let payload: String = row.try_get("payload")?;
    let incident: Option<i64> = row.try_get("incident_id")?;
    if current != "open" {
        return Err(StoreError::AlreadyResolved { id, state: current });
    }
    let what = format!("dead letter {id}");
    let (job_id, version) = fresh_job(conn, cx, &key, &what, &payload).await?;
    mark_replayed(conn, "id = $3", id, &job_id).await?;
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
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: i64,
) -> Result<IncidentReplayed, StoreError> {
    let key = super::incidents::active(conn, id).await?;
    let payload: Option<String> = sqlx::query_scalar(
        "SELECT payload FROM dead_letters WHERE incident_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let what = format!("incident {id}");
    let (job_id, version) =
        fresh_job(conn, cx, &key, &what, payload.as_deref().unwrap_or("")).await?;
    let dead_letters =
        mark_replayed(conn, "incident_id = $3 AND state = 'open'", id, &job_id).await?;
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
    conn: &mut PgConnection,
    which: &str,
    id: i64,
    job_id: &str,
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "UPDATE dead_letters SET state = 'replayed', resolved_at = $1, replay_job_id = $2 WHERE {which} RETURNING id"
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(now_fixed())
        .bind(job_id)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?)
}

async fn mark_incident_replaying(
    conn: &mut PgConnection,
    id: i64,
    job_id: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE incidents SET state = 'replaying', replay_job_id = $1, replayed_at = $2 \
         WHERE id = $3 AND state IN ('open', 'replaying')",
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
    conn: &mut PgConnection,
    cx: &WriteCtx,
    key: &str,
    what: &str,
    payload: &str,
) -> Result<(String, i64), StoreError> {
    let parsed = JobKey::parse(key).ok_or_else(|| {
        unreplayable(format!(
            "{what} has no usable job key ({key:?}); discard it instead"
        ))
    })?;
    let cx = WriteCtx {
        tenant: parsed.tenant().clone(),
        origin: format!("replay of {what}"),
        policy: cx.policy,
        verify: false,
    };
    let stale: Option<Job> = serde_json::from_str(payload).ok();
    let object_id = parsed.id();
    if parsed.retired_account().is_some() {
        // The retirement of an account its user left: still its desired state (should the
        // user hold the account again, its newer incarnation supersedes this one).
        gone(conn, &cx, &parsed, what, stale).await?;
    } else if parsed.kind() == KeyKind::User {
        match load_user_for_update(conn, object_id).await? {
            Some(record) => current_job(conn, &cx, &record).await?,
            None => gone(conn, &cx, &parsed, what, stale).await?,
        }
    } else {
        let group =
            sqlx::query("SELECT display_name, former_names::text AS former_names, version FROM groups WHERE id = $1 FOR UPDATE")
                .bind(object_id)
                .fetch_optional(&mut *conn)
                .await?;
        match group {
            Some(g) => {
                let former: String = g.try_get("former_names")?;
                let former: Vec<String> = serde_json::from_str(&former).unwrap_or_default();
                let state = GroupState {
                    group_id: object_id.to_string(),
                    display_name: g.try_get("display_name")?,
                    former_names: former,
                    deleted: false,
                };
                let version: i64 = g.try_get("version")?;
                insert_job(conn, &plan::group_job(&cx, state, version)).await?;
            }
            None => gone(conn, &cx, &parsed, what, stale).await?,
        }
    }
    let fresh =
        sqlx::query("SELECT job_id, version FROM outbox WHERE key = $1 ORDER BY seq DESC LIMIT 1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    let job_id: String = fresh.try_get("job_id")?;
    let version: i64 = fresh.try_get("version")?;
    set_state(
        conn,
        StateChange {
            key,
            tenant: parsed.tenant().as_str(),
            kind: parsed.kind().as_str(),
            state: state::PENDING,
            version,
            last_error: None,
            splashtop_id: None,
        },
    )
    .await?;
    Ok((job_id, version))
}

/// The key is no longer in the directory: its current state is "deleted", at the key's
/// latest version, built from the dead letter's body for the names Splashtop needs.
async fn gone(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    key: &JobKey,
    what: &str,
    stale: Option<Job>,
) -> Result<(), StoreError> {
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM outbox WHERE key = $1")
        .bind(key.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let meta = |old: &JobMeta| {
        plan::meta(
            cx,
            key.clone(),
            version.unwrap_or(old.version).max(old.version),
        )
    };
    let job = match stale {
        Some(Job::UserV1(mut j)) => {
            j.meta = meta(&j.meta);
            // A retirement stays a retirement (removed or deleted per the worker's mode).
            j.state.deleted = key.retired_account().is_none();
            j.state.active = false;
            j.state.group = None;
            Job::UserV1(j)
        }
        Some(Job::GroupV1(mut j)) => {
            j.meta = meta(&j.meta);
            j.state.deleted = true;
            Job::GroupV1(j)
        }
        None => {
            return Err(unreplayable(format!(
                "{what}: {key} is no longer in the directory and the dead letter's body is not a job; discard it instead"
            )))
        }
    };
    insert_job(conn, &job).await
}
