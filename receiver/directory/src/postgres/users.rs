//! User writes of the PostgreSQL directory; each runs inside its request's transaction.
//! The plan ([`crate::plan`]) is SQLite's; this module loads and persists.

use std::collections::HashMap;

use splashsync_protocol::job::GroupRef;
use splashsync_scim::now_rfc3339;
use sqlx::{PgConnection, PgPool, Row};

use super::memberships::effective_groups;
use super::outbox::{insert_job, insert_jobs, JobRow};
use super::read::load_user_for_update;
use super::{check_version, is_unique_violation};
use crate::error::StoreError;
use crate::model::{UserRecord, WriteCtx};
use crate::plan;
use crate::rows::{user as user_from_row, user_columns_of};
use crate::store::UserEdit;

fn taken(user_name: &str) -> StoreError {
    StoreError::UserNameTaken(user_name.to_string())
}

/// The incarnation under which user `id` holds its account (`None`: since its create).
async fn incarnation(conn: &mut PgConnection, id: &str) -> Result<Option<String>, StoreError> {
    let held: Option<Option<String>> =
        sqlx::query_scalar("SELECT incarnation FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(held.flatten())
}

/// The Splashtop group of a user, read from the memberships.
async fn group_of(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
) -> Result<Option<GroupRef>, StoreError> {
    let ids = [id.to_string()];
    Ok(effective_groups(conn, &ids, cx.policy).await?.remove(id))
}

/// Writes the job carrying `record`'s desired state under the incarnation it `held` its
/// account by, its Splashtop group read from the memberships (none once deleted).
async fn write_job(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    record: &UserRecord,
    deleted: bool,
    held: Option<String>,
) -> Result<(), StoreError> {
    let group = match deleted {
        true => None,
        false => group_of(conn, cx, &record.id).await?,
    };
    insert_job(conn, &plan::user_job(cx, record, group, deleted, held)).await
}

/// The job of a user as the directory holds it now (a dead letter's replay).
pub(crate) async fn current_job(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    record: &UserRecord,
) -> Result<(), StoreError> {
    let held = incarnation(conn, &record.id).await?;
    write_job(conn, cx, record, false, held).await
}

/// Bumps the versions of users whose desired state changed through a group write and
/// writes their jobs, each in its Splashtop group from `groups`; ids that are no user are
/// skipped. The caller locked the rows ([`super::memberships::lock_users`]).
pub(crate) async fn touch(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    user_ids: &[String],
    groups: HashMap<String, GroupRef>,
) -> Result<Vec<UserRecord>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "WITH t AS (UPDATE users SET version = version + 1, last_modified = $1 WHERE id = ANY($2) \
         RETURNING row, id, user_name, resource::text AS resource, version, created, last_modified, \
         incarnation) \
         SELECT id, user_name, resource, version, created, last_modified, incarnation FROM t ORDER BY row",
    )
    .bind(now_rfc3339())
    .bind(user_ids)
    .fetch_all(&mut *conn)
    .await?;
    let mut incarnations = HashMap::new();
    for row in &rows {
        if let Some(held) = row.try_get::<Option<String>, _>("incarnation")? {
            incarnations.insert(row.try_get::<String, _>("id")?, held);
        }
    }
    let records = rows
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    insert_jobs(conn, &plan::user_jobs(cx, &records, groups, incarnations)).await?;
    Ok(records)
}

/// Inserts a new user and its first job in one statement (atomic on its own: one round
/// trip on the create hot path, no BEGIN/COMMIT). A concurrent create of the same userName
/// on another receiver waits on the unique index and then fails here: one wins, and the
/// loser wrote nothing.
pub(crate) async fn create(
    pool: &PgPool,
    cx: &WriteCtx,
    record: UserRecord,
) -> Result<UserRecord, StoreError> {
    let (external_id, display_name) = user_columns_of(&record.resource);
    // A new user is in no group yet: no membership lookup.
    let job = JobRow::of(&plan::user_job(cx, &record, None, false, None))?;
    let inserted = sqlx::query(
        "WITH u AS (INSERT INTO users (id, user_name, user_name_key, external_id, display_name, resource, \
         version, created, last_modified) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)) \
         INSERT INTO outbox (job_id, key, route, kind, version, payload, origin, created_at) \
         VALUES ($10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(&record.id)
    .bind(&record.user_name)
    .bind(record.user_name.to_lowercase())
    .bind(external_id)
    .bind(display_name)
    .bind(record.resource.to_string())
    .bind(record.version)
    .bind(&record.created)
    .bind(&record.last_modified)
    .bind(&job.job_id)
    .bind(&job.key)
    .bind(&job.route)
    .bind(job.kind)
    .bind(job.version)
    .bind(&job.payload)
    .bind(&job.origin)
    .bind(&job.created_at)
    .execute(pool)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => Err(taken(&record.user_name)),
        other => other.map(|_| record).map_err(StoreError::from),
    }
}

/// Replaces a user's body with what `edit` makes of it; the row is locked from the read
/// on, so `if_match` compares with the version no other receiver can change meanwhile.
pub(crate) async fn update(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
    edit: UserEdit,
) -> Result<UserRecord, StoreError> {
    let current = load_user_for_update(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("User {id:?}")))?;
    check_version(if_match, current.version)?;
    let resource = edit(&current).map_err(StoreError::Rejected)?;
    if resource == current.resource {
        return Ok(current);
    }
    let (before, record) = plan::replaced_user(current, resource, now_rfc3339());
    let (external_id, display_name) = user_columns_of(&record.resource);
    let updated = sqlx::query(
        "UPDATE users SET user_name = $1, user_name_key = $2, external_id = $3, display_name = $4, \
         resource = $5::jsonb, version = $6, last_modified = $7 WHERE id = $8",
    )
    .bind(&record.user_name)
    .bind(record.user_name.to_lowercase())
    .bind(external_id)
    .bind(display_name)
    .bind(record.resource.to_string())
    .bind(record.version)
    .bind(&record.last_modified)
    .bind(&record.id)
    .execute(&mut *conn)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(taken(&record.user_name)),
        other => other?,
    };
    let held = incarnation(conn, &record.id).await?;
    if plan::account_change(&before, &record).is_some() {
        reinvite(conn, cx, &before, &record, held).await?;
    } else {
        write_job(conn, cx, &record, false, held).await?;
    }
    Ok(record)
}

/// A change of the user's Splashtop account (only the rename policy `reinvite` lets one
/// through): the user takes the new account as a new incarnation, minted now and kept,
/// and two jobs go out in this transaction: the invite of the new account and the
/// retirement of the old one (docs/DESIGN.md, invariant 5).
async fn reinvite(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    current: &UserRecord,
    record: &UserRecord,
    held: Option<String>,
) -> Result<(), StoreError> {
    let minted = uuid::Uuid::now_v7().to_string();
    sqlx::query("UPDATE users SET incarnation = $1 WHERE id = $2")
        .bind(&minted)
        .bind(&record.id)
        .execute(&mut *conn)
        .await?;
    let group = group_of(conn, cx, &record.id).await?;
    if let Some(jobs) = plan::reinvite_jobs(cx, current, record, group, held, minted) {
        insert_jobs(conn, &jobs).await?;
    }
    Ok(())
}

/// Deletes a user (its memberships go with it) and writes its `deleted` job.
pub(crate) async fn delete(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let mut current = load_user_for_update(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("User {id:?}")))?;
    check_version(if_match, current.version)?;
    let held = incarnation(conn, id).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    current.version += 1;
    write_job(conn, cx, &current, true, held).await
}
