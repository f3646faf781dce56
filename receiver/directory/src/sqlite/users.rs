//! User writes of the SQLite directory; each runs inside the writer's batch transaction.

use serde_json::Value;
use splashsync_scim::now_rfc3339;
use sqlx::SqliteConnection;

use super::jobs::{user_job, user_job_in_group};
use super::read::{load_user, user_columns_of};
use crate::error::StoreError;
use crate::model::{UserRecord, WriteCtx};
use crate::store::UserEdit;

pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

fn taken(user_name: &str) -> StoreError {
    StoreError::UserNameTaken(user_name.to_string())
}

/// Checks `If-Match` against the current version.
pub(crate) fn check_version(if_match: Option<i64>, current: i64) -> Result<(), StoreError> {
    match if_match {
        Some(v) if v != current => Err(StoreError::PreconditionFailed { current }),
        _ => Ok(()),
    }
}

/// Inserts a new user and its first job.
pub(crate) async fn create(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    record: UserRecord,
) -> Result<UserRecord, StoreError> {
    let (external_id, display_name) = user_columns_of(&record.resource);
    let inserted = sqlx::query(
        "INSERT INTO users (id, user_name, user_name_key, external_id, display_name, resource, version, created, last_modified) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(taken(&record.user_name)),
        other => other?,
    };
    user_job_in_group(conn, cx, &record, None, false).await?;
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
    let user_name = resource
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or(&current.user_name)
        .to_string();
    let (external_id, display_name) = user_columns_of(&resource);
    let record = UserRecord {
        id: current.id.clone(),
        user_name,
        resource,
        version: current.version + 1,
        created: current.created.clone(),
        last_modified: now_rfc3339(),
        groups: current.groups,
    };
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
    user_job(conn, cx, &record, false).await?;
    Ok(record)
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
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    current.version += 1;
    user_job(conn, cx, &current, true).await
}
