//! The jobs a write implies, computed inside the write's transaction so that the
//! directory change and its jobs commit together (invariant 1).

use std::sync::Arc;

use splashsync_shared::job::{
    group_key, user_key, GroupJob, GroupRef, GroupState, Job, JobMeta, UserJob,
};
use splashsync_shared::scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use super::{GroupPolicy, StoreError, UserRecord, WriteCtx};
use crate::user::desired_state;

fn encode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e))))
}

/// Inserts a job into the outbox.
pub async fn insert_job(conn: &mut SqliteConnection, job: &Job) -> Result<(), StoreError> {
    let meta = job.meta();
    let payload = serde_json::to_string(job).map_err(encode_error)?;
    let kind = match job {
        Job::UserV1(_) => "UserV1",
        Job::GroupV1(_) => "GroupV1",
    };
    sqlx::query(
        "INSERT INTO outbox (job_id, key, kind, version, payload, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&meta.job_id)
    .bind(&meta.key)
    .bind(kind)
    .bind(meta.version)
    .bind(payload)
    .bind(&meta.origin)
    .bind(&meta.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn meta(cx: &WriteCtx, key: String, version: i64) -> JobMeta {
    JobMeta {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant: cx.tenant.to_string(),
        key,
        version,
        created_at: now_rfc3339(),
        origin: cx.origin.clone(),
    }
}

/// The group that decides a user's Splashtop group under `policy`, if any.
pub async fn effective_group(
    conn: &mut SqliteConnection,
    user_id: &str,
    policy: GroupPolicy,
) -> Result<Option<GroupRef>, StoreError> {
    let order = match policy {
        GroupPolicy::Move => "DESC",
        GroupPolicy::Reject | GroupPolicy::First => "ASC",
    };
    let row = sqlx::query(&format!(
        "SELECT g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ? ORDER BY m.seq {order} LIMIT 1"
    ))
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(GroupRef {
            group_id: r.try_get("id")?,
            display_name: r.try_get("display_name")?,
        })
    })
    .transpose()
}

/// Writes the job carrying `record`'s desired state (its version is the job's), reading
/// its Splashtop group from the memberships.
pub async fn user_job(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: &UserRecord,
    deleted: bool,
) -> Result<(), StoreError> {
    let group = if deleted {
        None
    } else {
        effective_group(conn, &record.id, cx.policy).await?
    };
    user_job_in_group(conn, cx, record, group, deleted).await
}

/// Writes the job carrying `record`'s desired state in `group` (a new user has none:
/// the create path skips the membership lookup).
pub async fn user_job_in_group(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: &UserRecord,
    group: Option<GroupRef>,
    deleted: bool,
) -> Result<(), StoreError> {
    let mut state = desired_state(record, group);
    state.deleted = deleted;
    let job = Job::UserV1(UserJob {
        meta: meta(cx, user_key(&cx.tenant, &record.id), record.version),
        state,
    });
    insert_job(conn, &job).await
}

/// Bumps a user's version (its desired state changed through a group) and writes its job.
pub async fn touch_user(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    user_id: &str,
) -> Result<(), StoreError> {
    let now = now_rfc3339();
    let row = sqlx::query(
        "UPDATE users SET version = version + 1, last_modified = ? WHERE id = ? \
         RETURNING id, user_name, resource, version, created, last_modified",
    )
    .bind(&now)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let record = super::sqlite::user_from_row(&row)?;
    user_job(conn, cx, &record, false).await
}

/// Writes a group job.
pub async fn group_job(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    display_name: &str,
    former_names: Vec<String>,
    version: i64,
    deleted: bool,
) -> Result<(), StoreError> {
    let job = Job::GroupV1(GroupJob {
        meta: meta(cx, group_key(&cx.tenant, group_id), version),
        state: GroupState {
            group_id: group_id.to_string(),
            display_name: display_name.to_string(),
            former_names,
            deleted,
        },
    });
    insert_job(conn, &job).await
}
