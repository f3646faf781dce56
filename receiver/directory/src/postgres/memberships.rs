//! Memberships on PostgreSQL: each user's groups in joining order for the one-group policy
//! ([`crate::policy`] decides, as on SQLite), adding and removing members, and the
//! group-conflict audit table.
//!
//! Across receivers the policy holds because a write locks the rows of the users it reads
//! the groups of ([`lock_users`], in id order so that two writes never wait on each other
//! in a cycle) before reading them: a concurrent write on another receiver waits, then
//! reads what this one committed.

use std::collections::HashMap;

use splashsync_protocol::job::GroupRef;
use splashsync_scim::now_rfc3339;
use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::model::{GroupConflict, GroupPolicy, WriteCtx};
use crate::policy;

/// Locks the rows of the users among `ids` until the transaction ends (ids that are no
/// user lock nothing).
pub(crate) async fn lock_users(conn: &mut PgConnection, ids: &[String]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT 1 FROM users WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Each user's groups, in joining order (users in no group are absent).
pub(crate) async fn joined(
    conn: &mut PgConnection,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
    let mut out: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(out);
    }
    let rows = sqlx::query(
        "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ANY($1) ORDER BY m.seq",
    )
    .bind(user_ids)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        out.entry(r.try_get("user_id")?)
            .or_default()
            .push(GroupRef {
                group_id: r.try_get("id")?,
                display_name: r.try_get("display_name")?,
            });
    }
    Ok(out)
}

/// The group that decides each user's Splashtop group under `policy`.
pub(crate) async fn effective_groups(
    conn: &mut PgConnection,
    user_ids: &[String],
    policy: GroupPolicy,
) -> Result<HashMap<String, GroupRef>, StoreError> {
    let joined = joined(conn, user_ids).await?;
    Ok(policy::effective_groups(policy, joined))
}

/// Adds `ids` to `group_id` in their order: users join under the tenant's policy, judged
/// on `joined` (their groups before this write, read under [`lock_users`]); other ids are
/// kept as unresolved members, never provisioned.
pub(crate) async fn add(
    conn: &mut PgConnection,
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
    // One counter value per id, ascending in the ids' order: taken after the users' rows
    // were locked, so a later join of the same user on any receiver gets a higher one.
    let mut seqs: Vec<i64> =
        sqlx::query_scalar("SELECT nextval('member_seq') FROM generate_series(1, $1)")
            .bind(ids.len() as i64)
            .fetch_all(&mut *conn)
            .await?;
    seqs.sort_unstable();
    sqlx::query(
        "INSERT INTO memberships (group_id, user_id, seq) \
         SELECT $1, j.id, j.seq FROM unnest($2::text[], $3::bigint[]) AS j(id, seq) \
         WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = j.id) ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(ids)
    .bind(&seqs)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO unresolved_members (group_id, member_id, seq, added) \
         SELECT $1, j.id, j.seq, $4 FROM unnest($2::text[], $3::bigint[]) AS j(id, seq) \
         WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = j.id) ON CONFLICT DO NOTHING",
    )
    .bind(group_id)
    .bind(ids)
    .bind(&seqs)
    .bind(now_rfc3339())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Removes members (users or unresolved ids) from a group.
pub(crate) async fn remove(
    conn: &mut PgConnection,
    group_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    for sql in [
        "DELETE FROM memberships WHERE group_id = $1 AND user_id = ANY($2)",
        "DELETE FROM unresolved_members WHERE group_id = $1 AND member_id = ANY($2)",
    ] {
        sqlx::query(sql)
            .bind(group_id)
            .bind(ids)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Appends conflicts to the audit table, in one statement.
pub(crate) async fn record_conflicts(
    conn: &mut PgConnection,
    conflicts: &[GroupConflict],
) -> Result<(), StoreError> {
    if conflicts.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&GroupConflict) -> &str| -> Vec<&str> { conflicts.iter().map(f).collect() };
    sqlx::query(
        "INSERT INTO group_conflicts (at, user_id, group_id, other_group_id, policy, outcome) \
         SELECT $1, u, g, o, p, r FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
         WITH ORDINALITY AS c(u, g, o, p, r, n) ORDER BY n",
    )
    .bind(now_rfc3339())
    .bind(column(|c| &c.user_id))
    .bind(column(|c| &c.group_id))
    .bind(column(|c| &c.other_group_id))
    .bind(column(|c| c.policy.as_str()))
    .bind(column(|c| &c.outcome))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
