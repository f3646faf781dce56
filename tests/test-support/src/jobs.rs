//! Provisioning jobs as the relay publishes them, for tests that drive workers straight from
//! the broker, and the choice of an account that lands on a given partition.

use splashsync_protocol::job::{GroupJob, GroupRef, GroupState, Job, JobMeta, UserJob, UserState};
use splashsync_protocol::keys::{account_route, Email};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::{JobKey, Tenant};

/// The parts of a user's desired state tests vary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    /// First name.
    pub first_name: String,
    /// Whether the user is active.
    pub active: bool,
    /// (group id, group display name).
    pub group: Option<(String, String)>,
    /// SSO method.
    pub sso_name: Option<String>,
}

impl UserSpec {
    /// An active user named `first_name`, in no group, without SSO.
    pub fn active(first_name: &str) -> Self {
        Self {
            first_name: first_name.into(),
            active: true,
            ..Self::default()
        }
    }
}

fn meta(key: JobKey, version: i64) -> JobMeta {
    JobMeta {
        job_id: uuid::Uuid::now_v7().to_string(),
        tenant: "default".into(),
        key,
        version,
        created_at: "2026-01-01T00:00:00Z".into(),
        origin: "test".into(),
    }
}

/// A user job for `u{n}@example.com` (SCIM id `u{n}`) at `version`.
pub fn user_job(n: usize, version: i64, state: UserSpec) -> Job {
    account_job(
        &format!("u{n}"),
        &format!("u{n}@example.com"),
        version,
        state,
    )
}

/// A user job of the SCIM user `user_id` on the Splashtop account `email` at `version`.
pub fn account_job(user_id: &str, email: &str, version: i64, state: UserSpec) -> Job {
    user_job_of(user_id, email, version, state, false)
}

/// The delete of the SCIM user `user_id` on the account `email` at `version`.
pub fn delete_job(user_id: &str, email: &str, version: i64) -> Job {
    user_job_of(user_id, email, version, UserSpec::default(), true)
}

fn user_job_of(user_id: &str, email: &str, version: i64, state: UserSpec, deleted: bool) -> Job {
    Job::UserV1(UserJob {
        meta: meta(JobKey::user(&Tenant::default(), user_id), version),
        state: UserState {
            user_id: user_id.into(),
            user_name: email.into(),
            email: email.into(),
            first_name: state.first_name.clone(),
            last_name: "Test".into(),
            display_name: format!("{} Test", state.first_name),
            active: state.active && !deleted,
            group: state.group.map(|(gid, name)| GroupRef {
                group_id: gid,
                display_name: name,
            }),
            sso_name: state.sso_name,
            deleted,
            incarnation: None,
        },
    })
}

/// A group job for group `gid` at `version`.
pub fn group_job(gid: &str, version: i64, name: &str, former: Vec<String>, deleted: bool) -> Job {
    Job::GroupV1(GroupJob {
        meta: meta(JobKey::group(&Tenant::default(), gid), version),
        state: GroupState {
            group_id: gid.into(),
            display_name: name.into(),
            former_names: former,
            deleted,
        },
    })
}

/// The first `{stem}-{i}@example.com` whose account's jobs go to `partition`: a marker job
/// queued behind every job of that partition.
pub fn email_in_partition(topology: &Topology, partition: u16, stem: &str) -> String {
    (0..)
        .map(|i| format!("{stem}-{i}@example.com"))
        .find(|email| {
            topology.partition_of(&account_route(&Tenant::default(), &Email::new(email)))
                == partition
        })
        .expect("some email lands on every partition")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_email_lands_on_the_partition_asked_for() {
        let topology = Topology::new("t-markers", 4);
        for p in 0..4 {
            let email = email_in_partition(&topology, p, "marker");
            let route = account_route(&Tenant::default(), &Email::new(&email));
            assert_eq!(topology.partition_of(&route), p, "{email}");
        }
    }

    #[test]
    fn a_delete_job_is_inactive_and_deleted() {
        let Job::UserV1(job) = delete_job("old", "same@example.com", 2) else {
            panic!("a user job")
        };
        assert!(job.state.deleted && !job.state.active);
    }
}
