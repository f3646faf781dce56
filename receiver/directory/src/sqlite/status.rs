//! Provisioning states read with the resources: one statement for a whole page of keys
//! (the state row and the key's newest outbox job, joined), resolved by
//! [`crate::provisioning::resolve`].

use std::collections::HashMap;

use splashsync_protocol::Tenant;
use sqlx::SqliteConnection;

use crate::error::StoreError;
use crate::provisioning::ProvisioningStatus;
use crate::rows::{self, Provisioned};

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
            if let Some(status) = rows::status(&r)? {
                out.insert(status.key.clone(), status);
            }
        }
    }
    Ok(out)
}

/// Fills each record's provisioning state in `tenant`.
pub(crate) async fn attach<R: Provisioned>(
    conn: &mut SqliteConnection,
    tenant: &Tenant,
    records: &mut [R],
) -> Result<(), StoreError> {
    let keys = rows::keys_of(tenant, records);
    let found = statuses(conn, &keys).await?;
    rows::fill(records, &keys, found);
    Ok(())
}
