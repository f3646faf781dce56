//! Group writes of the PostgreSQL directory; each runs inside its request's transaction.
//! What a write changes is planned by [`crate::plan`] and judged by [`crate::policy`], as
//! on SQLite. The group's row is locked first, then its members' rows in id order
//! ([`memberships::lock_users`]): If-Match and the one-group policy see what every other
//! receiver committed.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use splashsync_protocol::job::{GroupRef, GroupState};
use splashsync_scim::now_rfc3339;
use sqlx::PgConnection;

use super::memberships::{self, lock_users};
use super::outbox::insert_job;
use super::read::load_group_for_update;
use super::users::touch;
use super::{check_version, is_unique_violation};
use crate::error::StoreError;
use crate::model::{GroupRecord, Member, UserRecord, WriteCtx};
use crate::plan::{self, group_update};
use crate::policy;
use crate::sqlite::read::display_of;
use crate::store::GroupEdit;

fn name_taken(name: &str) -> StoreError {
    StoreError::GroupNameTaken(name.to_string())
}

fn external_id(resource: &Value) -> Option<String> {
    resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string)
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

/// The members a write leaves in the group, in joining order: those of `kept`, then the
/// `added` ids, each with the display of its user as `touched` returned it, or unresolved.
fn members_after(kept: Vec<Member>, added: &[String], touched: &[UserRecord]) -> Vec<Member> {
    let users: HashMap<&str, &UserRecord> = touched.iter().map(|u| (u.id.as_str(), u)).collect();
    let added = added.iter().map(|id| Member {
        user_id: id.clone(),
        display: users
            .get(id.as_str())
            .map(|u| display_of(u))
            .unwrap_or_default(),
        resolved: users.contains_key(id.as_str()),
    });
    kept.into_iter().chain(added).collect()
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
    let state = GroupState {
        group_id: record.id.clone(),
        display_name: record.display_name.clone(),
        former_names: Vec::new(),
        deleted: false,
    };
    insert_job(conn, &plan::group_job(cx, state, record.version)).await?;
    let members = plan::unique(members);
    lock_users(conn, &members).await?;
    let joined = memberships::joined(conn, &members).await?;
    memberships::add(conn, cx, &record.id, &members, &joined).await?;
    let this = GroupRef {
        group_id: record.id.clone(),
        display_name: record.display_name.clone(),
    };
    let groups = plan::groups_after(cx.policy, &this, joined, &[], &members);
    let touched = touch(conn, cx, &members, groups).await?;
    record.members = members_after(Vec::new(), &members, &touched);
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
    let this = GroupRef {
        group_id: id.to_string(),
        display_name: update.display_name.clone(),
    };
    let staying: &[String] = if update.renamed { &update.staying } else { &[] };
    let read: Vec<String> = [staying, &update.removed, &update.added].concat();
    lock_users(conn, &read).await?;
    let joined = memberships::joined(conn, &read).await?;
    let mut counted = Vec::new();
    if let Some(job) = update.rename_job(cx, id) {
        insert_job(conn, &job).await?;
        counted = update
            .staying
            .iter()
            .filter(|m| {
                joined
                    .get(*m)
                    .and_then(|groups| policy::effective_group(cx.policy, groups))
                    .is_some_and(|g| g.group_id == id)
            })
            .cloned()
            .collect();
    }
    memberships::remove(conn, id, &update.removed).await?;
    memberships::add(conn, cx, id, &update.added, &joined).await?;
    let groups = plan::groups_after(cx.policy, &this, joined, &update.removed, &update.added);
    let touched = touch(conn, cx, &update.touched(counted), groups).await?;
    let removed: HashSet<&str> = update.removed.iter().map(String::as_str).collect();
    let kept = current
        .members
        .into_iter()
        .filter(|m| !removed.contains(m.user_id.as_str()))
        .collect();
    Ok(GroupRecord {
        id: current.id,
        display_name: update.display_name.clone(),
        resource: change.resource,
        version: update.version,
        created: current.created,
        last_modified,
        members: members_after(kept, &update.added, &touched),
        provisioning: None,
    })
}

/// Deletes a group, writes its `deleted` job and its former members' jobs.
pub(crate) async fn delete(
    conn: &mut PgConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let current = load_group_for_update(conn, id, true)
        .await?
        .ok_or_else(|| not_found(id))?;
    check_version(if_match, current.version)?;
    let former = former_names(conn, id).await?;
    let members: Vec<String> = current
        .members
        .into_iter()
        .filter(|m| m.resolved)
        .map(|m| m.user_id)
        .collect();
    lock_users(conn, &members).await?;
    let joined = memberships::joined(conn, &members).await?;
    sqlx::query("DELETE FROM groups WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let state = GroupState {
        group_id: id.to_string(),
        display_name: current.display_name.clone(),
        former_names: former,
        deleted: true,
    };
    insert_job(conn, &plan::group_job(cx, state, current.version + 1)).await?;
    let this = GroupRef {
        group_id: id.to_string(),
        display_name: current.display_name,
    };
    let groups = plan::groups_after(cx.policy, &this, joined, &members, &[]);
    touch(conn, cx, &members, groups).await.map(drop)
}
