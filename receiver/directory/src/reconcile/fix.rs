//! The fixes of a real run, written inside the writer's transaction, each one only if
//! the key is still where the comparison saw it: a write since then already put a newer
//! job on its way, so that key is left alone (it counts as pending).
//!
//! Every fix is a new version of the key's current desired state (a user's version is
//! bumped, as a group write bumps its members'), so the worker, which skips versions it
//! already applied, applies it; and it goes into the outbox behind the key's earlier jobs,
//! so per-account order holds (docs/DESIGN.md, invariants 4 and 5).

use std::collections::HashMap;

use splashsync_protocol::job::{GroupState, Job};
use splashsync_protocol::keys::account_route;
use splashsync_protocol::{Email, JobKey};
use sqlx::{Row, SqliteConnection};

use super::prune::{prune_id, prune_job};
use super::view::newest_incarnations;
use super::{Fix, SeenUser};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::plan;
use crate::sqlite::memberships::{effective_groups, json_ids};
use crate::sqlite::outbox::insert_job;
use crate::sqlite::users::touch;

/// Writes `fixes`; returns, for each, whether its job was written.
pub(crate) async fn write(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    fixes: &[Fix],
) -> Result<Vec<bool>, StoreError> {
    let mut written = vec![false; fixes.len()];
    let users: HashMap<&str, (usize, i64)> = fixes
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match f {
            Fix::User { id, version } => Some((id.as_str(), (i, *version))),
            _ => None,
        })
        .collect();
    for index in users_unchanged(conn, cx, &users).await? {
        written[index] = true;
    }
    for (i, fix) in fixes.iter().enumerate() {
        written[i] = match fix {
            Fix::User { .. } => written[i],
            Fix::Gone {
                email,
                key,
                version,
            } => gone(conn, cx, email, key, *version).await?,
            Fix::Group { id, version } => group(conn, cx, id, *version).await?,
            Fix::Prune { user } => prune(conn, cx, user).await?,
        };
    }
    Ok(written)
}

/// Bumps and re-sends the users still at the version the comparison saw, in a few
/// statements; returns their fixes' indexes.
async fn users_unchanged(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    users: &HashMap<&str, (usize, i64)>,
) -> Result<Vec<usize>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = users.keys().map(|id| id.to_string()).collect();
    let rows =
        sqlx::query("SELECT id, version FROM users WHERE id IN (SELECT value FROM json_each(?))")
            .bind(json_ids(&ids))
            .fetch_all(&mut *conn)
            .await?;
    let mut keep = Vec::new();
    let mut indexes = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        let version: i64 = row.try_get("version")?;
        if let Some((index, seen)) = users.get(id.as_str()) {
            if *seen == version {
                keep.push(id);
                indexes.push(*index);
            }
        }
    }
    let groups = effective_groups(conn, &keep, cx.policy).await?;
    touch(conn, cx, &keep, groups).await?;
    Ok(indexes)
}

/// The `deleted` state of an account's newest incarnation at a new version, if that is
/// still the newest and unchanged (no user created with the email since).
async fn gone(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    email: &str,
    key: &str,
    version: i64,
) -> Result<bool, StoreError> {
    let route = account_route(&cx.tenant, &Email::new(email));
    let newest = newest_incarnations(conn, std::slice::from_ref(&route)).await?;
    if newest.get(&route) != Some(&(key.to_string(), version)) {
        return Ok(false);
    }
    let payload: String =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE key = ? ORDER BY seq DESC LIMIT 1")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    let Ok(Job::UserV1(mut job)) = serde_json::from_str::<Job>(&payload) else {
        return Ok(false);
    };
    let Some(parsed) = JobKey::parse(key) else {
        return Ok(false);
    };
    job.meta = plan::meta(cx, parsed, version + 1);
    job.state.deleted = true;
    job.state.active = false;
    job.state.group = None;
    insert_job(conn, &Job::UserV1(job)).await?;
    Ok(true)
}

/// The group's current state at a new version, if it is still at `version`.
async fn group(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    id: &str,
    version: i64,
) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT display_name, former_names, version FROM groups WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    if row.try_get::<i64, _>("version")? != version {
        return Ok(false);
    }
    let former: String = row.try_get("former_names")?;
    let state = GroupState {
        group_id: id.to_string(),
        display_name: row.try_get("display_name")?,
        former_names: serde_json::from_str(&former).unwrap_or_default(),
        deleted: false,
    };
    sqlx::query("UPDATE groups SET version = ? WHERE id = ?")
        .bind(version + 1)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    insert_job(conn, &plan::group_job(cx, state, version + 1)).await?;
    Ok(true)
}

/// The removal of an account no incarnation of the directory ever owned, if that still
/// holds (no user created with the email since).
async fn prune(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    user: &SeenUser,
) -> Result<bool, StoreError> {
    let route = account_route(&cx.tenant, &Email::new(&user.email));
    if !newest_incarnations(conn, std::slice::from_ref(&route))
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    let key = JobKey::user(&cx.tenant, &prune_id(&user.email)).to_string();
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM outbox WHERE key = ?")
        .bind(&key)
        .fetch_one(&mut *conn)
        .await?;
    insert_job(conn, &prune_job(cx, user, latest.unwrap_or(0) + 1)).await?;
    Ok(true)
}
