//! `remove` (RFC 7644 §3.5.2.2), including Entra's removal of listed values.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::target::{
    check, check_known, container_mut, guard, is_read_only, read_only_error, unlist_schema, Schema,
};
use super::values::{clean, find_key, is_reference_list, references, selects, top, value_str};
use super::{PatchError, PatchPath, PatchRules};

pub(super) fn remove(
    doc: &mut Value,
    path: &PatchPath,
    value: Option<&Value>,
    rules: &dyn PatchRules,
) -> Result<(), PatchError> {
    check_known(path, rules)?;
    if is_read_only(&path.attr, rules) {
        return Err(read_only_error(&path.attr));
    }
    let guard = guard(doc, &path.attr, rules);
    let Some(container) = container_mut(doc, &path.attr, false)? else {
        return Ok(());
    };
    let Some(key) = find_key(container, &path.attr.name) else {
        return Ok(());
    };
    let schema = Schema(rules);
    let parent = top(&path.attr);
    let selected = |e: &Value| match &path.filter {
        Some(f) => f.matches_element(e, &parent, &schema),
        None => true,
    };
    match (&path.filter, &path.attr.sub) {
        (None, None) => {
            let ids = value
                .filter(|_| rules.is_reference(&path.attr))
                .map(|v| references(v.clone(), is_reference_list(&key)));
            remove_values(container, &key, ids.as_ref().or(value))
        }
        (Some(_), None) => match container.get_mut(&key) {
            Some(Value::Array(items)) => {
                items.retain(|e| !selected(e));
                if items.is_empty() {
                    container.remove(&key);
                }
            }
            Some(single) if selected(single) => {
                container.remove(&key);
            }
            _ => {}
        },
        (_, Some(sub)) => match container.get_mut(&key) {
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter(|e| selected(e)) {
                    if let Value::Object(obj) = item {
                        if let Some(k) = find_key(obj, sub) {
                            obj.remove(&k);
                        }
                    }
                }
            }
            Some(Value::Object(obj)) => {
                if let Some(k) = find_key(obj, sub) {
                    obj.remove(&k);
                }
                if obj.is_empty() {
                    container.remove(&key);
                }
            }
            _ => {}
        },
    }
    if path.attr.is_schema_urn() {
        unlist_schema(doc, &path.attr.name);
    }
    check(guard, doc)
}

/// `remove` of a whole attribute, or with a `value` (Entra) of just those
/// values of a multi-valued attribute.
fn remove_values(container: &mut Map<String, Value>, key: &str, value: Option<&Value>) {
    let by_value = is_reference_list(key);
    match (container.get_mut(key), value) {
        (Some(Value::Array(items)), Some(given)) if !given.is_null() => {
            let targets: Vec<Value> = match given {
                Value::Array(list) => list.iter().cloned().map(clean).collect(),
                other => vec![clean(other.clone())],
            };
            // A target with a `value` selects exactly the elements with that value
            // (`selects`): those go through a set, so removing n of m members is O(n + m).
            let (by_id, others): (Vec<&Value>, Vec<&Value>) = targets
                .iter()
                .partition(|t| by_value && value_str(t).is_some());
            let ids: HashSet<&str> = by_id.into_iter().filter_map(value_str).collect();
            items.retain(|e| {
                let listed = value_str(e).is_some_and(|v| ids.contains(v));
                !listed && !others.iter().any(|t| selects(t, e, by_value))
            });
            if items.is_empty() {
                container.remove(key);
            }
        }
        _ => {
            container.remove(key);
        }
    }
}
