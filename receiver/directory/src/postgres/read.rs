//! Reads of the PostgreSQL directory: rows into records, one resource or one page, with
//! memberships and (when asked) provisioning states in a few statements on the same
//! connection. The write path reads through the `_for_update` forms, which lock the row
//! until the transaction ends: a write on another receiver waits and then sees this one.

use sqlx::{PgConnection, Row};

// One generic attach serves both record kinds; the list functions name it per kind.
use super::status::{attach as attach_groups, attach as attach_users};
use crate::error::StoreError;
use crate::model::{GroupRecord, Query, UserRecord};
use crate::query::{self, Table};
use crate::rows::{self, group as group_from_row, user as user_from_row};
use splashsync_protocol::Tenant;

const USER_COLUMNS: &str =
    "id, user_name, resource::text AS resource, version, created, last_modified";
const GROUP_COLUMNS: &str =
    "id, display_name, resource::text AS resource, version, created, last_modified";

async fn load_links(conn: &mut PgConnection, users: &mut [UserRecord]) -> Result<(), StoreError> {
    if users.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    let found = sqlx::query(
        "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = ANY($1) ORDER BY m.seq",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let links = found
        .iter()
        .map(rows::link)
        .collect::<Result<Vec<_>, _>>()?;
    rows::attach_links(users, links);
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
    let found = sqlx::query(
        "SELECT m.group_id, u.id, COALESCE(u.display_name, u.user_name) AS display, m.seq \
         FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id = ANY($1) \
         UNION ALL SELECT r.group_id, r.member_id, NULL, r.seq FROM unresolved_members r \
         WHERE r.group_id = ANY($1) ORDER BY seq",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let members = found
        .iter()
        .map(|r| {
            Ok((
                r.try_get("group_id")?,
                r.try_get("id")?,
                r.try_get("display")?,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    rows::attach_members(groups, members);
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
