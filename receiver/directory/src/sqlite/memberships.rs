//! The memberships table: loading each user's groups in joining order for the
//! one-group policy ([`crate::policy`] decides), adding and removing members (users, and
//! the unresolved ids kept as written), and the group-conflict audit table.
//!
//! A list of ids goes to SQLite as one JSON array read by `json_each`: adding 20,000
//! members is a few set-based statements, not a statement (or a row crossing the driver)
//! per member.

use std::collections::HashMap;

use splashsync_protocol::job::GroupRef;
use splashsync_scim::now_rfc3339;
use sqlx::SqliteConnection;

use super::decode_rows;
use crate::error::StoreError;
use crate::model::{GroupConflict, GroupPolicy, WriteCtx};
use crate::policy;

/// Rows per multi-row conflict INSERT (6 parameters each).
const CONFLICT_ROWS: usize = 150;

/// `ids` as one JSON array, the argument of `json_each`.
pub(crate) fn json_ids(ids: &[String]) -> String {
    serde_json::Value::from(ids).to_string()
}

/// Each user's groups, in joining order (users in no group are absent).
pub(crate) async fn joined(
    conn: &mut SqliteConnection,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
    let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows: Option<String> = sqlx::query_scalar(
        "SELECT json_group_array(json_array(m.user_id, g.id, g.display_name) ORDER BY m.seq) \
         FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id IN (SELECT value FROM json_each(?))",
    )
    .bind(json_ids(user_ids))
    .fetch_one(&mut *conn)
    .await?;
    for (user, group_id, display_name) in decode_rows::<(String, String, String)>(rows)? {
        out.entry(user).or_default().push(GroupRef {
            group_id,
            display_name,
        });
    }
    Ok(out)
}

/// The group that decides each user's Splashtop group under `policy`.
pub(crate) async fn effective_groups(
    conn: &mut SqliteConnection,
    user_ids: &[String],
    policy: GroupPolicy,
) -> Result<HashMap<String, GroupRef>, StoreError> {
    let joined = joined(conn, user_ids).await?;
    Ok(policy::effective_groups(policy, joined))
}

/// Adds `ids` to `group_id` in their order: the ids of users join under the tenant's
/// policy, judged on `joined` (their groups before this write; a refused conflict aborts
/// the write); the other ids are kept as unresolved members, never provisioned (they get
/// no job: no user has their id).
pub(crate) async fn add(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    group_id: &str,
    ids: &[String],
    joined: &HashMap<String, Vec<GroupRef>>,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let resolved = policy::admit_all(cx.policy, group_id, ids, joined)?;
    record_conflicts(conn, &resolved).await?;
    // One counter for both tables, so that a group lists them in the order written.
    let first: i64 = sqlx::query_scalar(
        "SELECT 1 + MAX(COALESCE((SELECT MAX(seq) FROM memberships), 0), \
         COALESCE((SELECT MAX(seq) FROM unresolved_members), 0))",
    )
    .fetch_one(&mut *conn)
    .await?;
    let list = json_ids(ids);
    sqlx::query(
        "INSERT OR IGNORE INTO memberships (group_id, user_id, seq) \
         SELECT ?1, j.value, ?2 + j.key FROM json_each(?3) j WHERE j.value IN (SELECT id FROM users)",
    )
    .bind(group_id)
    .bind(first)
    .bind(&list)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT OR IGNORE INTO unresolved_members (group_id, member_id, seq, added) \
         SELECT ?1, j.value, ?2 + j.key, ?4 FROM json_each(?3) j WHERE j.value NOT IN (SELECT id FROM users)",
    )
    .bind(group_id)
    .bind(first)
    .bind(&list)
    .bind(now_rfc3339())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes members (users or unresolved ids) from a group.
pub(crate) async fn remove(
    conn: &mut SqliteConnection,
    group_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let list = json_ids(ids);
    for sql in [
        "DELETE FROM memberships WHERE group_id = ? AND user_id IN (SELECT value FROM json_each(?))",
        "DELETE FROM unresolved_members WHERE group_id = ? AND member_id IN (SELECT value FROM json_each(?))",
    ] {
        sqlx::query(sql)
            .bind(group_id)
            .bind(&list)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Appends conflicts to the audit table, many rows per statement.
async fn record_conflicts(
    conn: &mut SqliteConnection,
    conflicts: &[GroupConflict],
) -> Result<(), StoreError> {
    let at = now_rfc3339();
    for chunk in conflicts.chunks(CONFLICT_ROWS) {
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
