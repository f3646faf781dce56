//! A user record as Splashtop should see it: its desired state, and the user jobs that
//! carry it.

use std::collections::HashMap;

use serde_json::{Map, Value};
use splashsync_protocol::job::{GroupRef, Job, UserJob, UserState};
use splashsync_protocol::JobKey;
use splashsync_scim::schema;

use super::meta;
use crate::model::{UserRecord, WriteCtx};

/// Looks a key up case-insensitively (SCIM attribute names are case-insensitive).
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn str_at<'a>(obj: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut cur = obj;
    for p in parents {
        cur = get_ci(cur, p)?.as_object()?;
    }
    get_ci(cur, last)?.as_str()
}

/// Where a user's Splashtop account email comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountSource {
    /// The userName (an email, or no email to fall back on).
    UserName,
    /// The primary email (the first one when none is primary): userName is no email.
    Email,
}

/// The Splashtop account email of a user body, and where it comes from: the userName
/// when it contains `@`, else the value of the email marked `"primary": true` (or of the
/// first email), else the userName. The plan provisions it; the receiver checks it at the
/// door with the same function.
pub fn account_email<'a>(
    user_name: &'a str,
    obj: &'a Map<String, Value>,
) -> (&'a str, AccountSource) {
    if user_name.contains('@') {
        return (user_name, AccountSource::UserName);
    }
    let emails = get_ci(obj, "emails").and_then(Value::as_array);
    let chosen = emails.and_then(|list| {
        list.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| list.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
    });
    match chosen {
        Some(email) => (email, AccountSource::Email),
        None => (user_name, AccountSource::UserName),
    }
}

/// The desired Splashtop state of a user record whose Splashtop group is `group`.
pub fn desired_state(record: &UserRecord, group: Option<GroupRef>) -> UserState {
    let empty = Map::new();
    let obj = record.resource.as_object().unwrap_or(&empty);
    let first_name = str_at(obj, &["name", "givenName"])
        .unwrap_or("")
        .to_string();
    let last_name = str_at(obj, &["name", "familyName"])
        .unwrap_or("")
        .to_string();
    let display_name = match str_at(obj, &["displayName"]) {
        Some(d) if !d.is_empty() => d.to_string(),
        _ => format!("{first_name} {last_name}").trim().to_string(),
    };
    UserState {
        user_id: record.id.clone(),
        user_name: record.user_name.clone(),
        email: account_email(&record.user_name, obj).0.to_string(),
        first_name,
        last_name,
        display_name,
        active: get_ci(obj, "active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        group,
        sso_name: str_at(obj, &[schema::SPLASHTOP_USER, "ssoName"]).map(str::to_string),
        deleted: false,
        incarnation: None,
    }
}

/// The job carrying `record`'s desired state in `group`, at the record's version
/// (`deleted`: the user is gone from the directory, and from Splashtop too), under the
/// account incarnation minted when a userName change gave it its account (`None`: it has
/// held it since its create).
pub fn user_job(
    cx: &WriteCtx,
    record: &UserRecord,
    group: Option<GroupRef>,
    deleted: bool,
    incarnation: Option<String>,
) -> Job {
    let mut state = desired_state(record, group);
    state.deleted = deleted;
    state.incarnation = incarnation;
    Job::UserV1(UserJob {
        meta: meta(cx, JobKey::user(&cx.tenant, &record.id), record.version),
        state,
    })
}

/// One job per record, in order, each in its Splashtop group from `groups` and under its
/// account incarnation from `incarnations` (by user id; none when absent).
pub fn user_jobs(
    cx: &WriteCtx,
    records: &[UserRecord],
    mut groups: HashMap<String, GroupRef>,
    mut incarnations: HashMap<String, String>,
) -> Vec<Job> {
    records
        .iter()
        .map(|record| {
            let group = groups.remove(&record.id);
            user_job(cx, record, group, false, incarnations.remove(&record.id))
        })
        .collect()
}

/// A user's body replaced by `resource` at `now`: the user as it was (without its groups:
/// what an account change compares) and the record it becomes, at the next version, its
/// userName the body's (kept when the body has none).
pub fn replaced_user(
    current: UserRecord,
    resource: Value,
    now: String,
) -> (UserRecord, UserRecord) {
    let before = UserRecord {
        groups: Vec::new(),
        ..current.clone()
    };
    let user_name = resource
        .get("userName")
        .and_then(Value::as_str)
        .unwrap_or(&current.user_name)
        .to_string();
    let record = UserRecord {
        id: current.id,
        user_name,
        resource,
        version: current.version + 1,
        created: current.created,
        last_modified: now,
        groups: current.groups,
        provisioning: None,
    };
    (before, record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_replaced_user_is_the_next_version_with_the_bodys_user_name() {
        let mut current = record("u1", "ada", 3);
        current.groups.push(crate::model::GroupLink {
            group_id: "g1".into(),
            display_name: "Ops".into(),
        });
        let (before, after) =
            replaced_user(current.clone(), json!({"userName": "ada2"}), "now".into());
        assert!(before.groups.is_empty());
        assert_eq!(before.version, 3);
        assert_eq!(
            (
                after.user_name.as_str(),
                after.version,
                after.last_modified.as_str()
            ),
            ("ada2", 4, "now")
        );
        assert_eq!(after.groups, current.groups);
        let (_, kept) = replaced_user(current, json!({"active": false}), "now".into());
        assert_eq!(kept.user_name, "ada");
    }

    fn record(id: &str, user_name: &str, version: i64) -> UserRecord {
        UserRecord {
            id: id.into(),
            user_name: user_name.into(),
            resource: json!({"userName": user_name, "active": true}),
            version,
            created: String::new(),
            last_modified: String::new(),
            groups: Vec::new(),
            provisioning: None,
        }
    }

    #[test]
    fn desired_state_reads_names_email_and_sso_name() {
        let record = UserRecord {
            id: "u1".into(),
            user_name: "jdoe".into(),
            resource: json!({
                "userName": "jdoe", "emails": [{"value": "j@x.com", "primary": true}],
                "name": {"givenName": "J", "familyName": "Doe"}, "active": true,
                schema::SPLASHTOP_USER: {"ssoName": "Okta SSO"}
            }),
            version: 1,
            created: String::new(),
            last_modified: String::new(),
            groups: Vec::new(),
            provisioning: None,
        };
        let s = desired_state(&record, None);
        assert_eq!(s.email, "j@x.com");
        assert_eq!(s.display_name, "J Doe");
        assert_eq!(s.sso_name.as_deref(), Some("Okta SSO"));
        assert!(s.active);
    }

    #[test]
    fn a_group_write_touching_n_users_makes_n_user_jobs_each_with_the_one_group() {
        let cx = crate::plan::tests::cx();
        let sales = GroupRef {
            group_id: "g1".into(),
            display_name: "Sales".into(),
        };
        let records: Vec<UserRecord> = (0..5)
            .map(|i| record(&format!("u{i}"), &format!("u{i}@x.com"), 2 + i))
            .collect();
        let groups = records
            .iter()
            .map(|r| (r.id.clone(), sales.clone()))
            .collect();
        let jobs = user_jobs(&cx, &records, groups, HashMap::new());
        assert_eq!(jobs.len(), 5);
        for (job, record) in jobs.iter().zip(&records) {
            let Job::UserV1(j) = job else {
                panic!("a user job")
            };
            assert_eq!(j.meta.key, JobKey::user(&cx.tenant, &record.id));
            assert_eq!(j.meta.version, record.version);
            assert_eq!(j.meta.origin, cx.origin);
            assert_eq!(j.state.group.as_ref(), Some(&sales));
            assert_eq!(j.state.email, record.user_name);
            assert_eq!(j.state.account_incarnation(), record.id);
            assert!(!j.state.deleted);
        }
        let ids: std::collections::HashSet<_> = jobs.iter().map(|j| &j.meta().job_id).collect();
        assert_eq!(ids.len(), 5, "every job has its own id");
    }

    #[test]
    fn a_user_without_a_group_or_deleted_says_so() {
        let cx = crate::plan::tests::cx();
        let r = record("u1", "a@x.com", 3);
        let Job::UserV1(j) = user_jobs(
            &cx,
            std::slice::from_ref(&r),
            HashMap::new(),
            HashMap::new(),
        )
        .remove(0) else {
            panic!("a user job")
        };
        assert_eq!(j.state.group, None);
        let Job::UserV1(gone) = user_job(&cx, &r, None, true, Some("u9".into())) else {
            panic!("a user job")
        };
        assert!(gone.state.deleted);
        assert_eq!(gone.meta.version, 3);
        assert_eq!(gone.state.account_incarnation(), "u9");
    }
}
