//! Provisioning states read with the resources on PostgreSQL: one statement for a whole
//! page of keys (the state row and the key's newest outbox job), resolved by
//! [`crate::provisioning::resolve`], the same function SQLite's reads use.

use std::collections::HashMap;

use splashsync_protocol::Tenant;
use sqlx::PgConnection;

use crate::error::StoreError;
use crate::provisioning::ProvisioningStatus;
use crate::rows::{self, Provisioned};

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
        if let Some(status) = rows::status(&r)? {
            out.insert(status.key.clone(), status);
        }
    }
    Ok(out)
}

/// Fills each record's provisioning state in `tenant`.
pub(crate) async fn attach<R: Provisioned>(
    conn: &mut PgConnection,
    tenant: &Tenant,
    records: &mut [R],
) -> Result<(), StoreError> {
    let keys = rows::keys_of(tenant, records);
    let found = statuses(conn, &keys).await?;
    rows::fill(records, &keys, found);
    Ok(())
}
