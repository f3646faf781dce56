//! Where an operation lands and what guards it: known paths, read-only and
//! immutable attributes, and the object (resource or extension) holding an
//! attribute.

use serde_json::{Map, Value};

use super::values::{find_key, get_ci, top};
use super::{PatchError, PatchPath, PatchRules};
use crate::filter::{AttrPath, AttrSchema};

/// Adapts [`PatchRules`] to the filter evaluator.
pub(super) struct Schema<'a>(pub(super) &'a dyn PatchRules);

impl AttrSchema for Schema<'_> {
    fn case_exact(&self, path: &AttrPath) -> bool {
        self.0.case_exact(path)
    }
}

/// `invalidPath` unless the rules know the path's attribute and every
/// attribute its value filter names.
pub(super) fn check_known(path: &PatchPath, rules: &dyn PatchRules) -> Result<(), PatchError> {
    if !rules.knows(&path.attr) {
        return Err(PatchError::InvalidPath(format!(
            "'{}' is not an attribute of this resource",
            path.attr
        )));
    }
    let Some(filter) = &path.filter else {
        return Ok(());
    };
    let mut unknown = None;
    filter.visit_paths(&mut |p| {
        let known = p.urn.is_none()
            && p.sub.is_none()
            && rules.knows(&top(&path.attr).with_sub(p.name.clone()));
        if !known && unknown.is_none() {
            unknown = Some(p.to_string());
        }
    });
    match unknown {
        Some(p) => Err(PatchError::InvalidPath(format!(
            "the filter names '{p}', which is not a sub-attribute of '{}'",
            path.attr.name
        ))),
        None => Ok(()),
    }
}

pub(super) fn read_only_error(attr: &AttrPath) -> PatchError {
    PatchError::Mutability(format!("attribute '{attr}' is read-only"))
}

pub(super) fn is_read_only(attr: &AttrPath, rules: &dyn PatchRules) -> bool {
    rules.is_read_only(attr) || (attr.sub.is_some() && rules.is_read_only(&top(attr)))
}

/// Whether the resource already holds `value` at `attr` (for objects: holds
/// every given sub-attribute with that value).
pub(super) fn holds(doc: &Value, attr: &AttrPath, value: &Value) -> bool {
    match (lookup(doc, attr), value) {
        (None, Value::Null) => true,
        (Some(current), Value::Object(given)) if current.is_object() => given
            .iter()
            .all(|(k, v)| get_ci(current, k).unwrap_or(&Value::Null) == v),
        (Some(current), _) => current == value,
        (None, _) => false,
    }
}

fn lookup<'a>(doc: &'a Value, attr: &AttrPath) -> Option<&'a Value> {
    let base = match attr.extension_urn() {
        Some(urn) => get_ci(doc, urn)?,
        None => doc,
    };
    let v = get_ci(base, &attr.name)?;
    match &attr.sub {
        Some(sub) => get_ci(v, sub),
        None => Some(v),
    }
}

/// Remembers the value of an immutable attribute before an operation.
pub(super) struct Guard {
    attr: AttrPath,
    before: Value,
}

pub(super) fn guard(doc: &Value, attr: &AttrPath, rules: &dyn PatchRules) -> Option<Guard> {
    let attr = top(attr);
    if !rules.is_immutable(&attr) {
        return None;
    }
    let before = lookup(doc, &attr).filter(|v| !v.is_null())?.clone();
    Some(Guard { attr, before })
}

pub(super) fn check(guard: Option<Guard>, doc: &Value) -> Result<(), PatchError> {
    match guard {
        Some(g) if lookup(doc, &g.attr) != Some(&g.before) => Err(PatchError::Mutability(format!(
            "attribute '{}' is immutable and cannot be changed",
            g.attr
        ))),
        _ => Ok(()),
    }
}

/// The object holding `attr`: the resource, or its extension object
/// (created, and listed in `schemas`, when `create`).
pub(super) fn container_mut<'a>(
    doc: &'a mut Value,
    attr: &AttrPath,
    create: bool,
) -> Result<Option<&'a mut Map<String, Value>>, PatchError> {
    let Value::Object(root) = doc else {
        return Err(PatchError::InvalidValue(
            "the resource is not a JSON object".into(),
        ));
    };
    let Some(urn) = attr.extension_urn() else {
        return Ok(Some(root));
    };
    let key = match find_key(root, urn) {
        Some(key) => key,
        None if create => {
            list_schema(root, urn);
            root.insert(urn.to_string(), Value::Object(Map::new()));
            urn.to_string()
        }
        None => return Ok(None),
    };
    match root.get_mut(&key) {
        Some(Value::Object(ext)) => Ok(Some(ext)),
        Some(slot) if create && slot.is_null() => {
            *slot = Value::Object(Map::new());
            Ok(slot.as_object_mut())
        }
        Some(_) if create => Err(PatchError::InvalidValue(format!(
            "'{key}' is not an object"
        ))),
        _ => Ok(None),
    }
}

fn list_schema(root: &mut Map<String, Value>, urn: &str) {
    let Some(key) = find_key(root, "schemas") else {
        return;
    };
    if let Some(Value::Array(schemas)) = root.get_mut(&key) {
        if !schemas
            .iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
        {
            schemas.push(Value::String(urn.to_string()));
        }
    }
}

pub(super) fn unlist_schema(doc: &mut Value, urn: &str) {
    let Value::Object(root) = doc else {
        return;
    };
    let Some(key) = find_key(root, "schemas") else {
        return;
    };
    if let Some(Value::Array(schemas)) = root.get_mut(&key) {
        schemas.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
}
