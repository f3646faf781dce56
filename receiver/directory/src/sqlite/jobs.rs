//! The jobs a write implies, computed inside the write's transaction so that the
//! directory change and its jobs commit together (invariant 1).

use std::collections::HashMap;
use std::sync::Arc;

use splashsync_protocol::job::{GroupJob, GroupRef, GroupState, Job, JobMeta, UserJob};
use splashsync_protocol::JobKey;
use splashsync_scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use crate::error::StoreError;
use crate::model::{GroupPolicy, UserRecord, WriteCtx};
use crate::plan::desired_state;

fn encode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Encode(Box::new(e))))
}

/// Inserts a job into the outbox.
pub(crate) async fn insert_job(conn: &mut SqliteConnection, job: &Job) -> Result<(), StoreError> {
    insert_jobs(conn, std::slice::from_ref(job)).await
}

/// Rows per multi-row INSERT: 8 parameters each stays far under SQLite's limit.
const ROWS_PER_INSERT: usize = 100;

/// Inserts jobs into the outbox in commit order, many rows per statement.
pub(crate) async fn insert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[Job],
) -> Result<(), StoreError> {
    for chunk in jobs.chunks(ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) VALUES {rows}");
        let mut q = sqlx::query(&sql);
        for job in chunk {
            let meta = job.meta();
            let kind = match job {
                Job::UserV1(_) => "UserV1",
                Job::GroupV1(_) => "GroupV1",
            };
            q = q
                .bind(meta.job_id.clone())
                .bind(meta.key.to_string())
                .bind(job.route())
                .bind(kind)
                .bind(meta.version)
                .bind(serde_json::to_string(job).map_err(encode_error)?)
                .bind(meta.origin.clone())
                .bind(meta.created_at.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `?, ?, …` for `n` parameters.
pub(crate) fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Bound parameters per IN list.
pub(crate) const IN_CHUNK: usize = 500;

/// The group that decides each user's Splashtop group under `policy`.
pub(crate) async fn effective_groups(
    conn: &mut SqliteConnection,
    user_ids: &[String],
    policy: GroupPolicy,
) -> Result<HashMap<String, GroupRef>, StoreError> {
    let mut out = HashMap::new();
    for chunk in user_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id IN ({}) ORDER BY m.seq",
            marks(chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let user: String = row.try_get("user_id")?;
            let group = GroupRef {
                group_id: row.try_get("id")?,
                display_name: row.try_get("display_name")?,
            };
            match policy {
                // Rows come in joining order: the last one seen is the latest.
                GroupPolicy::Move => {
                    out.insert(user, group);
                }
                GroupPolicy::Reject | GroupPolicy::First => {
                    out.entry(user).or_insert(group);
                }
            }
        }
    }
    Ok(out)
}

fn meta(cx: &WriteCtx, key: JobKey, version: i64) -> JobMeta {
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
pub(crate) async fn effective_group(
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
pub(crate) async fn user_job(
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
pub(crate) async fn user_job_in_group(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: &UserRecord,
    group: Option<GroupRef>,
    deleted: bool,
) -> Result<(), StoreError> {
    let mut state = desired_state(record, group);
    state.deleted = deleted;
    let job = Job::UserV1(UserJob {
        meta: meta(cx, JobKey::user(&cx.tenant, &record.id), record.version),
        state,
    });
    insert_job(conn, &job).await
}

/// Bumps the versions of users whose desired state changed through a group and writes
/// their jobs: a handful of statements whatever the number of users.
pub(crate) async fn touch_users(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    user_ids: &[String],
) -> Result<(), StoreError> {
    if user_ids.is_empty() {
        return Ok(());
    }
    let now = now_rfc3339();
    let mut records = Vec::with_capacity(user_ids.len());
    for chunk in user_ids.chunks(IN_CHUNK) {
        let sql = format!(
            "UPDATE users SET version = version + 1, last_modified = ? WHERE id IN ({}) \
             RETURNING id, user_name, resource, version, created, last_modified",
            marks(chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(&now);
        for id in chunk {
            q = q.bind(id);
        }
        for row in q.fetch_all(&mut *conn).await? {
            records.push(super::read::user_from_row(&row)?);
        }
    }
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let mut groups = effective_groups(conn, &ids, cx.policy).await?;
    let jobs: Vec<Job> = records
        .iter()
        .map(|record| {
            Job::UserV1(UserJob {
                meta: meta(cx, JobKey::user(&cx.tenant, &record.id), record.version),
                state: desired_state(record, groups.remove(&record.id)),
            })
        })
        .collect();
    insert_jobs(conn, &jobs).await
}

/// Writes a group job.
pub(crate) async fn group_job(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    display_name: &str,
    former_names: Vec<String>,
    version: i64,
    deleted: bool,
) -> Result<(), StoreError> {
    let job = Job::GroupV1(GroupJob {
        meta: meta(cx, JobKey::group(&cx.tenant, group_id), version),
        state: GroupState {
            group_id: group_id.to_string(),
            display_name: display_name.to_string(),
            former_names,
            deleted,
        },
    });
    insert_job(conn, &job).await
}
