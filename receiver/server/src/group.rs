//! SCIM Group bodies: validated into directory records and member lists, rendered back
//! with `id`, `members` and `meta`; the request limits of group writes; the warnings of
//! members kept but not provisioned.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Map, Value};
use splashsync_scim::patch::PatchRequest;
use splashsync_scim::validate::reference_id;
use splashsync_scim::{schema, ScimError, ScimType};

use crate::provisioning::PROVISIONING;
use crate::user::get_ci;
use splashsync_directory::model::GroupRecord;
use splashsync_directory::plan::unresolved_warning;
use splashsync_directory::{MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS};

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
            let mut seen = HashSet::with_capacity(items.len());
            let mut ids: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                // `"id"` or `{"value": "id"}`: the scim crate's reading of a reference.
                let id = reference_id(item).ok_or_else(|| {
                    invalid(
                        "each member must be a user id, or an object with a string \"value\" (the user's id)",
                    )
                })?;
                if seen.insert(id) {
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
            .map(|m| match m.resolved {
                true => serde_json::json!({
                    "value": m.user_id,
                    "display": m.display,
                    "$ref": format!("{base_url}/Users/{}", m.user_id),
                    "type": "User",
                }),
                // No user has this id here: the id as written, and nothing it would
                // take a user to know.
                false => serde_json::json!({"value": m.user_id, "type": "User"}),
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

/// Adds the group's warnings (a member that is no user here: kept, not provisioned) to the
/// provisioning extension of a rendered group, when the extension is there.
pub fn warn(body: &mut Value, record: &GroupRecord) {
    let warnings: Vec<Value> = record
        .unresolved()
        .map(|id| Value::String(unresolved_warning(id)))
        .collect();
    if warnings.is_empty() {
        return;
    }
    if let Some(Value::Object(ext)) = body.get_mut(PROVISIONING) {
        ext.insert("warnings".into(), Value::Array(warnings));
    }
}

/// 413 with a SCIM error body (RFC 7644 §3.12: a limit of the request was exceeded).
fn too_large(detail: String) -> ScimError {
    ScimError::new(StatusCode::PAYLOAD_TOO_LARGE, None, detail)
}

/// 413 when a request names more members than [`MAX_MEMBERS_PER_REQUEST`].
pub fn limit_members(named: usize) -> Result<(), ScimError> {
    if named <= MAX_MEMBERS_PER_REQUEST {
        return Ok(());
    }
    Err(too_large(format!(
        "this request names {named} members; at most {MAX_MEMBERS_PER_REQUEST} per request. \
         Send them in several requests (PATCH add, {MAX_MEMBERS_PER_REQUEST} at a time)"
    )))
}

/// How many member values a value gives: an array's elements, one for anything else.
fn count(value: Option<&Value>) -> usize {
    match value {
        None | Some(Value::Null) => 0,
        Some(Value::Array(items)) => items.len(),
        Some(_) => 1,
    }
}

/// Whether an attribute name is `members`, with or without the Group schema's URN.
fn is_members(name: &str) -> bool {
    let name = name.rsplit(':').next().unwrap_or(name);
    name.eq_ignore_ascii_case("members")
}

/// How many member values a POST or PUT body names.
pub fn members_in_body(body: &Value) -> usize {
    body.as_object()
        .map_or(0, |obj| count(get_ci(obj, "members")))
}

/// How many member values a PATCH names over all its operations: `members` paths (with or
/// without a filter) and `members` keys of path-less values.
pub fn members_in_patch(request: &PatchRequest) -> usize {
    request
        .operations
        .iter()
        .map(|op| match (&op.path, &op.value) {
            // A filter designates one member; a remove without value or filter names
            // none (it empties the group).
            (Some(path), value) if is_members(&path.attr.name) => {
                count(value.as_ref()).max(usize::from(path.filter.is_some()))
            }
            (None, Some(Value::Object(attrs))) => attrs
                .iter()
                .filter(|(k, _)| is_members(k))
                .map(|(_, v)| count(Some(v)))
                .sum(),
            _ => 0,
        })
        .sum()
}

/// 413 when a PATCH body holds more than [`MAX_PATCH_OPERATIONS`] operations (checked
/// before parsing, so the limit answers the same whatever else is wrong).
pub fn limit_operations(body: &Value) -> Result<(), ScimError> {
    let ops = body
        .as_object()
        .and_then(|obj| get_ci(obj, "Operations"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if ops <= MAX_PATCH_OPERATIONS {
        return Ok(());
    }
    Err(too_large(format!(
        "this PATCH has {ops} operations; at most {MAX_PATCH_OPERATIONS} per request"
    )))
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
        assert!(validate(json!({"displayName": "x", "members": [7]})).is_err());
    }

    #[test]
    fn bare_string_members_are_ids_in_order_each_once() {
        let v = validate(json!({"displayName": "x", "members": ["u2", {"value": "u1"}, "u2"]}))
            .unwrap();
        assert_eq!(v.members, vec!["u2", "u1"]);
    }

    #[test]
    fn member_values_are_counted_over_every_form_of_a_request() {
        let body = json!({"displayName": "x", "members": ["a", "b", {"value": "c"}]});
        assert_eq!(members_in_body(&body), 3);
        let request = splashsync_scim::patch::parse_patch(&json!({
            "schemas": [splashsync_scim::patch::PATCH_OP_URN],
            "Operations": [
                {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
                {"op": "remove", "path": "members[value eq \"a\"]"},
                {"op": "remove", "path": "members", "value": [{"value": "b"}]},
                {"op": "replace", "value": {"displayName": "y", "members": ["c", "d", "e"]}},
                {"op": "replace", "path": "displayName", "value": "z"},
                {"op": "remove", "path": "members"}
            ]
        }))
        .unwrap();
        assert_eq!(members_in_patch(&request), 2 + 1 + 1 + 3);
        assert!(limit_members(MAX_MEMBERS_PER_REQUEST).is_ok());
        let err = limit_members(MAX_MEMBERS_PER_REQUEST + 1).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.detail().contains("at most 20000"), "{}", err.detail());
    }

    #[test]
    fn more_operations_than_the_limit_is_413_before_parsing() {
        let op = json!({"op": "add", "path": "members", "value": ["u"]});
        let ops = |n: usize| json!({"Operations": vec![op.clone(); n]});
        assert!(limit_operations(&ops(MAX_PATCH_OPERATIONS)).is_ok());
        let err = limit_operations(&ops(MAX_PATCH_OPERATIONS + 1)).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
