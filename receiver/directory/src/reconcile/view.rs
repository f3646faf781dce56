//! The directory's side of a comparison, read on one connection inside one read
//! transaction (a consistent snapshot of the WAL): every user with its desired state and
//! provisioning state, every group, and the former owners of the team's other accounts.

use std::collections::{HashMap, HashSet};

use splashsync_protocol::keys::account_route;
use splashsync_protocol::{Email, JobKey};
use sqlx::{Row, SqliteConnection};

use super::prune::is_prune_id;
use super::{DirectoryView, FormerAccount, Hold, OwnedGroup, OwnedUser};
use crate::error::StoreError;
use crate::model::WriteCtx;
use crate::plan;
use crate::rows::user as user_from_row;
use crate::sqlite::memberships::effective_groups;
use crate::sqlite::status::statuses;

/// Routes per statement of the former-owner lookup.
const ROUTES_PER_QUERY: usize = 500;

/// Loads the view; `emails` are the team's accounts (their former owners are looked up
/// when no user has them).
pub(crate) async fn load(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    emails: &[String],
) -> Result<DirectoryView, StoreError> {
    let rows = sqlx::query(
        "SELECT id, user_name, resource, version, created, last_modified FROM users ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let records = rows
        .iter()
        .map(user_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let mut groups = effective_groups(conn, &ids, cx.policy).await?;
    let keys: Vec<String> = ids
        .iter()
        .map(|id| JobKey::user(&cx.tenant, id).to_string())
        .collect();
    let states = statuses(conn, &keys).await?;
    let hold = |key: &str| Hold::of(states.get(key).map(|s| s.state.as_str()));
    let users: Vec<OwnedUser> = records
        .iter()
        .zip(keys.iter())
        .map(|(record, key)| OwnedUser {
            key: key.clone(),
            version: record.version,
            state: plan::desired_state(record, groups.remove(&record.id)),
            hold: hold(key),
        })
        .collect();
    let group_rows = sqlx::query("SELECT id, display_name, version FROM groups ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    let mut owned_groups = Vec::with_capacity(group_rows.len());
    for row in &group_rows {
        let id: String = row.try_get("id")?;
        owned_groups.push(OwnedGroup {
            key: JobKey::group(&cx.tenant, &id).to_string(),
            id,
            name: row.try_get("display_name")?,
            version: row.try_get("version")?,
            hold: Hold::Clear,
        });
    }
    let group_keys: Vec<String> = owned_groups.iter().map(|g| g.key.clone()).collect();
    let group_states = statuses(conn, &group_keys).await?;
    for group in &mut owned_groups {
        group.hold = Hold::of(group_states.get(&group.key).map(|s| s.state.as_str()));
    }
    let owned: HashSet<String> = users.iter().map(|u| u.state.email.to_lowercase()).collect();
    let strangers: Vec<&String> = emails
        .iter()
        .filter(|e| !owned.contains(&e.to_lowercase()))
        .collect();
    let former = former_owners(conn, cx, &strangers).await?;
    Ok(DirectoryView {
        users,
        groups: owned_groups,
        former,
    })
}

/// The newest incarnation (highest SCIM id, a UUIDv7) that the outbox holds a job of on
/// each route, with that key's latest version; prune keys are no incarnation.
pub(crate) async fn newest_incarnations(
    conn: &mut SqliteConnection,
    routes: &[String],
) -> Result<HashMap<String, (String, i64)>, StoreError> {
    let mut newest: HashMap<String, (String, i64)> = HashMap::new();
    for chunk in routes.chunks(ROUTES_PER_QUERY) {
        let sql = format!(
            "SELECT route, key, MAX(version) AS version FROM outbox \
             WHERE kind = 'UserV1' AND route IN ({}) GROUP BY route, key",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for route in chunk {
            q = q.bind(route);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let route: String = row.try_get("route")?;
            let key: String = row.try_get("key")?;
            let version: i64 = row.try_get("version")?;
            let Some(parsed) = JobKey::parse(&key) else {
                continue;
            };
            if is_prune_id(parsed.id()) {
                continue;
            }
            let entry = newest
                .entry(route)
                .or_insert_with(|| (key.clone(), version));
            if key > entry.0 {
                *entry = (key, version);
            }
        }
    }
    Ok(newest)
}

/// The former owners of `emails`, by lower-case email.
async fn former_owners(
    conn: &mut SqliteConnection,
    cx: &WriteCtx,
    emails: &[&String],
) -> Result<HashMap<String, FormerAccount>, StoreError> {
    let by_route: HashMap<String, String> = emails
        .iter()
        .map(|e| (account_route(&cx.tenant, &Email::new(e)), e.to_lowercase()))
        .collect();
    let routes: Vec<String> = by_route.keys().cloned().collect();
    let newest = newest_incarnations(conn, &routes).await?;
    let keys: Vec<String> = newest.values().map(|(key, _)| key.clone()).collect();
    let states = statuses(conn, &keys).await?;
    Ok(newest
        .into_iter()
        .filter_map(|(route, (key, version))| {
            let email = by_route.get(&route)?.clone();
            let hold = Hold::of(states.get(&key).map(|s| s.state.as_str()));
            Some((email, FormerAccount { key, version, hold }))
        })
        .collect())
}
