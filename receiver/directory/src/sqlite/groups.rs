//! Group writes of the SQLite directory; each runs inside the writer's batch
//! transaction. What a write changes is planned by [`crate::plan`], who counts under the
//! one-group rule by [`crate::policy`]; this module loads and persists.

use splashsync_scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use super::memberships;
use super::outbox::insert_job;
use super::read::load_group;
use super::users::touch;
use super::{check_version, is_unique_violation};
use crate::error::StoreError;
use crate::model::{GroupRecord, WriteCtx};
use crate::plan::{self, group_update, group_write};
use crate::rows::external_id;
use crate::store::GroupEdit;

fn name_taken(name: &str) -> StoreError {
    StoreError::GroupNameTaken(name.to_string())
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("Group {id:?}"))
}

/// The names a group had before, newest first.
pub(crate) async fn former_names(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Vec<String>, StoreError> {
    let row = sqlx::query("SELECT former_names FROM groups WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(serde_json::from_str(&row.try_get::<String, _>("former_names")?).unwrap_or_default())
}

/// Inserts a group, its group job and its members' user jobs.
pub(crate) async fn create(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    mut record: GroupRecord,
    members: Vec<String>,
) -> Result<GroupRecord, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO groups (id, display_name, display_name_key, external_id, resource, version, created, last_modified) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&record.id)
    .bind(&record.display_name)
    .bind(record.display_name.to_lowercase())
    .bind(external_id(&record.resource))
    .bind(record.resource.to_string())
    .bind(record.version)
    .bind(&record.created)
    .bind(&record.last_modified)
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&record.display_name)),
        other => other?,
    };
    insert_job(conn, &group_write::created_job(cx, &record)).await?;
    let members = plan::unique(members);
    let joined = memberships::joined(conn, &members).await?;
    memberships::add(conn, cx, &record.id, &members, &joined).await?;
    let this = group_write::group_ref(&record.id, &record.display_name);
    let groups = plan::groups_after(cx.policy, &this, joined, &[], &members);
    let touched = touch(conn, cx, &members, groups).await?;
    record.members = group_write::members_after(Vec::new(), &members, &touched);
    Ok(record)
}

/// Applies `edit` to a group: body, name and members. What the write leaves (each user's
/// group, the members) is computed from what it read, not read back: a write of 20,000
/// members reads each of them once.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
    edit: GroupEdit,
) -> Result<GroupRecord, StoreError> {
    let current = load_group(conn, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_version(if_match, current.version)?;
    let change = edit(&current).map_err(StoreError::Rejected)?;
    let former = former_names(conn, id).await?;
    let Some(update) = group_update(&current, former, &change) else {
        return Ok(current);
    };
    let last_modified = now_rfc3339();
    let updated = sqlx::query(
        "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, resource = ?, former_names = ?, \
         version = ?, last_modified = ? WHERE id = ?",
    )
    .bind(&update.display_name)
    .bind(update.display_name.to_lowercase())
    .bind(external_id(&change.resource))
    .bind(change.resource.to_string())
    .bind(serde_json::to_string(&update.former_names).unwrap_or_else(|_| "[]".into()))
    .bind(update.version)
    .bind(&last_modified)
    .bind(id)
    .execute(&mut *conn)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&update.display_name)),
        other => other?,
    };
    let this = group_write::group_ref(id, &update.display_name);
    let read = update.read_ids();
    let joined = memberships::joined(conn, &read).await?;
    if let Some(job) = update.rename_job(cx, id) {
        insert_job(conn, &job).await?;
    }
    let counted = update.counted(cx.policy, id, &joined);
    memberships::remove(conn, id, &update.removed).await?;
    memberships::add(conn, cx, id, &update.added, &joined).await?;
    let groups = plan::groups_after(cx.policy, &this, joined, &update.removed, &update.added);
    // Unresolved ids among the touched match no user: they get no version and no job.
    let touched = touch(conn, cx, &update.touched(counted), groups).await?;
    Ok(update.record(current, change.resource, last_modified, &touched))
}

/// Deletes a group, writes its `deleted` job and its former members' jobs.
pub(crate) async fn delete(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let mut current = load_group(conn, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_version(if_match, current.version)?;
    let former = former_names(conn, id).await?;
    let members = group_write::resolved_ids(std::mem::take(&mut current.members));
    let joined = memberships::joined(conn, &members).await?;
    sqlx::query("DELETE FROM groups WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_job(conn, &group_write::deleted_job(cx, &current, former)).await?;
    let this = group_write::group_ref(id, &current.display_name);
    let groups = plan::groups_after(cx.policy, &this, joined, &members, &[]);
    touch(conn, cx, &members, groups).await.map(drop)
}
