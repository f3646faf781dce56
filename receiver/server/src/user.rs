//! SCIM User bodies: validated into directory records, rendered back with `id` and `meta`.

use serde_json::{Map, Value};
use splashsync_scim::schema::{self, Resource};
use splashsync_scim::{validate, ScimError, ScimType};

use splashsync_directory::model::UserRecord;

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

/// Validates a create or replace body, or the result of a PATCH: the scim crate's intake
/// first (`splashsync_scim::validate::prepare`: the password dropped in every form before
/// anything can log or store it, since Okta sends a random one even with password sync
/// off; harmless repairs such as `"active": "True"`; every attribute's type checked, 400
/// `invalidValue` naming it; read-only and unknown attributes dropped, never refused, RFC
/// 7644 §3.3), then a non-empty userName, then Splashtop's rules
/// ([`crate::splashtop_rules`]).
pub fn validate(body: Value) -> Result<ValidUser, ScimError> {
    let Value::Object(mut obj) = validate::prepare(body, Resource::User)? else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object (a SCIM User resource)",
        ));
    };
    let user_name = match get_ci(&obj, "userName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "userName is required and must be a non-empty string",
            ))
        }
    };
    obj.retain(|k, _| !k.eq_ignore_ascii_case("userName"));
    obj.insert("userName".into(), Value::String(user_name.clone()));
    // The intake made any boolean spelling a JSON boolean; absent means active.
    let active = !matches!(get_ci(&obj, "active"), Some(Value::Bool(false)));
    obj.retain(|k, _| !k.eq_ignore_ascii_case("active"));
    obj.insert("active".into(), Value::Bool(active));
    if get_ci(&obj, "schemas").is_none() {
        obj.insert("schemas".into(), Value::Array(vec![schema::USER.into()]));
    }
    crate::splashtop_rules::check(&user_name, &obj)?;
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
    fn a_password_in_any_form_is_dropped() {
        let v = validate(json!({
            "userName": "a@b.com",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "s3cret-1",
            "PASSWORD": "s3cret-2",
            "urn:ietf:params:scim:schemas:core:2.0:User": {"password": "s3cret-3"}
        }))
        .unwrap();
        assert!(!v.resource.to_string().contains("s3cret"), "{}", v.resource);
    }

    #[test]
    fn read_only_and_unknown_attributes_are_dropped_not_refused() {
        let v = validate(json!({
            "userName": "a@b.com", "id": "x", "meta": {"version": "W/\"9\""},
            "groups": [{"value": "g"}], "adreses": [{"country": "DE"}],
            "name": {"givenName": "A", "nickname": "unknown sub-attribute"}
        }))
        .unwrap();
        for gone in ["id", "meta", "groups", "adreses"] {
            assert!(v.resource.get(gone).is_none(), "{gone}: {}", v.resource);
        }
        assert_eq!(v.resource["name"], json!({"givenName": "A"}));
    }

    #[test]
    fn a_wrong_type_is_invalid_value_naming_the_attribute() {
        for (body, attr) in [
            (json!({"name": "x"}), "'name'"),
            (json!({"displayName": 5}), "'displayName'"),
            (json!({"emails": {"value": "a@b.com"}}), "'emails'"),
            (
                json!({schema::SPLASHTOP_USER: "x"}),
                "'urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User'",
            ),
            (json!({schema::SPLASHTOP_USER: {"ssoName": 5}}), "ssoName'"),
            (
                json!({schema::SPLASHTOP_USER: {"ssoName": ["a"]}}),
                "ssoName'",
            ),
        ] {
            let mut body = body;
            body["userName"] = json!("a@b.com");
            let err = validate(body.clone()).unwrap_err();
            assert_eq!(err.scim_type(), Some(ScimType::InvalidValue), "{body}");
            assert!(err.detail().contains(attr), "{body}: {}", err.detail());
        }
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
        let valid = |body: serde_json::Value| validate(body).map(|v| v.resource["active"].clone());
        assert_eq!(valid(json!({"userName": "x@y.com"})).unwrap(), true);
        assert_eq!(
            valid(json!({"userName": "x@y.com", "active": "False"})).unwrap(),
            false
        );
        assert_eq!(
            valid(json!({"userName": "x@y.com", "Active": "TRUE"})).unwrap(),
            true
        );
        assert!(valid(json!({"userName": "x@y.com", "active": 3})).is_err());
    }

    #[test]
    fn a_non_object_body_is_invalid_syntax() {
        assert_eq!(
            validate(json!([1])).unwrap_err().scim_type(),
            Some(ScimType::InvalidSyntax)
        );
    }
}
