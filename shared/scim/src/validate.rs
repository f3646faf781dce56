//! Resource bodies (POST and PUT) checked against their schemas: attribute
//! types, the identity providers' harmless deviations, and what the server
//! ignores.
//!
//! Files: `validate.rs` (the rules), `validate/walk.rs` (the traversal shared
//! by the passes) and `validate/tests.rs`.
//!
//! # The passes
//! - [`normalize`] repairs what loses nothing: booleans sent as strings
//!   (`"active": "True"`, any case: Microsoft's validator expects a 201 with
//!   `active: true`), bare ids where a reference is expected (`"members":
//!   ["id"]`; Entra's `"manager": "id"`) read as `{"value": "id"}`, a single
//!   `schemas` string, and `null`, which means unassigned (RFC 7643 §2.5:
//!   "Unassigned attributes, the null value, or an empty array ... SHALL be
//!   considered to be equivalent in 'state'"), so a `null` attribute,
//!   sub-attribute or array element is dropped.
//! - [`validate`] checks the type of every attribute the schemas define:
//!   string, boolean, integer, decimal, dateTime, reference, binary, complex
//!   (an object whose sub-attributes are checked in turn), multi-valued (an
//!   array), and an extension (an object of that extension's attributes). A
//!   mismatch is 400 `invalidValue` naming the attribute path (RFC 7644
//!   §3.12: "the value specified was not compatible with the operation or
//!   attribute type"). It accepts what `normalize` repairs.
//! - [`prune`] drops what the server ignores (below).
//! - [`prepare`] runs them all, after [`crate::password::strip_password`].
//!
//! # Read-only attributes
//! `id`, `meta`, a User's `groups`, `manager.displayName` and the whole
//! provisioning extension are dropped, never an error, whatever their value:
//! RFC 7644 §3.3 (POST): "In the request body, attributes whose mutability is
//! "readOnly" ... SHALL be ignored."; §3.5.1 (PUT): "readOnly  Any values
//! provided SHALL be ignored." (RFC 7643 §7 defines `readOnly` itself: "The
//! attribute SHALL NOT be modified.")
//!
//! # Unknown attributes: ignored
//! One rule for POST and PUT: an attribute the resource's schemas do not
//! define (a misspelled top-level attribute such as Microsoft's `adreses`, an
//! extension the resource type does not have, a sub-attribute its complex
//! attribute does not define, a dotted key) is not an error: [`prune`] drops
//! it, so it is neither stored nor returned, and the response (the resource as
//! stored) shows the client what the server kept. RFC 7644 §3.3 allows this:
//! "Since the server is free to alter and/or ignore POSTed content, returning
//! the full representation can be useful to the client, enabling it to
//! correlate the client's and server's views of the new resource."; §3.5.1
//! says the same of PUT: "a successful PUT operation returns a 200 OK response
//! code and the entire resource within the response body, enabling the client
//! to correlate the client's and the service provider's views of the updated
//! resource." Microsoft's validator PUTs `adreses` and expects 200. (PATCH is
//! different: a path naming no attribute is `invalidPath`, see
//! [`crate::patch::SchemaRules`].) Names compare case-insensitively (RFC 7644
//! §3.10: "All facets (URN, attribute, and sub-attribute name) of the fully
//! encoded attribute name are case insensitive.").

use serde_json::Value;

use crate::error::{ScimError, ScimType};
use crate::schema::{AttrType, AttributeDef, Resource};

#[cfg(test)]
mod tests;
mod walk;

use walk::{visit, visit_mut, Slot};

/// Checks the types of every attribute of `body` that `resource`'s schemas
/// define; read-only and unknown attributes are not checked (they are
/// ignored). A body that is not a JSON object is `invalidSyntax`.
pub fn validate(body: &Value, resource: Resource) -> Result<(), ScimError> {
    if !body.is_object() {
        return Err(not_an_object());
    }
    visit(body, resource, &mut |slot, value| match slot {
        Slot::Attribute { def, path } => check(def, value, &path),
        Slot::Extension { urn } if !value.is_object() && !value.is_null() => Err(invalid(
            &urn,
            &format!(
                "must be an object holding the extension's attributes; got {}",
                kind(value)
            ),
        )),
        Slot::Extension { .. } | Slot::Ignored => Ok(()),
    })
}

/// Repairs in place what loses nothing (see the module documentation):
/// string booleans, bare reference ids, a single `schemas` string, `null`s.
pub fn normalize(body: &mut Value, resource: Resource) {
    visit_mut(body, resource, &mut |def, value| {
        normalize_value(def, value)
    });
}

/// Drops in place the read-only and unknown attributes (see the module
/// documentation) and returns the paths dropped (names, never values), for
/// a log line.
pub fn prune(body: &mut Value, resource: Resource) -> Vec<String> {
    walk::prune(body, resource)
}

/// The whole intake of a POST or PUT body: password stripped, normalized,
/// validated, pruned. Returns the body to store.
pub fn prepare(mut body: Value, resource: Resource) -> Result<Value, ScimError> {
    if !body.is_object() {
        return Err(not_an_object());
    }
    crate::password::strip_password(&mut body);
    normalize(&mut body, resource);
    validate(&body, resource)?;
    prune(&mut body, resource);
    Ok(body)
}

fn not_an_object() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidSyntax,
        "the request body must be a JSON object (a SCIM resource)",
    )
}

fn invalid(path: &str, what: &str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, format!("'{path}' {what}"))
}

/// The JSON type of `v`, for error details (values are never echoed: they
/// may be personal data).
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `"true"`/`"false"` in any case (Entra sends `"True"`).
fn bool_str(v: &Value) -> Option<bool> {
    let s = v.as_str()?.trim();
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether `def` is the common `schemas` attribute, sent as one string by some clients.
fn is_schemas(def: &AttributeDef) -> bool {
    def.name == "schemas"
}

/// The id a member (or other reference) value gives: `"id"` or
/// `{"value": "id"}` (`value` matched case-insensitively).
pub fn reference_id(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(members) => members
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("value"))
            .and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// Checks one attribute's value (`null` is unassigned, always fine).
fn check(def: &'static AttributeDef, value: &Value, path: &str) -> Result<(), ScimError> {
    if !def.multi_valued {
        return check_one(def, value, path);
    }
    match value {
        Value::Null => Ok(()),
        Value::Array(items) => items.iter().try_for_each(|v| check_one(def, v, path)),
        Value::String(_) if is_schemas(def) => Ok(()),
        other => Err(invalid(
            path,
            &format!("is multi-valued and must be an array; got {}", kind(other)),
        )),
    }
}

fn check_one(def: &'static AttributeDef, value: &Value, path: &str) -> Result<(), ScimError> {
    let ok = match (def.type_, value) {
        (_, Value::Null) => true,
        (AttrType::Complex, Value::String(_)) if def.is_reference() => true,
        (AttrType::String | AttrType::Reference | AttrType::Binary, v) => v.is_string(),
        (AttrType::Boolean, v) => v.is_boolean() || bool_str(v).is_some(),
        (AttrType::Integer, v) => v.is_i64() || v.is_u64(),
        (AttrType::Decimal, v) => v.is_number(),
        (AttrType::DateTime, v) => v.as_str().is_some_and(is_date_time),
        (AttrType::Complex, Value::Object(members)) => {
            return members
                .iter()
                .try_for_each(|(key, v)| match walk::sub_slot(def, key, path) {
                    Slot::Attribute { def, path } => check(def, v, &path),
                    _ => Ok(()),
                });
        }
        (AttrType::Complex, _) => false,
    };
    if ok {
        return Ok(());
    }
    let expected = match def.type_ {
        AttrType::String => "a string",
        AttrType::Reference => "a string (a reference)",
        AttrType::Binary => "a string (base64)",
        AttrType::Boolean => "a boolean",
        AttrType::Integer => "an integer",
        AttrType::Decimal => "a number",
        AttrType::DateTime => "a date and time (xsd:dateTime, e.g. 2015-09-01T12:00:00Z)",
        AttrType::Complex => "an object of sub-attributes",
    };
    let each = if def.multi_valued {
        "each value of "
    } else {
        ""
    };
    Err(ScimError::bad_request(
        ScimType::InvalidValue,
        format!("{each}'{path}' must be {expected}; got {}", kind(value)),
    ))
}

/// xsd:dateTime: a date and a time, with or without a UTC offset.
fn is_date_time(s: &str) -> bool {
    use time::format_description::well_known::{Iso8601, Rfc3339};
    time::OffsetDateTime::parse(s, &Rfc3339).is_ok()
        || time::PrimitiveDateTime::parse(s, &Iso8601::DEFAULT).is_ok()
}

/// Normalizes one attribute's value in place.
fn normalize_value(def: &'static AttributeDef, value: &mut Value) {
    if def.multi_valued {
        match value {
            Value::Array(items) => {
                items.retain(|v| !v.is_null());
                items.iter_mut().for_each(|v| normalize_one(def, v));
            }
            Value::String(_) if is_schemas(def) => *value = Value::Array(vec![value.take()]),
            _ => {}
        }
        return;
    }
    normalize_one(def, value);
}

fn normalize_one(def: &'static AttributeDef, value: &mut Value) {
    if let (true, Value::String(id)) = (def.is_reference(), &mut *value) {
        *value = serde_json::json!({ "value": std::mem::take(id) });
    }
    match (def.type_, &mut *value) {
        (AttrType::Boolean, v) => {
            if let Some(b) = bool_str(v) {
                *v = Value::Bool(b);
            }
        }
        (AttrType::Complex, Value::Object(members)) => {
            members.retain(|_, v| !v.is_null());
            for (key, v) in members.iter_mut() {
                if let Slot::Attribute { def, .. } = walk::sub_slot(def, key, "") {
                    normalize_value(def, v);
                }
            }
        }
        _ => {}
    }
}
