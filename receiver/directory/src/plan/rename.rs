//! userName changes under the rename policy (`SPLASHSYNC_RENAME_POLICY`): whether a change
//! moves the user to another Splashtop account, what the policy answers, and the two jobs
//! of a reinvite.
//!
//! A Splashtop account is its email and cannot be renamed. The account email is the
//! userName, or the primary email when the userName is no email ([`account_email`]), so a
//! change of either can change the account; both follow the one policy:
//! - `reject`: 400 `mutability` with the reason (a case-only change is the same account
//!   and keeps the stored spelling);
//! - `reinvite`: the SCIM id stays; in the change's transaction the user's job on its new
//!   account invites it (names, group), and a job on the old account retires it (an
//!   ordinary inactive state, removed or deleted per the worker's deactivate mode).
//!
//! The two jobs travel on different partitions (each account's), so they must not share a
//! version key: the retirement has its own, [`JobKey::retirement`], at the same directory
//! version. And the user takes the new account as a new incarnation of it (a UUIDv7 minted
//! now), so the workers' incarnation guard orders it after whoever held the account
//! before, even a user created after it (docs/DESIGN.md, invariant 5).

use serde_json::{Map, Value};
use splashsync_protocol::job::{GroupRef, Job, UserJob};
use splashsync_protocol::{Email, JobKey};
use splashsync_scim::{ScimError, ScimType};

use super::meta;
use super::user::{account_email, desired_state, user_job};
use crate::model::{RenamePolicy, UserRecord, WriteCtx};

/// The Splashtop account email of a userName and body.
fn account_of_body(user_name: &str, resource: &Value) -> Email {
    let empty = Map::new();
    let obj = resource.as_object().unwrap_or(&empty);
    Email::new(account_email(user_name, obj).0)
}

/// The Splashtop account email a record holds.
pub fn account_of(record: &UserRecord) -> Email {
    account_of_body(&record.user_name, &record.resource)
}

/// A user moving from one Splashtop account to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountChange {
    /// The account it held.
    pub from: Email,
    /// The account it holds now.
    pub to: Email,
}

/// The account change from `current` to `next`, if the account email changes other than
/// in case (Splashtop emails are case-insensitive).
pub fn account_change(current: &UserRecord, next: &UserRecord) -> Option<AccountChange> {
    let (from, to) = (account_of(current), account_of(next));
    (from != to).then_some(AccountChange { from, to })
}

/// The body a PUT or PATCH may store, given the policy: a case-only userName change keeps
/// the stored spelling; under `reject` any other userName change, and a change of the
/// primary email that stands for the account, is 400 `mutability` saying why and what
/// to do; under `reinvite` they pass (the store then writes the reinvite).
pub fn admit_user_name(
    policy: RenamePolicy,
    current: &UserRecord,
    mut next: Value,
) -> Result<Value, ScimError> {
    let proposed = next
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if proposed.eq_ignore_ascii_case(&current.user_name) {
        if let Some(obj) = next.as_object_mut() {
            obj.insert("userName".into(), Value::String(current.user_name.clone()));
        }
    } else if policy == RenamePolicy::Reject {
        return Err(user_name_immutable(&current.user_name, &proposed));
    }
    if policy == RenamePolicy::Reject {
        let (from, to) = (
            account_of(current),
            account_of_body(&current.user_name, &next),
        );
        if from != to {
            return Err(account_immutable(&current.user_name, &from, &to));
        }
    }
    Ok(next)
}

/// What `reject` says, and what would accept the change.
const HOW_TO: &str = "Splashtop cannot rename an account (rename policy: reject). Deprovision \
     the user and provision the new one, or set SPLASHSYNC_RENAME_POLICY=reinvite to invite \
     the new account and retire the old one";

/// 400 `mutability` for a userName change under `reject`.
pub fn user_name_immutable(from: &str, to: &str) -> ScimError {
    ScimError::bad_request(
        ScimType::Mutability,
        format!(
            "userName cannot change (from {from:?} to {to:?}): it is the user's Splashtop account. {HOW_TO}"
        ),
    )
}

/// 400 `mutability` for a change of the primary email standing for the account of a
/// user whose userName is no email, under `reject`.
pub fn account_immutable(user_name: &str, from: &Email, to: &Email) -> ScimError {
    ScimError::bad_request(
        ScimType::Mutability,
        format!(
            "the primary email cannot change (from {:?} to {:?}): userName {user_name:?} is no \
             email, so the primary email is the user's Splashtop account. {HOW_TO}",
            from.as_str(),
            to.as_str()
        ),
    )
}

/// What the timeline says of a reinvite (the origin of both its jobs).
pub fn reinvite_note(current: &UserRecord, next: &UserRecord, change: &AccountChange) -> String {
    let (from, to) = (change.from.as_str(), change.to.as_str());
    let invited = match desired_state(next, None).active {
        true => format!("{to} invited"),
        false => format!("{to} not invited (the user is inactive)"),
    };
    if current.user_name.eq_ignore_ascii_case(&next.user_name) {
        format!("account email changed from {from} to {to}: {invited}, {from} retired")
    } else {
        let (a, b) = (&current.user_name, &next.user_name);
        format!("userName changed from {a} to {b}: {invited}, {from} retired")
    }
}

/// The two jobs of a reinvite, at `next`'s version: the user's job inviting its new
/// account in `group` under the incarnation `minted`, then the retirement of the old
/// account (inactive, no group) under the incarnation it was `held` by, on its own key.
pub fn reinvite_jobs(
    cx: &WriteCtx,
    current: &UserRecord,
    next: &UserRecord,
    group: Option<GroupRef>,
    held: Option<String>,
    minted: String,
) -> Option<[Job; 2]> {
    let change = account_change(current, next)?;
    let cx = WriteCtx {
        origin: format!("{}: {}", cx.origin, reinvite_note(current, next, &change)),
        ..cx.clone()
    };
    let invite = user_job(&cx, next, group, false, Some(minted));
    let mut gone = desired_state(current, None);
    gone.active = false;
    gone.incarnation = held;
    let key = JobKey::retirement(&cx.tenant, &next.id, &change.from);
    let retire = Job::UserV1(UserJob {
        meta: meta(&cx, key, next.version),
        state: gone,
    });
    Some([invite, retire])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(user_name: &str, resource: Value, version: i64) -> UserRecord {
        UserRecord {
            id: "0190-u1".into(),
            user_name: user_name.into(),
            resource,
            version,
            created: String::new(),
            last_modified: String::new(),
            groups: Vec::new(),
            provisioning: None,
        }
    }

    fn named(user_name: &str) -> UserRecord {
        record(
            user_name,
            json!({"userName": user_name, "active": true, "name": {"givenName": "Ada", "familyName": "L"}}),
            4,
        )
    }

    fn state(job: &Job) -> &UserJob {
        match job {
            Job::UserV1(j) => j,
            Job::GroupV1(_) => panic!("a user job"),
        }
    }

    #[test]
    fn a_case_only_change_keeps_the_spelling_under_both_policies() {
        for policy in RenamePolicy::ALL {
            let body = admit_user_name(
                policy,
                &named("Ada@X.com"),
                json!({"userName": "ada@x.COM"}),
            )
            .unwrap();
            assert_eq!(body["userName"], "Ada@X.com", "{policy:?}");
        }
        assert_eq!(
            account_change(&named("Ada@X.com"), &named("ada@x.com")),
            None
        );
    }

    #[test]
    fn reject_refuses_a_user_name_change_saying_why_and_what_accepts_it() {
        let err = admit_user_name(
            RenamePolicy::Reject,
            &named("a@x.com"),
            json!({"userName": "b@x.com"}),
        )
        .unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::Mutability));
        for said in [
            "\"a@x.com\"",
            "\"b@x.com\"",
            "Splashtop account",
            "SPLASHSYNC_RENAME_POLICY=reinvite",
        ] {
            assert!(err.detail().contains(said), "{said}: {}", err.detail());
        }
        let body = admit_user_name(
            RenamePolicy::Reinvite,
            &named("a@x.com"),
            json!({"userName": "b@x.com"}),
        )
        .unwrap();
        assert_eq!(body["userName"], "b@x.com");
    }

    #[test]
    fn the_primary_email_of_a_non_email_user_name_is_the_account_under_the_same_policy() {
        let jdoe = |email: &str| {
            record(
                "jdoe",
                json!({"userName": "jdoe", "emails": [{"value": email, "primary": true}]}),
                2,
            )
        };
        let moved =
            json!({"userName": "jdoe", "emails": [{"value": "new@x.com", "primary": true}]});
        let err =
            admit_user_name(RenamePolicy::Reject, &jdoe("old@x.com"), moved.clone()).unwrap_err();
        assert_eq!(err.scim_type(), Some(ScimType::Mutability));
        assert!(err.detail().contains("primary email"), "{}", err.detail());
        assert!(admit_user_name(RenamePolicy::Reinvite, &jdoe("old@x.com"), moved).is_ok());
        // Other email changes, and the email's case, are no account change.
        let same = json!({"userName": "jdoe", "emails": [{"value": "OLD@x.com", "primary": true}, {"value": "z@x.com"}]});
        assert!(admit_user_name(RenamePolicy::Reject, &jdoe("old@x.com"), same).is_ok());
        let change = account_change(&jdoe("old@x.com"), &jdoe("new@x.com")).unwrap();
        assert_eq!(
            (change.from.as_str(), change.to.as_str()),
            ("old@x.com", "new@x.com")
        );
        // A non-email userName changing while the primary email stays: the same account.
        assert_eq!(
            account_change(
                &jdoe("old@x.com"),
                &UserRecord {
                    user_name: "jdoe2".into(),
                    ..jdoe("old@x.com")
                }
            ),
            None
        );
    }

    #[test]
    fn a_reinvite_invites_the_new_account_and_retires_the_old_on_its_own_key() {
        let cx = crate::plan::tests::cx();
        let current = named("a@x.com");
        let next = UserRecord {
            version: 5,
            ..named("b@x.com")
        };
        let sales = GroupRef {
            group_id: "g1".into(),
            display_name: "Sales".into(),
        };
        let [invite, retire] = reinvite_jobs(
            &cx,
            &current,
            &next,
            Some(sales.clone()),
            None,
            "0199-minted".into(),
        )
        .unwrap();
        let (invite, retire) = (state(&invite), state(&retire));
        assert_eq!(invite.meta.key, JobKey::user(&cx.tenant, "0190-u1"));
        assert_eq!(
            retire.meta.key,
            JobKey::retirement(&cx.tenant, "0190-u1", &Email::new("a@x.com"))
        );
        assert_eq!((invite.meta.version, retire.meta.version), (5, 5));
        assert_eq!(
            (invite.state.email.as_str(), invite.state.active),
            ("b@x.com", true)
        );
        assert_eq!(invite.state.group.as_ref(), Some(&sales));
        assert_eq!(invite.state.first_name, "Ada");
        assert_eq!(invite.state.account_incarnation(), "0199-minted");
        assert_eq!(
            (
                retire.state.email.as_str(),
                retire.state.active,
                retire.state.deleted
            ),
            ("a@x.com", false, false)
        );
        assert_eq!(retire.state.group, None);
        assert_eq!(
            retire.state.account_incarnation(),
            "0190-u1",
            "held since its create"
        );
        assert_ne!(
            Job::UserV1(invite.clone()).route(),
            Job::UserV1(retire.clone()).route()
        );
        for origin in [&invite.meta.origin, &retire.meta.origin] {
            assert!(
                origin.ends_with(
                    "userName changed from a@x.com to b@x.com: b@x.com invited, a@x.com retired"
                ),
                "{origin}"
            );
            assert!(origin.starts_with(&cx.origin), "{origin}");
        }
        // Held under an earlier rename's incarnation: the retirement says so.
        let [_, retire] = reinvite_jobs(
            &cx,
            &current,
            &next,
            None,
            Some("0195-held".into()),
            "0199-m".into(),
        )
        .unwrap();
        assert_eq!(state(&retire).state.account_incarnation(), "0195-held");
        // No account change: no reinvite.
        assert!(reinvite_jobs(
            &cx,
            &current,
            &UserRecord {
                version: 5,
                ..named("A@x.com")
            },
            None,
            None,
            "m".into()
        )
        .is_none());
    }
}
