//! Reads of the SQLite directory: rows into records, one resource or one page, with
//! memberships and (when asked) provisioning states loaded in a few batched statements
//! on the same connection.

use sqlx::SqliteConnection;

use crate::error::StoreError;
use splashsync_protocol::Tenant;

use super::decode_rows;
// One generic attach serves both record kinds; the list functions name it per kind.
use super::status::{attach as attach_groups, attach as attach_users};
use crate::model::{GroupRecord, Query, UserRecord};
use crate::query::{self, Table};
use crate::rows::{self, group as group_from_row, user as user_from_row};

const USER_COLUMNS: &str = "id, user_name, resource, version, created, last_modified";
const GROUP_COLUMNS: &str = "id, display_name, resource, version, created, last_modified";

async fn load_links(
    conn: &mut SqliteConnection,
    users: &mut [UserRecord],
) -> Result<(), StoreError> {
    for chunk in users.chunks_mut(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT m.user_id, g.id, g.display_name FROM memberships m JOIN groups g ON g.id = m.group_id \
             WHERE m.user_id IN ({marks}) ORDER BY m.seq"
        );
        let mut q = sqlx::query(&sql);
        for u in chunk.iter() {
            q = q.bind(&u.id);
        }
        let links = q.fetch_all(&mut *conn).await?;
        let links = links
            .iter()
            .map(rows::link)
            .collect::<Result<Vec<_>, _>>()?;
        rows::attach_links(chunk, links);
    }
    Ok(())
}

/// Fills each group's members, users and unresolved ids together in joining order.
async fn load_members(
    conn: &mut SqliteConnection,
    groups: &mut [GroupRecord],
) -> Result<(), StoreError> {
    for chunk in groups.chunks_mut(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT json_group_array(json_array(group_id, id, display) ORDER BY seq) FROM ( \
             SELECT m.group_id AS group_id, u.id AS id, COALESCE(u.display_name, u.user_name) AS display, \
             m.seq AS seq FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.group_id IN ({marks}) \
             UNION ALL SELECT r.group_id, r.member_id, NULL, r.seq FROM unresolved_members r \
             WHERE r.group_id IN ({marks}))"
        );
        let mut q = sqlx::query_scalar::<_, Option<String>>(&sql);
        for _ in 0..2 {
            for g in chunk.iter() {
                q = q.bind(&g.id);
            }
        }
        let members =
            decode_rows::<(String, String, Option<String>)>(q.fetch_one(&mut *conn).await?)?;
        rows::attach_members(chunk, members);
    }
    Ok(())
}

/// One user with its groups.
pub(crate) async fn load_user(
    conn: &mut SqliteConnection,
    id: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut users = [user_from_row(&row)?];
    load_links(conn, &mut users).await?;
    let [user] = users;
    Ok(Some(user))
}

/// One group, with its members unless `with_members` is false.
pub(crate) async fn load_group(
    conn: &mut SqliteConnection,
    id: &str,
    with_members: bool,
) -> Result<Option<GroupRecord>, StoreError> {
    let row = sqlx::query(&format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = ?"))
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
    conn: &mut SqliteConnection,
    id: &str,
    status: Option<&Tenant>,
) -> Result<Option<UserRecord>, StoreError> {
    let Some(user) = load_user(conn, id).await? else {
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
    conn: &mut SqliteConnection,
    query: &Query,
) -> Result<(Vec<UserRecord>, u64), StoreError> {
    let (rows, total) = query::sqlite::page(conn, Table::Users, USER_COLUMNS, query).await?;
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
    conn: &mut SqliteConnection,
    id: &str,
    status: Option<&Tenant>,
) -> Result<Option<GroupRecord>, StoreError> {
    let Some(group) = load_group(conn, id, true).await? else {
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
    conn: &mut SqliteConnection,
    query: &Query,
) -> Result<(Vec<GroupRecord>, u64), StoreError> {
    let (rows, total) = query::sqlite::page(conn, Table::Groups, GROUP_COLUMNS, query).await?;
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
