//! Planning: what a directory write means for Splashtop, as pure functions. The store
//! loads what they need and persists what they return, in the write's transaction
//! (docs/DESIGN.md, invariant 1); every job carries a desired state (invariant 4).
//!
//! # Layout
//! - [`user`]: a user record's desired state and the user jobs that carry it.
//! - [`rename`]: userName changes under the rename policy, and the two jobs of a reinvite.
//! - [`group`]: group jobs, and what a group write changes (members, name, former names).
//! - [`group_write`]: what a group write leaves (members, record, jobs), from what it read.

pub mod group;
pub mod group_write;
pub mod rename;
pub mod user;

use std::collections::HashSet;

use splashsync_protocol::job::JobMeta;
use splashsync_protocol::JobKey;
use splashsync_scim::now_rfc3339;

use crate::model::WriteCtx;

pub use group::{group_job, group_update, groups_after, unresolved_warning, GroupUpdate};
pub use rename::{account_change, admit_user_name, reinvite_jobs, AccountChange};
pub use user::{account_email, desired_state, replaced_user, user_job, user_jobs, AccountSource};

/// The fields every job of a write carries: a fresh, time-ordered job id, the write's
/// tenant and origin, and the key's version.
pub fn meta(cx: &WriteCtx, key: JobKey, version: i64) -> JobMeta {
    JobMeta {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant: cx.tenant.to_string(),
        key,
        version,
        created_at: now_rfc3339(),
        origin: cx.origin.clone(),
        verify: cx.verify,
    }
}

/// `ids` without repeats, first occurrence first.
pub fn unique(ids: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::GroupPolicy;

    /// A write context for plan tests.
    pub(crate) fn cx() -> WriteCtx {
        WriteCtx {
            tenant: splashsync_protocol::Tenant::default(),
            origin: "PATCH /Groups/g1 by token:00000000".into(),
            policy: GroupPolicy::Reject,
            verify: false,
        }
    }

    #[test]
    fn unique_keeps_the_first_of_each() {
        let ids = ["b", "a", "b", "c", "a"].map(String::from);
        assert_eq!(unique(ids), ["b", "a", "c"].map(String::from));
    }
}
