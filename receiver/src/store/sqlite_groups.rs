//! Group writes of the SQLite directory, with the one-group policy; each runs inside the
//! writer's batch transaction.

use std::collections::HashSet;

use serde_json::Value;
use splashsync_shared::scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use super::jobs::{effective_group, group_job, touch_user};
use super::sqlite::load_group;
use super::sqlite_users::{check_version, is_unique_violation};
use super::{GroupConflict, GroupEdit, GroupPolicy, GroupRecord, StoreError, WriteCtx};

/// Most former names a group remembers (enough for any rename still in flight).
const MAX_FORMER_NAMES: usize = 10;

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a group with displayName {name:?} already exists (displayName is case-insensitive)"
    ))
}

fn external_id(resource: &Value) -> Option<String> {
    resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Adds `user_id` to `group_id` under the tenant's policy.
async fn add_member(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    user_id: &str,
) -> Result<(), StoreError> {
    let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?")
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Err(StoreError::Invalid(
            splashsync_shared::scim::ScimError::bad_request(
                splashsync_shared::scim::ScimType::InvalidValue,
                format!("member {user_id:?} is not a user of this directory"),
            ),
        ));
    }
    let other = sqlx::query(
        "SELECT g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ? AND m.group_id != ? ORDER BY m.seq LIMIT 1",
    )
    .bind(user_id)
    .bind(group_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(other) = other {
        let other_id: String = other.try_get("id")?;
        let other_name: String = other.try_get("display_name")?;
        let conflict = GroupConflict {
            user_id: user_id.to_string(),
            group_id: group_id.to_string(),
            other_group_id: other_id,
            policy: cx.policy,
            outcome: match cx.policy {
                GroupPolicy::Reject => "rejected",
                GroupPolicy::Move => "moved",
                GroupPolicy::First => "kept-first",
            }
            .into(),
        };
        if cx.policy == GroupPolicy::Reject {
            return Err(StoreError::GroupConflict(
                Box::new(conflict),
                format!(
                    "user {user_id:?} is already in group {other_name:?}; a Splashtop user can be in one group only \
                     (group policy: reject). Remove it from {other_name:?} first"
                ),
            ));
        }
        record_conflict(conn, &conflict).await?;
    }
    sqlx::query(
        "INSERT OR IGNORE INTO memberships (group_id, user_id, seq) \
         VALUES (?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM memberships))",
    )
    .bind(group_id)
    .bind(user_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Appends a resolved conflict to the audit table.
pub(crate) async fn record_conflict(
    conn: &mut SqliteConnection,
    c: &GroupConflict,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO group_conflicts (at, user_id, group_id, other_group_id, policy, outcome) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(now_rfc3339())
    .bind(&c.user_id)
    .bind(&c.group_id)
    .bind(&c.other_group_id)
    .bind(c.policy.as_str())
    .bind(&c.outcome)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Touches each user once, in order.
async fn touch_all(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    users: Vec<String>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for user in users {
        if seen.insert(user.clone()) {
            touch_user(conn, cx, &user).await?;
        }
    }
    Ok(())
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
    group_job(
        conn,
        cx,
        &record.id,
        &record.display_name,
        Vec::new(),
        record.version,
        false,
    )
    .await?;
    for user in &members {
        add_member(conn, cx, &record.id, user).await?;
    }
    touch_all(conn, cx, members).await?;
    record.members = load_group(conn, &record.id, true)
        .await?
        .map(|g| g.members)
        .unwrap_or_default();
    Ok(record)
}

/// Applies `edit` to a group: body, name and members.
pub(crate) async fn update(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
    edit: GroupEdit,
) -> Result<GroupRecord, StoreError> {
    let current = load_group(conn, id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("Group {id:?}")))?;
    check_version(if_match, current.version)?;
    let change = edit(&current).map_err(StoreError::Invalid)?;
    let old_members: Vec<String> = current.members.iter().map(|m| m.user_id.clone()).collect();
    let new_set: HashSet<&str> = change.members.iter().map(String::as_str).collect();
    let old_set: HashSet<&str> = old_members.iter().map(String::as_str).collect();
    let removed: Vec<String> = old_members
        .iter()
        .filter(|m| !new_set.contains(m.as_str()))
        .cloned()
        .collect();
    let mut added: Vec<String> = Vec::new();
    for m in &change.members {
        if !old_set.contains(m.as_str()) && !added.contains(m) {
            added.push(m.clone());
        }
    }
    if change.resource == current.resource && removed.is_empty() && added.is_empty() {
        return Ok(current);
    }
    let display_name = change
        .resource
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&current.display_name)
        .to_string();
    let renamed = display_name != current.display_name;
    let row = sqlx::query("SELECT former_names FROM groups WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let mut former: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("former_names")?).unwrap_or_default();
    if renamed {
        former.retain(|n| n != &current.display_name && n != &display_name);
        former.insert(0, current.display_name.clone());
        former.truncate(MAX_FORMER_NAMES);
    }
    let version = current.version + 1;
    let updated = sqlx::query(
        "UPDATE groups SET display_name = ?, display_name_key = ?, external_id = ?, resource = ?, former_names = ?, \
         version = ?, last_modified = ? WHERE id = ?",
    )
    .bind(&display_name)
    .bind(display_name.to_lowercase())
    .bind(external_id(&change.resource))
    .bind(change.resource.to_string())
    .bind(serde_json::to_string(&former).unwrap_or_else(|_| "[]".into()))
    .bind(version)
    .bind(now_rfc3339())
    .bind(id)
    .execute(&mut *conn)
    .await;
    match updated {
        Err(e) if is_unique_violation(&e) => return Err(name_taken(&display_name)),
        other => other?,
    };
    let mut touched = Vec::new();
    if renamed {
        group_job(conn, cx, id, &display_name, former, version, false).await?;
        // Members whose Splashtop group is this one now want it under the new name.
        for m in old_members.iter().filter(|m| new_set.contains(m.as_str())) {
            if effective_group(conn, m, cx.policy)
                .await?
                .is_some_and(|g| g.group_id == id)
            {
                touched.push(m.clone());
            }
        }
    }
    for m in &removed {
        sqlx::query("DELETE FROM memberships WHERE group_id = ? AND user_id = ?")
            .bind(id)
            .bind(m)
            .execute(&mut *conn)
            .await?;
    }
    for m in &added {
        add_member(conn, cx, id, m).await?;
    }
    touched.extend(removed);
    touched.extend(added);
    touch_all(conn, cx, touched).await?;
    load_group(conn, id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("Group {id:?}")))
}

/// Deletes a group, writes its `deleted` job and its former members' jobs.
pub(crate) async fn delete(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), StoreError> {
    let current = load_group(conn, id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("Group {id:?}")))?;
    check_version(if_match, current.version)?;
    let row = sqlx::query("SELECT former_names FROM groups WHERE id = ?")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    let former: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("former_names")?).unwrap_or_default();
    sqlx::query("DELETE FROM groups WHERE id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    group_job(
        conn,
        cx,
        id,
        &current.display_name,
        former,
        current.version + 1,
        true,
    )
    .await?;
    touch_all(
        conn,
        cx,
        current.members.into_iter().map(|m| m.user_id).collect(),
    )
    .await
}
