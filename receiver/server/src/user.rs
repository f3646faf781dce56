//! SCIM User bodies: validated into directory records, rendered back with `id` and `meta`.

use serde_json::{Map, Value};
use splashsync_scim::{schema, ScimError, ScimType};

use splashsync_directory::model::UserRecord;

/// Longest userName accepted.
const MAX_USER_NAME: usize = 256;

/// Attributes the server owns or never keeps: `password` above all (Okta sends a random
/// one even with password sync off; it is dropped here, before anything can log or store it).
const DROPPED: &[&str] = &["password", "id", "meta", "groups"];

/// Looks a key up case-insensitively (SCIM attribute names are case-insensitive).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A validated User body: the resource to store and its userName.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidUser {
    /// The userName.
    pub user_name: String,
    /// The body to store.
    pub resource: Value,
}

/// Validates a create (or replace) body.
pub fn validate(body: Value) -> Result<ValidUser, ScimError> {
    let Value::Object(mut obj) = body else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object (a SCIM User resource)",
        ));
    };
    obj.retain(|k, _| !DROPPED.iter().any(|d| k.eq_ignore_ascii_case(d)));
    crate::provisioning::strip(&mut obj);
    let user_name = match get_ci(&obj, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "userName is required and must be a non-empty string",
            ))
        }
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "userName must be a string",
            ))
        }
    };
    if user_name.len() > MAX_USER_NAME {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("userName is longer than {MAX_USER_NAME} bytes"),
        ));
    }
    obj.retain(|k, _| !k.eq_ignore_ascii_case("userName"));
    obj.insert("userName".into(), Value::String(user_name.clone()));
    let active = match get_ci(&obj, "active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(other) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                format!("active must be a boolean, got {other}"),
            ))
        }
    };
    obj.retain(|k, _| !k.eq_ignore_ascii_case("active"));
    obj.insert("active".into(), Value::Bool(active));
    match get_ci(&obj, "schemas") {
        None => {
            obj.insert("schemas".into(), Value::Array(vec![schema::USER.into()]));
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                "schemas must be an array of schema URNs",
            ))
        }
    }
    Ok(ValidUser {
        user_name,
        resource: Value::Object(obj),
    })
}

/// The resource as SCIM returns it: the stored body plus `id` and `meta`.
pub fn render(record: &UserRecord, base_url: &str) -> Value {
    let mut out = match &record.resource {
        Value::Object(obj) => obj.clone(),
        _ => Map::new(),
    };
    out.insert("id".into(), Value::String(record.id.clone()));
    if !record.groups.is_empty() {
        let groups = record
            .groups
            .iter()
            .map(|g| {
                serde_json::json!({
                    "value": g.group_id,
                    "display": g.display_name,
                    "$ref": format!("{base_url}/Groups/{}", g.group_id),
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": "User",
            "created": record.created,
            "lastModified": record.last_modified,
            "location": format!("{base_url}/Users/{}", record.id),
            "version": format!("W/\"{}\"", record.version),
        }),
    );
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn okta_create_body_drops_the_password_and_keeps_the_rest() {
        let v = validate(json!({
            "schemas": [schema::USER], "userName": "a@b.com", "password": "1mz050nq",
            "name": {"givenName": "A", "familyName": "B"}, "active": true
        }))
        .unwrap();
        assert_eq!(v.user_name, "a@b.com");
        assert!(v.resource.get("password").is_none());
        assert!(!v.resource.to_string().contains("1mz050nq"));
        assert_eq!(v.resource["name"]["givenName"], "A");
    }

    #[test]
    fn a_missing_or_blank_user_name_is_invalid_value() {
        for body in [
            json!({}),
            json!({"userName": "  "}),
            json!({"userName": null}),
            json!({"userName": 5}),
        ] {
            let err = validate(body).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidValue));
        }
    }

    #[test]
    fn active_defaults_to_true_and_accepts_string_booleans() {
        assert_eq!(
            validate(json!({"userName": "x"})).unwrap().resource["active"],
            true
        );
        assert_eq!(
            validate(json!({"userName": "x", "active": "False"}))
                .unwrap()
                .resource["active"],
            false
        );
        assert!(validate(json!({"userName": "x", "active": 3})).is_err());
    }

    #[test]
    fn a_non_object_body_is_invalid_syntax() {
        assert_eq!(
            validate(json!([1])).unwrap_err().scim_type(),
            Some(ScimType::InvalidSyntax)
        );
    }
}
