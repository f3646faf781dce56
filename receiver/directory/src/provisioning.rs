//! The provisioning state of a key (operators see everything: docs/DESIGN.md, invariant 7): what the
//! last outcome or dead letter left in `provisioning_status`, overtaken by `pending` when
//! the outbox holds a newer version. One pure function ([`resolve`]) decides, for the
//! audit store and for the SCIM reads alike.

use serde::Serialize;

/// Provisioning states, as operators and the SCIM extension see them.
pub mod state {
    /// A job for the key's latest version is waiting or in flight.
    pub const PENDING: &str = "pending";
    /// Splashtop matches the key's latest version.
    pub const APPLIED: &str = "applied";
    /// The last attempt failed transiently; the worker retries.
    pub const RETRYING: &str = "retrying";
    /// The job is in the dead letters, waiting for an operator.
    pub const DEAD_LETTERED: &str = "dead-lettered";
}

/// The provisioning state of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProvisioningStatus {
    /// The key.
    pub key: String,
    /// One of [`state`]'s values.
    pub state: String,
    /// The directory version the state is about.
    pub version: i64,
    /// The last error, while not applied.
    pub last_error: Option<String>,
    /// Splashtop's id, once known.
    pub splashtop_id: Option<String>,
    /// When the state last changed.
    pub updated: String,
}

/// What `provisioning_status` holds for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRow {
    /// One of [`state`]'s values.
    pub state: String,
    /// The version the state is about.
    pub version: i64,
    /// The last error.
    pub last_error: Option<String>,
    /// Splashtop's id.
    pub splashtop_id: Option<String>,
    /// When the state last changed.
    pub updated: String,
}

/// The newest job of a key in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestJob {
    /// Its version.
    pub version: i64,
    /// When it was written.
    pub created_at: String,
}

/// The state of `key`: the stored row, unless the outbox holds a newer version, which is
/// then `pending` (keeping the row's last error and Splashtop id); `None` when the key
/// has neither.
pub fn resolve(
    key: &str,
    row: Option<StatusRow>,
    latest: Option<LatestJob>,
) -> Option<ProvisioningStatus> {
    let mut status = match row {
        Some(r) => ProvisioningStatus {
            key: key.to_string(),
            state: r.state,
            version: r.version,
            last_error: r.last_error,
            splashtop_id: r.splashtop_id,
            updated: r.updated,
        },
        None => ProvisioningStatus {
            key: key.to_string(),
            state: state::PENDING.into(),
            version: 0,
            last_error: None,
            splashtop_id: None,
            updated: String::new(),
        },
    };
    match latest {
        // A newer version than the last outcome is waiting or in flight.
        Some(l) if l.version > status.version => {
            status.state = state::PENDING.into();
            status.version = l.version;
            status.updated = l.created_at;
            Some(status)
        }
        None if status.version == 0 => None,
        _ => Some(status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(version: i64) -> StatusRow {
        StatusRow {
            state: state::APPLIED.into(),
            version,
            last_error: Some("HTTP 503: earlier".into()),
            splashtop_id: Some("st-1".into()),
            updated: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    fn job(version: i64) -> LatestJob {
        LatestJob {
            version,
            created_at: "2026-01-02T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn a_key_nobody_wrote_has_no_state() {
        assert_eq!(resolve("default/user/u1", None, None), None);
    }

    #[test]
    fn a_job_without_an_outcome_is_pending_at_its_version() {
        let s = resolve("default/user/u1", None, Some(job(1))).unwrap();
        assert_eq!((s.state.as_str(), s.version), (state::PENDING, 1));
        assert_eq!(s.updated, "2026-01-02T00:00:00.000Z");
        assert_eq!(s.splashtop_id, None);
    }

    #[test]
    fn the_outcome_stands_until_a_newer_version_is_written() {
        let s = resolve("k", Some(applied(3)), Some(job(3))).unwrap();
        assert_eq!((s.state.as_str(), s.version), (state::APPLIED, 3));
        let s = resolve("k", Some(applied(3)), Some(job(4))).unwrap();
        assert_eq!((s.state.as_str(), s.version), (state::PENDING, 4));
        // What is known about the key stays while the new version is pending.
        assert_eq!(s.splashtop_id.as_deref(), Some("st-1"));
        assert_eq!(s.last_error.as_deref(), Some("HTTP 503: earlier"));
        assert_eq!(s.updated, "2026-01-02T00:00:00.000Z");
    }

    #[test]
    fn an_outcome_without_its_job_still_counts() {
        let s = resolve("k", Some(applied(2)), None).unwrap();
        assert_eq!(s.state, state::APPLIED);
    }
}
