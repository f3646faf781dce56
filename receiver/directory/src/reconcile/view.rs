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

/// A key that acted on an account: its latest version and the incarnation it acted under.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    key: String,
    version: i64,
    incarnation: String,
}

impl Holder {
    /// Whether it took the account after `other`: incarnations are UUIDv7s, so they sort
    /// by when they took it (the workers' incarnation guard compares them the same way).
    /// Two keys of one incarnation (a user and the retirement of its old account) are
    /// ordered by version, the retirement being the later.
    fn after(&self, other: &Holder) -> bool {
        (&self.incarnation, self.version, &self.key)
            > (&other.incarnation, other.version, &other.key)
    }
}

/// The newest incarnation that the outbox holds a job of on each route, as the key of
/// that incarnation's job with that key's latest version; prune keys are no incarnation.
/// The incarnation is the one the key's latest job carries (`state.incarnation`, minted at
/// a userName change, else the SCIM id), not the key's SCIM id: a user renamed onto an
/// account took it after whoever held it, even a user created after it.
pub(crate) async fn newest_incarnations(
    conn: &mut SqliteConnection,
    routes: &[String],
) -> Result<HashMap<String, (String, i64)>, StoreError> {
    let mut newest: HashMap<String, Holder> = HashMap::new();
    for chunk in routes.chunks(ROUTES_PER_QUERY) {
        // SQLite takes a bare column of a MAX() aggregate from the row holding the maximum:
        // the incarnation is the latest job's.
        let sql = format!(
            "SELECT route, key, MAX(version) AS version, \
             COALESCE(json_extract(payload, '$.state.incarnation'), \
                      json_extract(payload, '$.state.user_id')) AS incarnation \
             FROM outbox WHERE kind = 'UserV1' AND route IN ({}) GROUP BY route, key",
            vec!["?"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for route in chunk {
            q = q.bind(route);
        }
        for row in q.fetch_all(&mut *conn).await? {
            let route: String = row.try_get("route")?;
            let holder = Holder {
                key: row.try_get("key")?,
                version: row.try_get("version")?,
                incarnation: row.try_get("incarnation")?,
            };
            let Some(parsed) = JobKey::parse(&holder.key) else {
                continue;
            };
            if is_prune_id(parsed.id()) {
                continue;
            }
            match newest.get(&route) {
                Some(held) if !holder.after(held) => {}
                _ => {
                    newest.insert(route, holder);
                }
            }
        }
    }
    Ok(newest
        .into_iter()
        .map(|(route, h)| (route, (h.key, h.version)))
        .collect())
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
