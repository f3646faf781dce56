//! The memberships table: loading each user's groups in joining order for the
//! one-group policy ([`crate::policy`] decides), adding and removing members, and the
//! group-conflict audit table.

use std::collections::{HashMap, HashSet};

use splashsync_protocol::job::GroupRef;
use splashsync_scim::now_rfc3339;
use sqlx::{Row, SqliteConnection};

use super::{marks, IN_CHUNK};
use crate::error::StoreError;
use crate::model::{GroupConflict, GroupPolicy, WriteCtx};
use crate::policy::{self, Admission};

/// Rows per multi-row membership INSERT.
const ROWS: usize = 300;

/// Each user's groups, in joining order (users in no group are absent).
pub(crate) async fn joined(
    conn: &mut SqliteConnection,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
    let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
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
            out.entry(row.try_get("user_id")?)
                .or_default()
                .push(GroupRef {
                    group_id: row.try_get("id")?,
                    display_name: row.try_get("display_name")?,
                });
        }
    }
    Ok(out)
}

/// The group that decides each user's Splashtop group under `policy`.
pub(crate) async fn effective_groups(
    conn: &mut SqliteConnection,
    user_ids: &[String],
    policy: GroupPolicy,
) -> Result<HashMap<String, GroupRef>, StoreError> {
    Ok(joined(conn, user_ids)
        .await?
        .into_iter()
        .filter_map(|(user, groups)| {
            policy::effective_group(policy, &groups).map(|g| (user, g.clone()))
        })
        .collect())
}

/// Adds users to `group_id` under the tenant's policy, in a few statements: every user
/// must exist, and a refused conflict aborts the write.
pub(crate) async fn add(
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
    let joined = joined(conn, users).await?;
    for user in users {
        let groups = joined.get(user).map(Vec::as_slice).unwrap_or_default();
        match policy::admit(cx.policy, user, group_id, groups) {
            Admission::Free => {}
            Admission::Resolved(conflict) => record_conflict(conn, &conflict).await?,
            Admission::Refused(conflict, detail) => {
                return Err(StoreError::GroupConflict(Box::new(conflict), detail))
            }
        }
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

/// Removes users from a group.
pub(crate) async fn remove(
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

/// Appends a conflict to the audit table.
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
