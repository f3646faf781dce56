//! Provisioning states read with the resources: one statement for a whole page of keys
//! (the state row and the key's newest outbox job, joined), resolved by
//! [`crate::provisioning::resolve`].

use std::collections::HashMap;

use splashsync_protocol::{JobKey, Tenant};
use sqlx::{Row, SqliteConnection};

use crate::error::StoreError;
use crate::model::{GroupRecord, UserRecord};
use crate::provisioning::{resolve, LatestJob, ProvisioningStatus, StatusRow};

/// Keys per statement: a full page (at most 1000 resources) in one.
const KEYS_PER_QUERY: usize = 1000;

/// The state of each key that has one.
pub(crate) async fn statuses(
    conn: &mut SqliteConnection,
    keys: &[String],
) -> Result<HashMap<String, ProvisioningStatus>, StoreError> {
    let mut out = HashMap::with_capacity(keys.len());
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "WITH k(key) AS (VALUES {}) \
             SELECT k.key AS key, p.state AS state, p.version AS version, p.last_error AS last_error, \
             p.splashtop_id AS splashtop_id, p.updated AS updated, \
             o.version AS latest_version, o.created_at AS latest_at \
             FROM k LEFT JOIN provisioning_status p ON p.key = k.key \
             LEFT JOIN outbox o ON o.seq = (SELECT MAX(seq) FROM outbox WHERE key = k.key)",
            vec!["(?)"; chunk.len()].join(", ")
        );
        let mut q = sqlx::query(&sql);
        for key in chunk {
            q = q.bind(key);
        }
        for r in q.fetch_all(&mut *conn).await? {
            let key: String = r.try_get("key")?;
            let state: Option<String> = r.try_get("state")?;
            let row = match state {
                Some(state) => Some(StatusRow {
                    state,
                    version: r.try_get("version")?,
                    last_error: r.try_get("last_error")?,
                    splashtop_id: r.try_get("splashtop_id")?,
                    updated: r.try_get("updated")?,
                }),
                None => None,
            };
            let latest = match r.try_get::<Option<i64>, _>("latest_version")? {
                Some(version) => Some(LatestJob {
                    version,
                    created_at: r.try_get("latest_at")?,
                }),
                None => None,
            };
            if let Some(status) = resolve(&key, row, latest) {
                out.insert(key, status);
            }
        }
    }
    Ok(out)
}

/// Fills each user's provisioning state.
pub(crate) async fn attach_users(
    conn: &mut SqliteConnection,
    tenant: &Tenant,
    users: &mut [UserRecord],
) -> Result<(), StoreError> {
    let keys: Vec<String> = users
        .iter()
        .map(|u| JobKey::user(tenant, &u.id).to_string())
        .collect();
    let mut found = statuses(conn, &keys).await?;
    for (user, key) in users.iter_mut().zip(&keys) {
        user.provisioning = found.remove(key);
    }
    Ok(())
}

/// Fills each group's provisioning state.
pub(crate) async fn attach_groups(
    conn: &mut SqliteConnection,
    tenant: &Tenant,
    groups: &mut [GroupRecord],
) -> Result<(), StoreError> {
    let keys: Vec<String> = groups
        .iter()
        .map(|g| JobKey::group(tenant, &g.id).to_string())
        .collect();
    let mut found = statuses(conn, &keys).await?;
    for (group, key) in groups.iter_mut().zip(&keys) {
        group.provisioning = found.remove(key);
    }
    Ok(())
}
