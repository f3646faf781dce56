//! The memberships table: loading each user's groups in joining order for the
//! one-group policy ([`crate::policy`] decides), adding and removing members (users, and
//! the unresolved ids kept as written), and the group-conflict audit table.

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

/// The ids among `ids` that are users of this directory.
async fn users_among(
    conn: &mut SqliteConnection,
    ids: &[String],
) -> Result<HashSet<String>, StoreError> {
    let mut known = HashSet::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = format!("SELECT id FROM users WHERE id IN ({})", marks(chunk.len()));
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for id in chunk {
            q = q.bind(id);
        }
        known.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(known)
}

/// The next membership seq: one counter for memberships and unresolved members, so a
/// group lists both in the order they were written.
async fn next_seq(conn: &mut SqliteConnection) -> Result<i64, StoreError> {
    let last: i64 = sqlx::query_scalar(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM memberships), 0), \
         COALESCE((SELECT MAX(seq) FROM unresolved_members), 0))",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(last + 1)
}

/// Adds `ids` to `group_id` in their order, a few statements per thousand: the ids of
/// users join under the tenant's policy (a refused conflict aborts the write); the others
/// are kept as unresolved members, never provisioned (the caller writes no job for them).
/// Returns the ids that are users.
pub(crate) async fn add(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let known = users_among(conn, ids).await?;
    let users: Vec<String> = ids.iter().filter(|i| known.contains(*i)).cloned().collect();
    let joined = joined(conn, &users).await?;
    let mut resolved = Vec::new();
    for user in &users {
        let groups = joined.get(user).map(Vec::as_slice).unwrap_or_default();
        match policy::admit(cx.policy, user, group_id, groups) {
            Admission::Free => {}
            Admission::Resolved(conflict) => resolved.push(conflict),
            Admission::Refused(conflict, detail) => {
                return Err(StoreError::GroupConflict(Box::new(conflict), detail))
            }
        }
    }
    record_conflicts(conn, &resolved).await?;
    let first = next_seq(conn).await?;
    let (members, unresolved): (Vec<_>, Vec<_>) = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id, first + i as i64))
        .partition(|(id, _)| known.contains(*id));
    for chunk in members.chunks(ROWS) {
        let sql = format!(
            "INSERT OR IGNORE INTO memberships (group_id, user_id, seq) VALUES {}",
            vec!["(?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (user, seq) in chunk {
            q = q.bind(group_id).bind(*user).bind(*seq);
        }
        q.execute(&mut *conn).await?;
    }
    let now = now_rfc3339();
    for chunk in unresolved.chunks(ROWS) {
        let sql = format!(
            "INSERT OR IGNORE INTO unresolved_members (group_id, member_id, seq, added) VALUES {}",
            vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for (id, seq) in chunk {
            q = q.bind(group_id).bind(*id).bind(*seq).bind(&now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(users)
}

/// Removes members (users or unresolved ids) from a group.
pub(crate) async fn remove(
    conn: &mut SqliteConnection,
    group_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    for table in [
        "memberships WHERE group_id = ? AND user_id",
        "unresolved_members WHERE group_id = ? AND member_id",
    ] {
        for chunk in ids.chunks(IN_CHUNK) {
            let sql = format!("DELETE FROM {table} IN ({})", marks(chunk.len()));
            let mut q = sqlx::query(&sql).bind(group_id);
            for id in chunk {
                q = q.bind(id);
            }
            q.execute(&mut *conn).await?;
        }
    }
    Ok(())
}

/// Appends conflicts to the audit table, many rows per statement.
async fn record_conflicts(
    conn: &mut SqliteConnection,
    conflicts: &[GroupConflict],
) -> Result<(), StoreError> {
    let at = now_rfc3339();
    for chunk in conflicts.chunks(ROWS / 2) {
        let sql = format!(
            "INSERT INTO group_conflicts (at, user_id, group_id, other_group_id, policy, outcome) VALUES {}",
            vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q
                .bind(&at)
                .bind(&c.user_id)
                .bind(&c.group_id)
                .bind(&c.other_group_id)
                .bind(c.policy.as_str())
                .bind(&c.outcome);
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
    record_conflicts(conn, std::slice::from_ref(c)).await
}
