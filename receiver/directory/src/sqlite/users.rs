//! User writes of the SQLite directory; each runs inside the writer's batch transaction.

use std::collections::HashMap;

use serde_json::Value;
use splashsync_protocol::job::GroupRef;
use splashsync_scim::now_rfc3339;
use sqlx::SqliteConnection;

use super::memberships::{effective_groups, json_ids};
use super::outbox::{bind_job, insert_job, insert_jobs, INSERT_ONE};
use super::read::load_user;
use super::{check_version, decode_rows, is_unique_violation};
use crate::error::StoreError;
use crate::model::{UserRecord, WriteCtx};
use crate::plan;
use crate::rows::user_columns_of;
use crate::store::UserEdit;

fn taken(user_name: &str) -> StoreError {
    StoreError::UserNameTaken(user_name.to_string())
}

/// The incarnation under which user `id` holds its account (`None`: since its create).
async fn incarnation(conn: &mut SqliteConnection, id: &str) -> Result<Option<String>, StoreError> {
    let held: Option<Option<String>> =
        sqlx::query_scalar("SELECT incarnation FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(held.flatten())
}

/// The Splashtop group of a user, read from the memberships.
async fn group_of(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
) -> Result<Option<GroupRef>, StoreError> {
    let ids = [id.to_string()];
    Ok(effective_groups(conn, &ids, cx.policy).await?.remove(id))
}

/// Writes the job carrying `record`'s desired state under the incarnation it `held` its
/// account by, its Splashtop group read from the memberships (none once deleted).
async fn write_job(
    conn: &mut SqliteConnection,
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
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: &UserRecord,
) -> Result<(), StoreError> {
    let held = incarnation(conn, &record.id).await?;
    write_job(conn, cx, record, false, held).await
}

/// Bumps the versions of users whose desired state changed through a group write and
/// writes their jobs, each in its Splashtop group from `groups` (none when absent), in a
/// few statements whatever their number; ids that are no user are skipped. Returns the
/// users as they are now.
pub(crate) async fn touch(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    user_ids: &[String],
    groups: HashMap<String, GroupRef>,
) -> Result<Vec<UserRecord>, StoreError> {
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = json_ids(user_ids);
    sqlx::query(
        "UPDATE users SET version = version + 1, last_modified = ? WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(now_rfc3339())
    .bind(&list)
    .execute(&mut *conn)
    .await?;
    // One row holding them all: rows cross the driver one by one, at a cost per row.
    let all: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, user_name, json(resource), version, created, last_modified, incarnation)) \
         FROM users WHERE id IN (SELECT value FROM json_each(?))",
    )
    .bind(&list)
    .fetch_one(&mut *conn)
    .await?;
    type Row = (String, String, Value, i64, String, String, Option<String>);
    let mut incarnations = HashMap::new();
    let records: Vec<UserRecord> = decode_rows::<Row>(all)?
        .into_iter()
        .map(
            |(id, user_name, resource, version, created, last_modified, held)| {
                if let Some(held) = held {
                    incarnations.insert(id.clone(), held);
                }
                UserRecord {
                    id,
                    user_name,
                    resource,
                    version,
                    created,
                    last_modified,
                    groups: Vec::new(),
                    provisioning: None,
                }
            },
        )
        .collect();
    insert_jobs(conn, &plan::user_jobs(cx, &records, groups, incarnations)).await?;
    Ok(records)
}

/// The user INSERT and its job's, one query: one round trip to the connection's thread.
static CREATE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, resource, version, created, last_modified) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?); {INSERT_ONE}"
    )
});

/// Inserts a new user and its first job. The user INSERT runs first and is the only
/// statement that can fail for a reason other than a broken database (a taken userName):
/// then the job's INSERT does not run.
pub(crate) async fn create(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: UserRecord,
) -> Result<UserRecord, StoreError> {
    let (external_id, display_name) = user_columns_of(&record.resource);
    // A new user is in no group yet: no membership lookup on the create hot path.
    let job = plan::user_job(cx, &record, None, false, None);
    let query = sqlx::query(CREATE.as_str())
        .bind(&record.id)
        .bind(&record.user_name)
        .bind(record.user_name.to_lowercase())
        .bind(external_id)
        .bind(display_name)
        .bind(record.resource.to_string())
        .bind(record.version)
        .bind(&record.created)
        .bind(&record.last_modified);
    let inserted = bind_job(query, &job)?.execute(&mut *conn).await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(taken(&record.user_name)),
        other => other?,
    };
    Ok(record)
}

/// Replaces a user's body with what `edit` makes of it.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
    edit: UserEdit,
) -> Result<UserRecord, StoreError> {
    let current = load_user(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("User {id:?}")))?;
    check_version(if_match, current.version)?;
    let resource = edit(&current).map_err(StoreError::Rejected)?;
    if resource == current.resource {
        // Nothing changed: no new version, no job (Okta re-sends whole profiles often).
        return Ok(current);
    }
    let (before, record) = plan::replaced_user(current, resource, now_rfc3339());
    let (external_id, display_name) = user_columns_of(&record.resource);
    let updated = sqlx::query(
        "UPDATE users SET user_name = ?, user_name_key = ?, external_id = ?, display_name = ?, resource = ?, \
         version = ?, last_modified = ? WHERE id = ?",
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
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    current: &UserRecord,
    record: &UserRecord,
    held: Option<String>,
) -> Result<(), StoreError> {
    let minted = uuid::Uuid::now_v7().to_string();
    sqlx::query("UPDATE users SET incarnation = ? WHERE id = ?")
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
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let mut current = load_user(conn, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("User {id:?}")))?;
    check_version(if_match, current.version)?;
    let held = incarnation(conn, id).await?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    current.version += 1;
    write_job(conn, cx, &current, true, held).await
}
