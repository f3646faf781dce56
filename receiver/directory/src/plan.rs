//! Planning: what a directory write means for Splashtop, as pure functions. A user record
//! becomes the desired state its user job carries (invariant 4: a job is a desired state).

use serde_json::{Map, Value};
use splashsync_protocol::job::{GroupRef, UserState};
use splashsync_scim::schema;

use crate::model::UserRecord;

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

/// The Splashtop account email: the userName when it is one, else the primary email.
fn account_email(user_name: &str, obj: &Map<String, Value>) -> String {
    if user_name.contains('@') {
        return user_name.to_string();
    }
    let emails = get_ci(obj, "emails").and_then(Value::as_array);
    let pick = emails.and_then(|list| {
        list.iter()
            .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
            .or_else(|| list.first())
            .and_then(|e| e.get("value"))
            .and_then(Value::as_str)
    });
    pick.unwrap_or(user_name).to_string()
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
        email: account_email(&record.user_name, obj),
        first_name,
        last_name,
        display_name,
        active: get_ci(obj, "active")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        group,
        sso_name: str_at(obj, &[schema::SPLASHTOP_USER, "ssoName"]).map(str::to_string),
        deleted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        };
        let s = desired_state(&record, None);
        assert_eq!(s.email, "j@x.com");
        assert_eq!(s.display_name, "J Doe");
        assert_eq!(s.sso_name.as_deref(), Some("Okta SSO"));
        assert!(s.active);
    }
}
