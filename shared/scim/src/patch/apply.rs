//! Application of PATCH operations (RFC 7644 §3.5.2.1-3) to a JSON resource.

use serde_json::{Map, Value};

use super::remove::remove;
use super::target::{
    check, check_known, container_mut, guard, holds, is_read_only, read_only_error, Schema,
};
use super::values::{
    append_unique, clean, clear_other_primaries, coerce, find_key, is_primary, is_reference_list,
    merge, references, template, top, Mode,
};
use super::{OpKind, PatchError, PatchOp, PatchPath, PatchRequest, PatchRules};
use crate::filter::{AttrPath, Filter};

/// Applies every operation of `req` to a copy of `resource` and returns the
/// result; on error nothing is applied (the input is never modified).
pub fn apply(
    resource: &Value,
    req: &PatchRequest,
    rules: &dyn PatchRules,
) -> Result<Value, PatchError> {
    if !resource.is_object() {
        return Err(PatchError::InvalidValue(
            "the resource is not a JSON object".into(),
        ));
    }
    let mut doc = resource.clone();
    for (i, op) in req.operations.iter().enumerate() {
        apply_op(&mut doc, op, rules).map_err(|e| {
            let target = op
                .path
                .as_ref()
                .map_or_else(|| "without path".to_string(), |p| format!("'{p}'"));
            e.map_detail(|d| format!("operation {} ({} {target}): {d}", i + 1, op.op))
        })?;
    }
    Ok(doc)
}

fn apply_op(doc: &mut Value, op: &PatchOp, rules: &dyn PatchRules) -> Result<(), PatchError> {
    let mode = match op.op {
        OpKind::Remove => {
            let Some(path) = &op.path else {
                return Err(PatchError::NoTarget("'remove' requires a 'path'".into()));
            };
            return remove(doc, path, op.value.as_ref(), rules);
        }
        OpKind::Add => Mode::Add,
        OpKind::Replace => Mode::Replace,
    };
    let Some(value) = &op.value else {
        return Err(PatchError::InvalidSyntax(format!(
            "'{}' requires a 'value'",
            op.op
        )));
    };
    match &op.path {
        None => {
            let Value::Object(attrs) = value else {
                return Err(PatchError::InvalidValue(
                    "without a 'path', 'value' must be an object of attributes".into(),
                ));
            };
            attrs
                .iter()
                .try_for_each(|(key, v)| set_keyed(doc, mode, None, key, v, rules))
        }
        Some(path) if path.filter.is_none() && path.attr.is_schema_urn() => {
            set_keyed(doc, mode, None, &path.attr.name, value, rules)
        }
        Some(path) => {
            check_known(path, rules)?;
            if is_read_only(&path.attr, rules) {
                return Err(read_only_error(&path.attr));
            }
            set(doc, mode, path, value.clone(), rules)
        }
    }
}

/// Applies one `key: value` member of a path-less value (or of an extension
/// object inside it, then `urn` is that extension's URN).
fn set_keyed(
    doc: &mut Value,
    mode: Mode,
    urn: Option<&str>,
    key: &str,
    value: &Value,
    rules: &dyn PatchRules,
) -> Result<(), PatchError> {
    let mut path = PatchPath::parse(key)?;
    if let Some(urn) = urn {
        if path.attr.urn.is_some() || path.attr.is_schema_urn() {
            return Err(PatchError::InvalidPath(format!(
                "'{key}' inside '{urn}' must be an attribute of that schema"
            )));
        }
        path.attr.urn = Some(urn.to_string());
    } else if path.filter.is_none() && path.attr.is_schema_urn() {
        check_known(&path, rules)?;
        let schema = path.attr.name.clone();
        return match value {
            Value::Object(attrs) => attrs
                .iter()
                .try_for_each(|(k, v)| set_keyed(doc, mode, Some(&schema), k, v, rules)),
            Value::Null if mode == Mode::Replace => remove(doc, &path, None, rules),
            Value::Null => Ok(()),
            _ => Err(PatchError::InvalidValue(format!(
                "the value of '{schema}' must be an object"
            ))),
        };
    }
    check_known(&path, rules)?;
    if is_read_only(&path.attr, rules) {
        // Okta sends the unchanged `id` along with a group rename.
        return if path.filter.is_none() && holds(doc, &path.attr, value) {
            Ok(())
        } else {
            Err(read_only_error(&path.attr))
        };
    }
    set(doc, mode, &path, value.clone(), rules)
}

fn set(
    doc: &mut Value,
    mode: Mode,
    path: &PatchPath,
    value: Value,
    rules: &dyn PatchRules,
) -> Result<(), PatchError> {
    let value = match (&path.filter, &path.attr.sub) {
        (_, None) if rules.is_reference(&path.attr) => {
            // A filtered path designates single values.
            let multi = path.filter.is_none() && is_reference_list(&path.attr.name);
            references(value, multi)
        }
        _ => value,
    };
    let value = coerce(value, &path.attr, rules);
    let guard = guard(doc, &path.attr, rules);
    let Some(container) = container_mut(doc, &path.attr, true)? else {
        return Err(PatchError::NoTarget(format!(
            "no container for '{}'",
            path.attr
        )));
    };
    match (&path.filter, &path.attr.sub) {
        (None, None) => set_attr(container, &path.attr.name, value, mode),
        (None, Some(sub)) => set_sub(container, &path.attr.name, sub, value, mode)?,
        (Some(filter), _) => set_filtered(container, &path.attr, filter, value, mode, rules)?,
    }
    check(guard, doc)
}

/// `add`/`replace` of a whole attribute.
fn set_attr(map: &mut Map<String, Value>, name: &str, value: Value, mode: Mode) {
    let key = find_key(map, name).unwrap_or_else(|| name.to_string());
    if value.is_null() {
        if mode == Mode::Replace {
            map.remove(&key);
        }
        return;
    }
    let by_value = is_reference_list(name);
    match (map.get_mut(&key), value, mode) {
        (Some(Value::Array(existing)), Value::Array(items), Mode::Add) => {
            append_unique(existing, items, by_value)
        }
        (Some(Value::Array(existing)), item, Mode::Add) => {
            append_unique(existing, vec![item], by_value)
        }
        (Some(Value::Object(obj)), Value::Object(incoming), _) => merge(obj, incoming, mode),
        (_, Value::Array(items), _) => {
            let mut list = Vec::new();
            append_unique(&mut list, items, by_value);
            map.insert(key, Value::Array(list));
        }
        (_, other, _) => {
            map.insert(key, clean(other));
        }
    }
}

/// `add`/`replace` of `name.sub` (on every value when `name` is multi-valued).
fn set_sub(
    map: &mut Map<String, Value>,
    name: &str,
    sub: &str,
    value: Value,
    mode: Mode,
) -> Result<(), PatchError> {
    let key = find_key(map, name).unwrap_or_else(|| name.to_string());
    match map.get_mut(&key) {
        Some(Value::Object(obj)) => set_attr(obj, sub, value, mode),
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(obj) = item {
                    set_attr(obj, sub, value.clone(), mode);
                }
            }
        }
        None | Some(Value::Null) => {
            if !value.is_null() {
                let mut obj = Map::new();
                set_attr(&mut obj, sub, value, mode);
                map.insert(key, Value::Object(obj));
            }
        }
        Some(_) => {
            return Err(PatchError::InvalidPath(format!(
                "'{name}' is not a complex attribute, so it has no '{sub}'"
            )))
        }
    }
    Ok(())
}

/// `add`/`replace` on `attr[filter]` or `attr[filter].sub`.
fn set_filtered(
    map: &mut Map<String, Value>,
    attr: &AttrPath,
    filter: &Filter,
    value: Value,
    mode: Mode,
    rules: &dyn PatchRules,
) -> Result<(), PatchError> {
    let key = find_key(map, &attr.name).unwrap_or_else(|| attr.name.clone());
    let parent = top(attr);
    let schema = Schema(rules);
    let matched: Vec<usize> = match map.get(&key) {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter(|(_, e)| filter.matches_element(e, &parent, &schema))
            .map(|(i, _)| i)
            .collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(PatchError::InvalidPath(format!(
                "'{}' is not multi-valued, so it cannot be filtered",
                attr.name
            )))
        }
    };
    if matched.is_empty() {
        return create_filtered(map, key, attr, filter, value, rules);
    }
    let Some(Value::Array(items)) = map.get_mut(&key) else {
        return Ok(());
    };
    for &i in &matched {
        let Some(item) = items.get_mut(i) else {
            continue;
        };
        match (&attr.sub, mode, item) {
            (Some(sub), _, Value::Object(obj)) => set_attr(obj, sub, value.clone(), mode),
            (Some(_), _, _) => {}
            (None, Mode::Replace, item) => *item = clean(value.clone()),
            (None, Mode::Add, Value::Object(obj)) => match &value {
                Value::Object(incoming) => merge(obj, incoming.clone(), mode),
                Value::Null => {}
                _ => {
                    return Err(PatchError::InvalidValue(format!(
                        "values of '{}' are objects; 'value' must be an object",
                        attr.name
                    )))
                }
            },
            (None, Mode::Add, item) => *item = clean(value.clone()),
        }
    }
    items.retain(|v| !v.is_null());
    if let Some(&first) = matched
        .iter()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    {
        clear_other_primaries(items, first);
    }
    if items.is_empty() {
        map.remove(&key);
    }
    Ok(())
}

/// A filtered `add`/`replace` that matched nothing: creates the value the
/// filter describes (Entra sets `emails[type eq "work"].value` on users
/// without a work email), or fails with `noTarget`.
fn create_filtered(
    map: &mut Map<String, Value>,
    key: String,
    attr: &AttrPath,
    filter: &Filter,
    value: Value,
    rules: &dyn PatchRules,
) -> Result<(), PatchError> {
    if value.is_null() {
        return Ok(());
    }
    let Some(mut element) = template(filter) else {
        return Err(PatchError::NoTarget(format!(
            "no value of '{}' matches the filter [{filter}]",
            attr.name
        )));
    };
    match (&attr.sub, value) {
        (Some(sub), value) => set_attr(&mut element, sub, value, Mode::Replace),
        (None, Value::Object(incoming)) => merge(&mut element, incoming, Mode::Replace),
        (None, _) => {
            return Err(PatchError::InvalidValue(format!(
                "values of '{}' are objects; 'value' must be an object",
                attr.name
            )))
        }
    }
    let element = coerce(Value::Object(element), &top(attr), rules);
    let primary = is_primary(&element);
    match map.get_mut(&key) {
        Some(Value::Array(items)) => {
            let index = items.len();
            items.push(element);
            if primary {
                clear_other_primaries(items, index);
            }
        }
        _ => {
            map.insert(key, Value::Array(vec![element]));
        }
    }
    Ok(())
}
