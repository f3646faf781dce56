//! Value helpers for PATCH: key lookup, boolean coercion, null stripping,
//! multi-valued equality and merging.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::PatchRules;
use crate::filter::{AttrPath, CompValue, CompareOp, Filter};

/// How `add` and `replace` differ when setting a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `add`: append to multi-valued attributes; `null` does nothing.
    Add,
    /// `replace`: overwrite; `null` unassigns.
    Replace,
}

pub(super) fn top(attr: &AttrPath) -> AttrPath {
    AttrPath {
        urn: attr.urn.clone(),
        name: attr.name.clone(),
        sub: None,
    }
}

pub(super) fn get_ci<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    find_key(obj, key).and_then(|k| obj.get(&k))
}

/// The resource's spelling of `name` (exact match first, then case-insensitive).
pub(super) fn find_key(map: &Map<String, Value>, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_string());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Stores booleans sent as strings (`"True"`) as JSON booleans where the
/// rules say the attribute is boolean.
pub(super) fn coerce(value: Value, attr: &AttrPath, rules: &dyn PatchRules) -> Value {
    match value {
        Value::String(s) if rules.is_boolean(attr) => {
            if s.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if s.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                Value::String(s)
            }
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| coerce(v, attr, rules)).collect())
        }
        Value::Object(members) if attr.sub.is_none() => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| {
                    let sub = top(attr).with_sub(k.clone());
                    (k, coerce(v, &sub, rules))
                })
                .collect(),
        ),
        other => other,
    }
}

/// Drops `null` members and elements (`"$ref": null` is never stored).
pub(super) fn clean(value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, clean(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|v| !v.is_null())
                .map(clean)
                .collect(),
        ),
        other => other,
    }
}

/// Multi-valued references whose values are identified by `value` alone.
pub(super) fn is_reference_list(name: &str) -> bool {
    name.eq_ignore_ascii_case("members") || name.eq_ignore_ascii_case("groups")
}

/// Reads bare strings as references to resources: `"id"` becomes
/// `{"value": "id"}`, inside an array where `multi` (a multi-valued
/// attribute given one bare id); array elements likewise.
pub(super) fn references(value: Value, multi: bool) -> Value {
    let reference = |v: Value| match v {
        Value::String(id) => {
            let mut obj = Map::new();
            obj.insert("value".into(), Value::String(id));
            Value::Object(obj)
        }
        other => other,
    };
    match value {
        Value::String(_) if multi => Value::Array(vec![reference(value)]),
        Value::Array(items) => Value::Array(items.into_iter().map(reference).collect()),
        other => reference(other),
    }
}

pub(super) fn value_str(v: &Value) -> Option<&str> {
    get_ci(v, "value").and_then(Value::as_str)
}

fn same_element(a: &Value, b: &Value, by_value: bool) -> bool {
    if by_value {
        if let (Some(x), Some(y)) = (value_str(a), value_str(b)) {
            return x == y;
        }
    }
    a == b
}

pub(super) fn is_primary(v: &Value) -> bool {
    get_ci(v, "primary") == Some(&Value::Bool(true))
}

/// Keeps `primary: true` on element `keep` only (RFC 7643 §2.4).
pub(super) fn clear_other_primaries(items: &mut [Value], keep: usize) {
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep && is_primary(item) {
            if let Value::Object(obj) = item {
                let key = find_key(obj, "primary").unwrap_or_else(|| "primary".into());
                obj.insert(key, Value::Bool(false));
            }
        }
    }
}

/// Appends the items not already present. References are matched through a set of
/// their values: a group PATCH adding 20,000 members must not compare each one with
/// every member before it.
pub(super) fn append_unique(existing: &mut Vec<Value>, items: Vec<Value>, by_value: bool) {
    let mut new_primary = None;
    let mut values: HashSet<String> = HashSet::new();
    if by_value {
        values.extend(existing.iter().filter_map(value_str).map(str::to_string));
    }
    for item in items.into_iter().filter(|v| !v.is_null()).map(clean) {
        // An element with a `value` equals another by that value alone (`same_element`).
        let present = match value_str(&item).filter(|_| by_value) {
            Some(v) => !values.insert(v.to_string()),
            None => existing.iter().any(|e| same_element(e, &item, by_value)),
        };
        if present {
            continue;
        }
        if is_primary(&item) {
            new_primary = Some(existing.len());
        }
        existing.push(item);
    }
    if let Some(keep) = new_primary {
        clear_other_primaries(existing, keep);
    }
}

/// Sets sub-attributes of a complex value; `null` unassigns on replace.
pub(super) fn merge(obj: &mut Map<String, Value>, incoming: Map<String, Value>, mode: Mode) {
    for (k, v) in incoming {
        let key = find_key(obj, &k).unwrap_or(k);
        if v.is_null() {
            if mode == Mode::Replace {
                obj.remove(&key);
            }
        } else {
            obj.insert(key, clean(v));
        }
    }
}

/// The value to create when a filtered replace matches nothing: the filter
/// must be `eq` comparisons joined by `and`, one of them on `type`.
pub(super) fn template(filter: &Filter) -> Option<Map<String, Value>> {
    fn collect(f: &Filter, out: &mut Map<String, Value>) -> Option<()> {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub.is_none() && *value != CompValue::Null => {
                out.insert(path.name.clone(), value.to_json());
                Some(())
            }
            Filter::And(a, b) => {
                collect(a, out)?;
                collect(b, out)
            }
            _ => None,
        }
    }
    let mut out = Map::new();
    collect(filter, &mut out)?;
    find_key(&out, "type").map(|_| out)
}

/// Whether a `remove` value `target` designates the stored value `element`:
/// equal, same `value` for references, or every given sub-attribute equal.
pub(super) fn selects(target: &Value, element: &Value, by_value: bool) -> bool {
    if same_element(target, element, by_value) {
        return true;
    }
    match target {
        Value::Object(given) if !given.is_empty() && element.is_object() => {
            given.iter().all(|(k, v)| get_ci(element, k) == Some(v))
        }
        _ => false,
    }
}
