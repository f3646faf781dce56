//! Group writes of the SQLite directory, with the one-group policy; each runs inside the
//! writer's batch transaction.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use splashsync_scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use super::jobs::{effective_groups, group_job, marks, touch_users, IN_CHUNK};
use super::read::load_group;
use super::users::{check_version, is_unique_violation};
use crate::error::StoreError;
use crate::model::{GroupConflict, GroupPolicy, GroupRecord, WriteCtx};
use crate::store::GroupEdit;

/// Most former names a group remembers (enough for any rename still in flight).
const MAX_FORMER_NAMES: usize = 10;

fn name_taken(name: &str) -> StoreError {
    StoreError::GroupNameTaken(name.to_string())
}

fn external_id(resource: &Value) -> Option<String> {
    resource
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Adds users to `group_id` under the tenant's policy, in a few statements.
async fn add_members(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    users: &[String],
) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let mut known = HashSet::new();
    for chunk in users.chunks(IN_CHUNK) {
        let sql = format!("SELECT id FROM users WHERE id IN ({})", marks(chunk.len()));
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for u in chunk {
            q = q.bind(u);
        }
        known.extend(q.fetch_all(&mut *conn).await?);
    }
    if let Some(missing) = users.iter().find(|u| !known.contains(*u)) {
        return Err(StoreError::UnknownMember(missing.clone()));
    }
    // Each user's earliest other group, for the one-group policy.
    let mut others: HashMap<String, (String, String)> = HashMap::new();
    for chunk in users.chunks(IN_CHUNK) {
        let sql = format!(
            "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id IN ({}) AND m.group_id != ? ORDER BY m.seq",
            marks(chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for u in chunk {
            q = q.bind(u);
        }
        for row in q.bind(group_id).fetch_all(&mut *conn).await? {
            others
                .entry(row.try_get("user_id")?)
                .or_insert((row.try_get("id")?, row.try_get("display_name")?));
        }
    }
    for user in users {
        let Some((other_id, other_name)) = others.get(user) else {
            continue;
        };
        let conflict = GroupConflict {
            user_id: user.clone(),
            group_id: group_id.to_string(),
            other_group_id: other_id.clone(),
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
                    "user {user:?} is already in group {other_name:?}; a Splashtop user can be in one group only \
                     (group policy: reject). Remove it from {other_name:?} first"
                ),
            ));
        }
        record_conflict(conn, &conflict).await?;
    }
    let base: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM memberships")
        .fetch_one(&mut *conn)
        .await?;
    for (c, chunk) in users.chunks(ROWS).enumerate() {
        let sql = format!(
            "INSERT OR IGNORE INTO memberships (group_id, user_id, seq) VALUES {}",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (i, u) in chunk.iter().enumerate() {
            q = q
                .bind(group_id)
                .bind(u)
                .bind(base + 1 + (c * ROWS + i) as i64);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Rows per multi-row membership INSERT.
const ROWS: usize = 300;

/// Removes users from a group.
async fn remove_members(
    conn: &mut SqliteConnection,
    group_id: &str,
    users: &[String],
) -> Result<(), StoreError> {
    for chunk in users.chunks(IN_CHUNK) {
        let sql = format!(
            "DELETE FROM memberships WHERE group_id = ? AND user_id IN ({})",
            marks(chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(group_id);
        for u in chunk {
            q = q.bind(u);
        }
        q.execute(&mut *conn).await?;
    }
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
    let unique: Vec<String> = users
        .into_iter()
        .filter(|u| seen.insert(u.clone()))
        .collect();
    touch_users(conn, cx, &unique).await
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
    add_members(conn, cx, &record.id, &members).await?;
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
    let change = edit(&current).map_err(StoreError::Rejected)?;
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
        let staying: Vec<String> = old_members
            .iter()
            .filter(|m| new_set.contains(m.as_str()))
            .cloned()
            .collect();
        let groups = effective_groups(conn, &staying, cx.policy).await?;
        touched.extend(
            staying
                .into_iter()
                .filter(|m| groups.get(m).is_some_and(|g| g.group_id == id)),
        );
    }
    remove_members(conn, id, &removed).await?;
    add_members(conn, cx, id, &added).await?;
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
