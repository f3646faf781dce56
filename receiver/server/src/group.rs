//! SCIM Group bodies: validated into directory records and member lists, rendered back
//! with `id`, `members` and `meta`.

use serde_json::{Map, Value};
use splashsync_scim::{schema, ScimError, ScimType};

use crate::user::get_ci;
use splashsync_directory::model::GroupRecord;

/// Longest displayName accepted.
const MAX_DISPLAY_NAME: usize = 256;

/// A validated Group body.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGroup {
    /// The display name.
    pub display_name: String,
    /// The body to store (without id, meta and members).
    pub resource: Value,
    /// Member user ids, in order, without duplicates.
    pub members: Vec<String>,
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

/// Validates a create or replace body.
pub fn validate(body: Value) -> Result<ValidGroup, ScimError> {
    let Value::Object(mut obj) = body else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object (a SCIM Group resource)",
        ));
    };
    crate::provisioning::strip(&mut obj);
    let display_name = match get_ci(&obj, "displayName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        _ => {
            return Err(invalid(
                "displayName is required and must be a non-empty string",
            ))
        }
    };
    if display_name.len() > MAX_DISPLAY_NAME {
        return Err(invalid(format!(
            "displayName is longer than {MAX_DISPLAY_NAME} bytes"
        )));
    }
    let members = match get_ci(&obj, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut ids: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let id = item
                    .as_object()
                    .and_then(|m| get_ci(m, "value"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        invalid(
                            "each member must be an object with a string \"value\" (the user's id)",
                        )
                    })?;
                if !ids.iter().any(|i| i == id) {
                    ids.push(id.to_string());
                }
            }
            ids
        }
        Some(_) => return Err(invalid("members must be an array")),
    };
    obj.retain(|k, _| {
        !["id", "meta", "members", "displayName"]
            .iter()
            .any(|d| k.eq_ignore_ascii_case(d))
    });
    obj.insert("displayName".into(), Value::String(display_name.clone()));
    match get_ci(&obj, "schemas") {
        None => {
            obj.insert("schemas".into(), Value::Array(vec![schema::GROUP.into()]));
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                "schemas must be an array of schema URNs",
            ))
        }
    }
    Ok(ValidGroup {
        display_name,
        resource: Value::Object(obj),
        members,
    })
}

/// The group as SCIM returns it; `with_members` false leaves `members` out.
pub fn render(record: &GroupRecord, base_url: &str, with_members: bool) -> Value {
    let mut out = match &record.resource {
        Value::Object(obj) => obj.clone(),
        _ => Map::new(),
    };
    out.insert("id".into(), Value::String(record.id.clone()));
    if with_members {
        let members = record
            .members
            .iter()
            .map(|m| {
                serde_json::json!({
                    "value": m.user_id,
                    "display": m.display,
                    "$ref": format!("{base_url}/Users/{}", m.user_id),
                    "type": "User",
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    out.insert(
        "meta".into(),
        serde_json::json!({
            "resourceType": "Group",
            "created": record.created,
            "lastModified": record.last_modified,
            "location": format!("{base_url}/Groups/{}", record.id),
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
    fn okta_push_group_body_validates_with_members_deduplicated() {
        let v = validate(json!({"schemas": [schema::GROUP], "displayName": " Sales ",
            "members": [{"value": "u1", "display": "a"}, {"value": "u2", "$ref": null}, {"value": "u1"}]}))
        .unwrap();
        assert_eq!(v.display_name, "Sales");
        assert_eq!(v.members, vec!["u1", "u2"]);
        assert!(v.resource.get("members").is_none());
    }

    #[test]
    fn a_group_without_display_name_or_with_bad_members_is_invalid_value() {
        assert!(validate(json!({"members": []})).is_err());
        assert!(
            validate(json!({"displayName": "x", "members": [{"display": "no value"}]})).is_err()
        );
        assert!(validate(json!({"displayName": "x", "members": {"value": "u"}})).is_err());
    }
}
