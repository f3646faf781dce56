//! Reads of the PostgreSQL directory: rows into records, one resource or one page, with
//! memberships and (when asked) provisioning states in a few statements on the same
//! connection. The write path reads through the `_for_update` forms, which lock the row
//! until the transaction ends: a write on another receiver waits and then sees this one.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::status::{attach_groups, attach_users};
use crate::error::StoreError;
use crate::model::{GroupLink, GroupRecord, Member, Query, UserRecord};
use crate::query::{self, Table};
use splashsync_protocol::Tenant;

fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e))))
}

const USER_COLUMNS: &str =
    "id, user_name, resource::text AS resource, version, created, last_modified";
const GROUP_COLUMNS: &str =
    "id, display_name, resource::text AS resource, version, created, last_modified";

/// A user record from a row of [`USER_COLUMNS`] (groups not loaded).
pub(crate) fn user_from_row(row: &PgRow) -> Result<UserRecord, StoreError> {
    let resource: String = row.try_get("resource")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        user_name: row.try_get("user_name")?,
        resource: serde_json::from_str(&resource).map_err(decode_error)?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        groups: Vec::new(),
        provisioning: None,
    })
}

fn group_from_row(row: &PgRow) -> Result<GroupRecord, StoreError> {
    let resource: String = row.try_get("resource")?;
    Ok(GroupRecord {
        id: row.try_get("id")?,
        display_name: row.try_get("display_name")?,
        resource: serde_json::from_str(&resource).map_err(decode_error)?,
        version: row.try_get("version")?,
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        members: Vec::new(),
        provisioning: None,
    })
}

fn positions<'a>(ids: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    ids.enumerate().map(|(i, id)| (id.clone(), i)).collect()
}

async fn load_links(conn: &mut PgConnection, users: &mut [UserRecord]) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let rows = sqlx::query(
        "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ANY($1) ORDER BY m.seq",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let at = positions(users.iter().map(|u| &u.id));
    for row in rows {
        let user_id: String = row.try_get("user_id")?;
        if let Some(&i) = at.get(&user_id) {
            users[i].groups.push(GroupLink {
                group_id: row.try_get("id")?,
                display_name: row.try_get("display_name")?,
            });
        }
    }
    Ok(())
}

/// Fills each group's members, users and unresolved ids together in joining order.
async fn load_members(
    conn: &mut PgConnection,
    groups: &mut [GroupRecord],
) -> Result<(), StoreError> {
    if groups.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
    let rows = sqlx::query(
        "SELECT m.group_id, u.id, COALESCE(u.display_name, u.user_name) AS display, m.seq \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ANY($1) \
         UNION ALL SELECT r.group_id, r.member_id, NULL, r.seq FROM unresolved_members r \
         WHERE r.group_id = ANY($1) ORDER BY seq",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let at = positions(groups.iter().map(|g| &g.id));
    for row in rows {
        let group_id: String = row.try_get("group_id")?;
        let display: Option<String> = row.try_get("display")?;
        if let Some(&i) = at.get(&group_id) {
            groups[i].members.push(Member {
                user_id: row.try_get("id")?,
                resolved: display.is_some(),
                display: display.unwrap_or_default(),
            });
        }
    }
    Ok(())
}

async fn one_user(
    conn: &mut PgConnection,
    id: &str,
    lock: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 {lock}");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = [user_from_row(&row)?];
    load_links(conn, &mut users).await?;
    let [user] = users;
    Ok(Some(user))
}

/// One user with its groups, its row locked until the transaction ends.
pub(crate) async fn load_user_for_update(
    conn: &mut PgConnection,
    id: &str,
) -> Result<Option<UserRecord>, StoreError> {
    one_user(conn, id, "FOR UPDATE").await
}

/// One group, with its members unless `with_members` is false, its row locked until the
/// transaction ends.
pub(crate) async fn load_group_for_update(
    conn: &mut PgConnection,
    id: &str,
    with_members: bool,
) -> Result<Option<GroupRecord>, StoreError> {
    one_group(conn, id, with_members, "FOR UPDATE").await
}

async fn one_group(
    conn: &mut PgConnection,
    id: &str,
    with_members: bool,
    lock: &str,
) -> Result<Option<GroupRecord>, StoreError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = $1 {lock}");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut groups = [group_from_row(&row)?];
    if with_members {
        load_members(conn, &mut groups).await?;
    }
    let [group] = groups;
    Ok(Some(group))
}

/// One user with its groups, and its provisioning state in `status`'s tenant if given.
pub(crate) async fn user(
    conn: &mut PgConnection,
    id: &str,
    status: Option<&Tenant>,
) -> Result<Option<UserRecord>, StoreError> {
    let Some(user) = one_user(conn, id, "").await? else {
        return Ok(None);
    };
    let mut users = [user];
    if let Some(tenant) = status {
        attach_users(conn, tenant, &mut users).await?;
    }
    let [user] = users;
    Ok(Some(user))
}

/// Users matching `query` with their groups (and states), and the total count.
pub(crate) async fn users(
    conn: &mut PgConnection,
    query: &Query,
) -> Result<(Vec<UserRecord>, u64), StoreError> {
    let (rows, total) = query::postgres::page(conn, Table::Users, USER_COLUMNS, query).await?;
    let mut users = rows
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    load_links(conn, &mut users).await?;
    if let Some(tenant) = &query.status {
        attach_users(conn, tenant, &mut users).await?;
    }
    Ok((users, total))
}

/// One group with its members, and its provisioning state in `status`'s tenant if given.
pub(crate) async fn group(
    conn: &mut PgConnection,
    id: &str,
    status: Option<&Tenant>,
) -> Result<Option<GroupRecord>, StoreError> {
    let Some(group) = one_group(conn, id, true, "").await? else {
        return Ok(None);
    };
    let mut groups = [group];
    if let Some(tenant) = status {
        attach_groups(conn, tenant, &mut groups).await?;
    }
    let [group] = groups;
    Ok(Some(group))
}

/// Groups matching `query` (members unless excluded, states if asked), and the total.
pub(crate) async fn groups(
    conn: &mut PgConnection,
    query: &Query,
) -> Result<(Vec<GroupRecord>, u64), StoreError> {
    let (rows, total) = query::postgres::page(conn, Table::Groups, GROUP_COLUMNS, query).await?;
    let mut groups = rows
        .iter()
        .map(group_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if !query.without_members {
        load_members(conn, &mut groups).await?;
    }
    if let Some(tenant) = &query.status {
        attach_groups(conn, tenant, &mut groups).await?;
    }
    Ok((groups, total))
}
