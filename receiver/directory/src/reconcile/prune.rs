//! The key of a removal job for an account the directory never owned (`--prune`).
//!
//! A user job needs a key (`{tenant}/user/{id}`) and its route is the account
//! (`{tenant}/account/{email}`), so the removal queues in order with any job of the same
//! account. The id is UUID-shaped and sorts **below every real SCIM id** (UUIDv7, whose
//! first 48 bits are the creation time): the worker's incarnation guard lets a job act on
//! an account only if its id is not older than the newest id that already acted on it, so
//! a user created later with this email (a higher id) always acts after the removal,
//! never the other way round. The id is derived from the email, so every prune of one
//! account uses one key and its versions grow.

use splashsync_protocol::job::{Job, UserJob, UserState};
use splashsync_protocol::partition::fnv1a64;
use splashsync_protocol::JobKey;

use super::SeenUser;
use crate::model::WriteCtx;
use crate::plan;

/// The prune id of the account `email`: `00000000-0000-7000-8xxx-xxxxxxxxxxxx`, the `x`
/// from a hash of the lower-case email.
pub fn prune_id(email: &str) -> String {
    let hash = format!("{:016x}", fnv1a64(email.to_lowercase().as_bytes()));
    format!("00000000-0000-7000-8{}-{}", &hash[..3], &hash[4..16])
}

/// Whether `id` (a key's id) is a prune id.
pub fn is_prune_id(id: &str) -> bool {
    id.starts_with("00000000-0000-7000-8")
}

/// The removal job of an account the directory never owned, at `version`.
pub fn prune_job(cx: &WriteCtx, user: &SeenUser, version: i64) -> Job {
    let id = prune_id(&user.email);
    Job::UserV1(UserJob {
        meta: plan::meta(cx, JobKey::user(&cx.tenant, &id), version),
        state: UserState {
            user_id: id,
            user_name: user.email.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            display_name: user.display_name.clone(),
            active: false,
            group: None,
            sso_name: None,
            deleted: true,
            incarnation: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prune_id_is_stable_per_account_and_older_than_any_real_id() {
        assert_eq!(prune_id("A@x.com"), prune_id("a@x.com"));
        assert_ne!(prune_id("a@x.com"), prune_id("b@x.com"));
        let real = uuid::Uuid::now_v7().to_string();
        assert!(prune_id("a@x.com") < real);
        assert!(uuid::Uuid::parse_str(&prune_id("a@x.com")).is_ok());
        assert!(is_prune_id(&prune_id("a@x.com")) && !is_prune_id(&real));
    }

    #[test]
    fn a_prune_job_routes_by_the_account_and_deletes() {
        let user = SeenUser {
            email: "Hand@x.com".into(),
            first_name: "H".into(),
            last_name: "M".into(),
            display_name: "H M".into(),
            sso_name: None,
            group: None,
        };
        let cx = crate::plan::tests::cx();
        let job = prune_job(&cx, &user, 2);
        assert_eq!(job.route(), "default/account/hand@x.com");
        let Job::UserV1(j) = job else {
            panic!("a user job")
        };
        assert!(j.state.deleted && !j.state.active);
        assert_eq!(j.meta.version, 2);
    }
}
