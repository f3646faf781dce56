//! Group writes of the PostgreSQL directory; each runs inside its request's transaction.
//! What a write changes is planned by [`crate::plan`] and judged by [`crate::policy`], as
//! on SQLite. The group's row is locked first, then its members' rows in id order
//! ([`memberships::lock_users`]): If-Match and the one-group policy see what every other
//! receiver committed.

use splashsync_scim::now_rfc3339;
use sqlx::PgConnection;

use super::memberships::{self, lock_users};
use super::outbox::insert_job;
use super::read::load_group_for_update;
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
    conn: &mut PgConnection,
    id: &str,
) -> Result<Vec<String>, StoreError> {
    let names: String = sqlx::query_scalar("SELECT former_names::text FROM groups WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(serde_json::from_str(&names).unwrap_or_default())
}

/// Inserts a group, its group job and its members' user jobs.
pub(crate) async fn create(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    mut record: GroupRecord,
    members: Vec<String>,
) -> Result<GroupRecord, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO groups (id, display_name, display_name_key, external_id, resource, version, created, last_modified) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8)",
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
    lock_users(conn, &members).await?;
    let joined = memberships::joined(conn, &members).await?;
    memberships::add(conn, cx, &record.id, &members, &joined).await?;
    let this = group_write::group_ref(&record.id, &record.display_name);
    let groups = plan::groups_after(cx.policy, &this, joined, &[], &members);
    let touched = touch(conn, cx, &members, groups).await?;
    record.members = group_write::members_after(Vec::new(), &members, &touched);
    Ok(record)
}

/// Applies `edit` to a group: body, name and members.
pub(crate) async fn update(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
    edit: GroupEdit,
) -> Result<GroupRecord, StoreError> {
    let current = load_group_for_update(conn, id, true)
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
        "UPDATE groups SET display_name = $1, display_name_key = $2, external_id = $3, resource = $4::jsonb, \
         former_names = $5::jsonb, version = $6, last_modified = $7 WHERE id = $8",
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
    lock_users(conn, &read).await?;
    let joined = memberships::joined(conn, &read).await?;
    if let Some(job) = update.rename_job(cx, id) {
        insert_job(conn, &job).await?;
    }
    let counted = update.counted(cx.policy, id, &joined);
    memberships::remove(conn, id, &update.removed).await?;
    memberships::add(conn, cx, id, &update.added, &joined).await?;
    let groups = plan::groups_after(cx.policy, &this, joined, &update.removed, &update.added);
    let touched = touch(conn, cx, &update.touched(counted), groups).await?;
    Ok(update.record(current, change.resource, last_modified, &touched))
}

/// Deletes a group, writes its `deleted` job and its former members' jobs.
pub(crate) async fn delete(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let mut current = load_group_for_update(conn, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_version(if_match, current.version)?;
    let former = former_names(conn, id).await?;
    let members = group_write::resolved_ids(std::mem::take(&mut current.members));
    lock_users(conn, &members).await?;
    let joined = memberships::joined(conn, &members).await?;
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_job(conn, &group_write::deleted_job(cx, &current, former)).await?;
    let this = group_write::group_ref(id, &current.display_name);
    let groups = plan::groups_after(cx.policy, &this, joined, &members, &[]);
    touch(conn, cx, &members, groups).await.map(drop)
}
