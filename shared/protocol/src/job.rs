//! The provisioning job schema: what the receiver's outbox holds and RabbitMQ carries.
//!
//! A job describes a desired state, not a step (docs/DESIGN.md, invariant 4): a user job carries the
//! user's whole desired Splashtop state as of one directory version, a group job the
//! group's. The enum is tagged (`"type": "UserV1"`) so that a later `UserV2` can be added
//! while old messages are still in flight.

use serde::{Deserialize, Serialize};

use crate::keys::{account_route, groups_route, Email, JobKey};

/// A provisioning job, versioned by its tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Job {
    /// Converge one user to `state`.
    UserV1(UserJob),
    /// Converge one group to `state`.
    GroupV1(GroupJob),
}

/// Fields every job carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMeta {
    /// Unique id of this job; also the AMQP `message_id`.
    pub job_id: String,
    /// The tenant (one Splashtop team) the job belongs to.
    pub tenant: String,
    /// The ordering key: `{tenant}/user/{id}` or `{tenant}/group/{id}`.
    pub key: JobKey,
    /// The key's directory version this state was taken at; strictly increasing per key.
    pub version: i64,
    /// When the receiver committed the change (RFC 3339).
    pub created_at: String,
    /// The request that caused the job, e.g. `POST /Users`, for operators.
    #[serde(default)]
    pub origin: String,
    /// Read Splashtop's current state of this key before writing, instead of trusting the
    /// workers' mirror of the team: set on the jobs of a drift reconciliation, which found
    /// Splashtop changed behind the workers' back (docs/DESIGN.md, "Reconciliation").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verify: bool,
}

/// A user job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserJob {
    /// Common fields.
    #[serde(flatten)]
    pub meta: JobMeta,
    /// The desired state.
    pub state: UserState,
}

/// A group job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupJob {
    /// Common fields.
    #[serde(flatten)]
    pub meta: JobMeta,
    /// The desired state.
    pub state: GroupState,
}

/// The desired Splashtop state of one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserState {
    /// The directory's SCIM id.
    pub user_id: String,
    /// The SCIM userName.
    pub user_name: String,
    /// The Splashtop account email (the userName, or the primary email when the userName is not one).
    pub email: String,
    /// First name.
    #[serde(default)]
    pub first_name: String,
    /// Last name.
    #[serde(default)]
    pub last_name: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Whether the user should be a member of the team.
    pub active: bool,
    /// The user's one group, or `None` for the team's default group.
    #[serde(default)]
    pub group: Option<GroupRef>,
    /// Splashtop SSO method name, passed through exactly.
    #[serde(default)]
    pub sso_name: Option<String>,
    /// The user was deleted from the directory (hard delete).
    #[serde(default)]
    pub deleted: bool,
    /// The incarnation of the account this state acts under, which the workers'
    /// incarnation guard compares ([`UserState::account_incarnation`]): a UUIDv7 minted
    /// when the user took this account by a userName change (rename policy `reinvite`);
    /// absent while the user holds the account it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incarnation: Option<String>,
}

impl UserState {
    /// Who acts on the account, ordered by when it took the account: the incarnation
    /// minted at a userName change, else the SCIM id (a UUIDv7 minted at the create). A
    /// job of an older holder of the account never acts on it after a newer one's.
    pub fn account_incarnation(&self) -> &str {
        self.incarnation.as_deref().unwrap_or(&self.user_id)
    }
}

/// A reference to a group from a user job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRef {
    /// The directory's SCIM id of the group.
    pub group_id: String,
    /// The group's current display name.
    pub display_name: String,
}

/// The desired Splashtop state of one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// The directory's SCIM id.
    pub group_id: String,
    /// The current display name.
    pub display_name: String,
    /// Names the group had before, newest first, so a rename can find the old group.
    #[serde(default)]
    pub former_names: Vec<String>,
    /// The group was deleted from the directory.
    #[serde(default)]
    pub deleted: bool,
}

impl Job {
    /// The fields every job carries.
    pub fn meta(&self) -> &JobMeta {
        match self {
            Job::UserV1(j) => &j.meta,
            Job::GroupV1(j) => &j.meta,
        }
    }

    /// The partition key: every job of one Splashtop account (user jobs, by email) goes to
    /// the same partition, in commit order; so do all the group jobs of a tenant.
    ///
    /// A user deleted and created again with the same userName gets a new SCIM id (a new
    /// `key`) but is the same Splashtop account, so its jobs must queue behind its
    /// predecessor's. Likewise a group deleted (or renamed away) and another created with
    /// its name are two keys acting on one Splashtop group name: group jobs of a tenant
    /// share one partition so that the delete or rename applies before the create. Group
    /// changes are rare next to user changes, so one partition carries them easily.
    pub fn route(&self) -> String {
        match self {
            Job::UserV1(j) => account_route(j.meta.key.tenant(), &Email::new(&j.state.email)),
            Job::GroupV1(j) => groups_route(j.meta.key.tenant()),
        }
    }

    /// The job's kind for metrics and logs: `user` or `group`.
    pub fn kind(&self) -> &'static str {
        self.meta().key.kind().as_str()
    }

    /// Who the job is about, as operators search for it: a user job's account email, a
    /// group job's name.
    pub fn name(&self) -> &str {
        match self {
            Job::UserV1(j) => j.state.email.as_str(),
            Job::GroupV1(j) => &j.state.display_name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Tenant;

    fn user_key(tenant: &str, id: &str) -> JobKey {
        JobKey::user(&Tenant::parse(tenant).unwrap(), id)
    }

    fn group_key(tenant: &str, id: &str) -> JobKey {
        JobKey::group(&Tenant::parse(tenant).unwrap(), id)
    }

    fn meta() -> JobMeta {
        JobMeta {
            job_id: "j1".into(),
            tenant: "default".into(),
            key: user_key("default", "u1"),
            version: 3,
            created_at: "2026-01-01T00:00:00Z".into(),
            origin: "POST /Users".into(),
            verify: false,
        }
    }

    #[test]
    fn a_user_job_is_tagged_and_flat_on_the_wire() {
        let job = Job::UserV1(UserJob {
            meta: meta(),
            state: UserState {
                user_id: "u1".into(),
                user_name: "a@b.com".into(),
                email: "a@b.com".into(),
                first_name: "A".into(),
                last_name: "B".into(),
                display_name: "A B".into(),
                active: true,
                group: None,
                sso_name: Some("Okta SSO".into()),
                deleted: false,
                incarnation: None,
            },
        });
        let wire = serde_json::to_value(&job).unwrap();
        assert_eq!(wire["type"], "UserV1");
        assert_eq!(wire["version"], 3);
        assert_eq!(wire["key"], "default/user/u1");
        assert_eq!(wire["state"]["sso_name"], "Okta SSO");
        let back: Job = serde_json::from_value(wire).unwrap();
        assert_eq!(back, job);
    }

    #[test]
    fn a_user_job_routes_by_account_and_a_group_job_by_key() {
        let mut state = UserState {
            user_id: "u1".into(),
            user_name: "A@B.com".into(),
            email: "A@B.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            display_name: String::new(),
            active: true,
            group: None,
            sso_name: None,
            deleted: false,
            incarnation: None,
        };
        let first = Job::UserV1(UserJob {
            meta: meta(),
            state: state.clone(),
        });
        state.user_id = "u2".into();
        let again = Job::UserV1(UserJob {
            meta: JobMeta {
                key: user_key("default", "u2"),
                ..meta()
            },
            state,
        });
        assert_eq!(first.route(), "default/account/a@b.com");
        assert_eq!(
            first.route(),
            again.route(),
            "a re-created account shares its partition"
        );
        let group = Job::GroupV1(GroupJob {
            meta: JobMeta {
                key: group_key("default", "g1"),
                ..meta()
            },
            state: GroupState {
                group_id: "g1".into(),
                display_name: "G".into(),
                former_names: vec![],
                deleted: false,
            },
        });
        assert_eq!(
            group.route(),
            "default/groups",
            "all group jobs of a tenant in order"
        );
    }

    #[test]
    fn the_incarnation_is_the_scim_id_until_a_rename_mints_one() {
        let mut state: UserState = serde_json::from_value(serde_json::json!({
            "user_id": "u1", "user_name": "a@b.com", "email": "a@b.com", "active": true
        }))
        .unwrap();
        assert_eq!(state.account_incarnation(), "u1");
        assert!(!serde_json::to_string(&state)
            .unwrap()
            .contains("incarnation"));
        state.incarnation = Some("u9".into());
        assert_eq!(state.account_incarnation(), "u9");
        let wire = serde_json::to_value(&state).unwrap();
        assert_eq!(wire["incarnation"], "u9");
    }

    #[test]
    fn an_unknown_job_type_is_refused() {
        let err = serde_json::from_str::<Job>(r#"{"type":"UserV9","job_id":"x"}"#);
        assert!(err.is_err());
    }
}
