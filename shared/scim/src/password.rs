//! Passwords stop at intake: splashsync never stores, returns, logs or
//! forwards the User `password` (Okta sends a random one even with password
//! sync off; RFC 7643 §8.7.1 makes it `writeOnly`, `returned: never`).
//!
//! A password can arrive as a key of a resource body or of a PATCH value in
//! any form: `password` in any case, URN-qualified
//! (`urn:ietf:params:scim:schemas:core:2.0:User:password`), nested under the
//! core URN object (`{"urn:...:core:2.0:User": {"password": ..}}`), or as a
//! PATCH operation whose `path` is the password. Stripping is deliberately
//! broader than the one attribute: any key equal to `password` or ending in
//! `:password` (any case) goes, at any depth, so no secret survives a
//! spelling this code did not foresee. Call it first, before anything can log
//! or keep the body.

use serde_json::{Map, Value};

use crate::filter::AttrPath;
use crate::patch::{PatchPath, PatchRequest};

#[cfg(test)]
mod tests;

/// Whether a JSON key names a password: `password` in any case, or a key
/// ending in `:password` (URN-qualified, any case).
pub fn is_password_key(key: &str) -> bool {
    let key = key.trim();
    key.eq_ignore_ascii_case("password")
        || key
            .len()
            .checked_sub(":password".len())
            .and_then(|start| key.get(start..))
            .is_some_and(|end| end.eq_ignore_ascii_case(":password"))
}

/// Whether a PATCH path targets a password (`password`, any URN prefix,
/// or a `password` sub-attribute).
pub fn is_password_path(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("password")
        || path
            .sub
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("password"))
}

/// Removes every password key (see [`is_password_key`]) anywhere in `value`,
/// and, when `value` is a PATCH request body (it has `Operations`), drops the
/// operations that target the password: those whose `path` is a password
/// path, and those whose value held nothing but passwords. Returns the
/// 0-based indices of the operations dropped, so that the caller can answer
/// as if they had been applied.
pub fn strip_password(value: &mut Value) -> Vec<usize> {
    let mut dropped = Vec::new();
    if let Some(Value::Array(ops)) = operations(value) {
        let mut index = 0;
        ops.retain_mut(|op| {
            let keep = !(raw_op_targets_password(op) || strip_op_value(op));
            if !keep {
                dropped.push(index);
            }
            index += 1;
            keep
        });
    }
    strip_keys(value);
    dropped
}

/// Drops from a parsed PATCH request the operations that target the password
/// and strips password keys from the values of the others (as
/// [`strip_password`] does on the raw body). Returns the 0-based indices, in
/// the request as parsed, of the operations dropped.
pub fn strip_password_ops(req: &mut PatchRequest) -> Vec<usize> {
    let mut dropped = Vec::new();
    let mut index = 0;
    req.operations.retain_mut(|op| {
        let targets = op.path.as_ref().is_some_and(|p| is_password_path(&p.attr));
        let hollowed = op.value.as_mut().is_some_and(strip_hollows);
        if targets || hollowed {
            dropped.push(index);
        }
        index += 1;
        !(targets || hollowed)
    });
    dropped
}

fn operations(value: &mut Value) -> Option<&mut Value> {
    let Value::Object(map) = value else {
        return None;
    };
    map.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .map(|(_, v)| v)
}

fn get_ci_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Value> {
    map.iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Whether a raw operation's `path` targets the password. A path that does
/// not parse is judged by its text, so a malformed one cannot smuggle a
/// password into an error path.
fn raw_op_targets_password(op: &mut Value) -> bool {
    let Value::Object(map) = op else {
        return false;
    };
    let Some(Value::String(path)) = get_ci_mut(map, "path") else {
        return false;
    };
    match PatchPath::parse(path.trim()) {
        Ok(p) => is_password_path(&p.attr),
        Err(_) => path
            .to_ascii_lowercase()
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '$' || c == '_' || c == '-'))
            .any(|word| word == "password"),
    }
}

/// Strips the passwords from a raw operation's `value`; whether that left
/// it hollow (it held nothing but passwords).
fn strip_op_value(op: &mut Value) -> bool {
    let Value::Object(map) = op else {
        return false;
    };
    get_ci_mut(map, "value").is_some_and(strip_hollows)
}

/// Strips the password keys of `value`; whether any went and nothing but
/// empty objects is left.
fn strip_hollows(value: &mut Value) -> bool {
    strip_keys(value) > 0 && is_hollow(value)
}

fn is_hollow(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.values().all(is_hollow))
}

/// Removes the password keys at every depth; returns how many went.
fn strip_keys(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let before = map.len();
            map.retain(|k, _| !is_password_key(k));
            let removed = before - map.len();
            removed + map.values_mut().map(strip_keys).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(strip_keys).sum(),
        _ => 0,
    }
}
