//! Replaying a dead letter on PostgreSQL: a fresh job for its key with the key's current
//! directory state (docs/DESIGN.md, invariant 4), written in the transaction that marks
//! the dead letter replayed. The dead letter's row and the resource's row are locked, so
//! two operators replaying on two receivers write one job.

use splashsync_protocol::job::{GroupState, Job, JobMeta};
use splashsync_protocol::{JobKey, KeyKind};
use sqlx::{PgConnection, Row};

use super::intake::{set_state, StateChange};
use crate::audit::{now_fixed, state, Replayed};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::plan;
use crate::postgres::outbox::insert_job;
use crate::postgres::read::load_user_for_update;
use crate::postgres::users::current_job;

fn unreplayable(detail: impl Into<String>) -> StoreError {
    StoreError::Unreplayable(detail.into())
}

/// Replays dead letter `id` (inside its request's transaction).
pub(crate) async fn replay(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: i64,
) -> Result<Replayed, StoreError> {
    let row = sqlx::query("SELECT key, state, payload FROM dead_letters WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("dead letter {id}")))?;
    let key: String = row.try_get("key")?;
    let current: String = row.try_get("state")?;
    let payload: String = row.try_get("payload")?;
    if current != "open" {
        return Err(StoreError::AlreadyResolved { id, state: current });
    }
    let parsed = JobKey::parse(&key).ok_or_else(|| {
        unreplayable(format!(
            "dead letter {id} has no usable job key ({key:?}); discard it instead"
        ))
    })?;
    let cx = WriteCtx {
        tenant: parsed.tenant().clone(),
        origin: format!("replay of dead letter {id}"),
        policy: cx.policy,
    };
    let stale: Option<Job> = serde_json::from_str(&payload).ok();
    let object_id = parsed.id();
    if parsed.kind() == KeyKind::User {
        match load_user_for_update(conn, object_id).await? {
            Some(record) => current_job(conn, &cx, &record).await?,
            None => gone(conn, &cx, &parsed, id, stale).await?,
        }
    } else {
        let group = sqlx::query(
            "SELECT display_name, former_names::text AS former_names, version FROM groups WHERE id = $1 FOR UPDATE",
        )
        .bind(object_id)
        .fetch_optional(&mut *conn)
        .await?;
        match group {
            Some(g) => {
                let former: String = g.try_get("former_names")?;
                let state = GroupState {
                    group_id: object_id.to_string(),
                    display_name: g.try_get("display_name")?,
                    former_names: serde_json::from_str(&former).unwrap_or_default(),
                    deleted: false,
                };
                let version: i64 = g.try_get("version")?;
                insert_job(conn, &plan::group_job(&cx, state, version)).await?;
            }
            None => gone(conn, &cx, &parsed, id, stale).await?,
        }
    }
    let fresh =
        sqlx::query("SELECT job_id, version FROM outbox WHERE key = $1 ORDER BY seq DESC LIMIT 1")
            .bind(&key)
            .fetch_one(&mut *conn)
            .await?;
    let job_id: String = fresh.try_get("job_id")?;
    let version: i64 = fresh.try_get("version")?;
    sqlx::query("UPDATE dead_letters SET state = 'replayed', resolved_at = $1, replay_job_id = $2 WHERE id = $3")
        .bind(now_fixed())
        .bind(&job_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    set_state(
        conn,
        StateChange {
            key: &key,
            tenant: parsed.tenant().as_str(),
            kind: parsed.kind().as_str(),
            state: state::PENDING,
            version,
            last_error: None,
            splashtop_id: None,
        },
    )
    .await?;
    Ok(Replayed {
        id,
        job_id,
        key,
        version,
    })
}

/// The key is no longer in the directory: its current state is "deleted", at the key's
/// latest version, built from the dead letter's body for the names Splashtop needs.
async fn gone(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    key: &JobKey,
    id: i64,
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
            j.state.deleted = true;
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
                "dead letter {id}: {key} is no longer in the directory and the dead letter's body is not a job; discard it instead"
            )))
        }
    };
    insert_job(conn, &job).await
}
