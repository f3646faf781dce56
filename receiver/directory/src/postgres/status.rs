//! Provisioning states read with the resources on PostgreSQL: one statement for a whole
//! page of keys (the state row and the key's newest outbox job), resolved by
//! [`crate::provisioning::resolve`], the same function SQLite's reads use.

use std::collections::HashMap;

use splashsync_protocol::{JobKey, Tenant};
use sqlx::{PgConnection, Row};

use crate::error::StoreError;
use crate::model::{GroupRecord, UserRecord};
use crate::provisioning::{resolve, LatestJob, ProvisioningStatus, StatusRow};

/// The state of each key that has one.
pub(crate) async fn statuses(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<HashMap<String, ProvisioningStatus>, StoreError> {
    let mut out = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(out);
    }
    let rows = sqlx::query(
        "SELECT k.key AS key, p.state, p.version, p.last_error, p.splashtop_id, p.updated, \
         o.version AS latest_version, o.created_at AS latest_at \
         FROM unnest($1::text[]) AS k(key) \
         LEFT JOIN provisioning_status p ON p.key = k.key \
         LEFT JOIN LATERAL (SELECT version, created_at FROM outbox WHERE key = k.key \
         ORDER BY seq DESC LIMIT 1) o ON true",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let key: String = r.try_get("key")?;
        let row = match r.try_get::<Option<String>, _>("state")? {
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
    Ok(out)
}

/// Fills each user's provisioning state.
pub(crate) async fn attach_users(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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
