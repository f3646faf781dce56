//! Rows of either engine, read by column name, and what both engines decode from them.
//!
//! Each engine keeps its SQL and its transaction plumbing; what a row *means* (a user, a
//! group, an incident, a provisioning state) is decoded once, here and in the modules that
//! take a [`Get`], so SQLite and PostgreSQL cannot drift apart on it.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as Json;
use splashsync_protocol::{JobKey, Tenant};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Postgres, Row, Sqlite, Type};

use crate::error::StoreError;
use crate::model::{GroupLink, GroupRecord, Member, PendingJob, UserRecord};
use crate::provisioning::{resolve, LatestJob, ProvisioningStatus, StatusRow};

/// A column type both engines decode (text, integers, booleans and their `Option`s).
pub(crate) trait Value:
    Sized + for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres>
{
}

impl<T> Value for T where
    T: Sized
        + for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
{
}

/// A row of either engine, read by column name.
pub(crate) trait Get {
    /// Column `name` of the row, decoded as `T`.
    fn get<T: Value>(&self, name: &str) -> Result<T, sqlx::Error>;
}

impl Get for SqliteRow {
    fn get<T: Value>(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}

impl Get for PgRow {
    fn get<T: Value>(&self, name: &str) -> Result<T, sqlx::Error> {
        self.try_get(name)
    }
}

/// A JSON column that does not parse, as the store's error.
pub(crate) fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e))))
}

/// A JSON body stored as text (PostgreSQL's `jsonb` is read as `::text`, like SQLite's).
pub(crate) fn json(text: &str) -> Result<Json, StoreError> {
    serde_json::from_str(text).map_err(decode_error)
}

/// A user record from a row of `id, user_name, resource, version, created, last_modified`
/// (groups not loaded).
pub(crate) fn user(row: &impl Get) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: row.get("id")?,
        user_name: row.get("user_name")?,
        resource: json(&row.get::<String>("resource")?)?,
        version: row.get("version")?,
        created: row.get("created")?,
        last_modified: row.get("last_modified")?,
        groups: Vec::new(),
        provisioning: None,
    })
}

/// A group record from a row of `id, display_name, resource, version, created,
/// last_modified` (members not loaded).
pub(crate) fn group(row: &impl Get) -> Result<GroupRecord, StoreError> {
    Ok(GroupRecord {
        id: row.get("id")?,
        display_name: row.get("display_name")?,
        resource: json(&row.get::<String>("resource")?)?,
        version: row.get("version")?,
        created: row.get("created")?,
        last_modified: row.get("last_modified")?,
        members: Vec::new(),
        provisioning: None,
    })
}

/// Up to `$1` unsent jobs in commit (`seq`) order, the relay's next batch.
pub(crate) const PENDING_JOBS: &str =
    "SELECT seq, job_id, key, route, kind, payload FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1";

/// An unsent job from a row of [`PENDING_JOBS`].
pub(crate) fn pending_job(r: &impl Get) -> Result<PendingJob, StoreError> {
    Ok(PendingJob {
        seq: r.get("seq")?,
        job_id: r.get("job_id")?,
        key: r.get("key")?,
        route: r.get("route")?,
        kind: r.get("kind")?,
        payload: r.get("payload")?,
    })
}

/// How a group lists a user: its displayName, or its userName (the `display_name`
/// column, or `user_name`, as the engines' member reads take them).
pub(crate) fn display_of(user: &UserRecord) -> String {
    user_columns_of(&user.resource)
        .1
        .unwrap_or_else(|| user.user_name.clone())
}

/// The indexed columns of a user body: (externalId, displayName).
pub(crate) fn user_columns_of(resource: &Json) -> (Option<String>, Option<String>) {
    let s = |k: &str| resource.get(k).and_then(Json::as_str).map(str::to_string);
    (s("externalId"), s("displayName"))
}

/// The indexed externalId of a group body.
pub(crate) fn external_id(resource: &Json) -> Option<String> {
    user_columns_of(resource).0
}

/// Where each record of a page is, by id (a page's rows find their record in O(1)).
fn positions<'a>(ids: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    ids.enumerate().map(|(i, id)| (id.clone(), i)).collect()
}

/// A membership row of `user_id, id, display_name` (the group's), as its user's link.
pub(crate) fn link(row: &impl Get) -> Result<(String, GroupLink), StoreError> {
    Ok((
        row.get("user_id")?,
        GroupLink {
            group_id: row.get("id")?,
            display_name: row.get("display_name")?,
        },
    ))
}

/// Gives each user its links, in the order they come.
pub(crate) fn attach_links(
    users: &mut [UserRecord],
    links: impl IntoIterator<Item = (String, GroupLink)>,
) {
    let at = positions(users.iter().map(|u| &u.id));
    for (user_id, link) in links {
        if let Some(&i) = at.get(&user_id) {
            users[i].groups.push(link);
        }
    }
}

/// Gives each group its members from `(group id, member id, display)` in joining order;
/// a member without a display is an id that matches no user (unresolved).
pub(crate) fn attach_members(
    groups: &mut [GroupRecord],
    members: impl IntoIterator<Item = (String, String, Option<String>)>,
) {
    let at = positions(groups.iter().map(|g| &g.id));
    for (group_id, user_id, display) in members {
        if let Some(&i) = at.get(&group_id) {
            groups[i].members.push(Member {
                user_id,
                resolved: display.is_some(),
                display: display.unwrap_or_default(),
            });
        }
    }
}

/// A key's provisioning state from a row of the status join (`key, state, version,
/// last_error, splashtop_id, updated, latest_version, latest_at`), resolved by
/// [`resolve`]; `None` when the key has neither a state nor a job.
pub(crate) fn status(r: &impl Get) -> Result<Option<ProvisioningStatus>, StoreError> {
    let key: String = r.get("key")?;
    let row = match r.get::<Option<String>>("state")? {
        Some(state) => Some(StatusRow {
            state,
            version: r.get("version")?,
            last_error: r.get("last_error")?,
            splashtop_id: r.get("splashtop_id")?,
            updated: r.get("updated")?,
        }),
        None => None,
    };
    let latest = match r.get::<Option<i64>>("latest_version")? {
        Some(version) => Some(LatestJob {
            version,
            created_at: r.get("latest_at")?,
        }),
        None => None,
    };
    Ok(resolve(&key, row, latest))
}

/// A record a read attaches its provisioning state to.
pub(crate) trait Provisioned {
    /// Its job key in `tenant`.
    fn key(&self, tenant: &Tenant) -> String;
    /// Sets its state (`None`: the key has none).
    fn set_provisioning(&mut self, status: Option<ProvisioningStatus>);
}

impl Provisioned for UserRecord {
    fn key(&self, tenant: &Tenant) -> String {
        JobKey::user(tenant, &self.id).to_string()
    }
    fn set_provisioning(&mut self, status: Option<ProvisioningStatus>) {
        self.provisioning = status;
    }
}

impl Provisioned for GroupRecord {
    fn key(&self, tenant: &Tenant) -> String {
        JobKey::group(tenant, &self.id).to_string()
    }
    fn set_provisioning(&mut self, status: Option<ProvisioningStatus>) {
        self.provisioning = status;
    }
}

/// The job keys of `records` in `tenant`, in their order.
pub(crate) fn keys_of<R: Provisioned>(tenant: &Tenant, records: &[R]) -> Vec<String> {
    records.iter().map(|r| r.key(tenant)).collect()
}

/// Gives each record the state `found` holds under its key (`keys` from [`keys_of`]).
pub(crate) fn fill<R: Provisioned>(
    records: &mut [R],
    keys: &[String],
    mut found: HashMap<String, ProvisioningStatus>,
) {
    for (record, key) in records.iter_mut().zip(keys) {
        record.set_provisioning(found.remove(key));
    }
}
