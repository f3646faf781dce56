//! The traversal of a resource body the passes share: which key is which
//! attribute, which extension, and which is ignored.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::schema::{AttrType, AttributeDef, Resource, SchemaDef, Target};

/// What one key of a body (or of a complex value) holds.
pub(super) enum Slot {
    /// A writable attribute the schemas define, with its display path
    /// (`name`, `name.givenName`, `urn:...:Splashtop:2.0:User:ssoName`).
    Attribute {
        def: &'static AttributeDef,
        path: String,
    },
    /// The object of one of the resource's writable extensions.
    Extension { urn: String },
    /// Read-only or unknown: ignored.
    Ignored,
}

/// A top-level key: a core (or common) attribute, an extension object, or
/// ignored. Extension attributes belong inside their extension's object, and
/// dotted keys are PATCH syntax: both are unknown at the top of a body.
fn classify(resource: Resource, key: &str) -> Top {
    match resource.resolve_key(key) {
        Some(Target::Attribute {
            schema,
            attr,
            sub: None,
        }) if schema.id == resource.core_urn() && !attr.is_read_only() => Top::Attribute(attr),
        Some(target @ Target::Schema(schema))
            if schema.id != resource.core_urn() && !target.is_read_only() =>
        {
            Top::Extension(schema)
        }
        _ => Top::Ignored,
    }
}

enum Top {
    Attribute(&'static AttributeDef),
    Extension(&'static SchemaDef),
    Ignored,
}

/// A writable attribute of extension `schema` named by `key`.
fn extension_attribute(schema: &'static SchemaDef, key: &str) -> Option<&'static AttributeDef> {
    if key.contains('.') {
        return None;
    }
    schema.attribute(key.trim()).filter(|a| !a.is_read_only())
}

/// A key inside a value of complex attribute `parent` (at `path`).
pub(super) fn sub_slot(parent: &'static AttributeDef, key: &str, path: &str) -> Slot {
    match parent.resolve_sub(key.trim()) {
        Some(def) if !def.is_read_only() => Slot::Attribute {
            def,
            path: format!("{path}.{}", def.name),
        },
        _ => Slot::Ignored,
    }
}

/// Calls `f` with every top-level key's slot and value, and with every key
/// inside an extension object.
pub(super) fn visit(
    body: &Value,
    resource: Resource,
    f: &mut dyn FnMut(Slot, &Value) -> Result<(), ScimError>,
) -> Result<(), ScimError> {
    let Value::Object(map) = body else {
        return Ok(());
    };
    for (key, value) in map {
        match classify(resource, key) {
            Top::Attribute(def) => f(
                Slot::Attribute {
                    def,
                    path: def.name.clone(),
                },
                value,
            )?,
            Top::Extension(schema) => {
                f(
                    Slot::Extension {
                        urn: schema.id.clone(),
                    },
                    value,
                )?;
                for (k, v) in value.as_object().into_iter().flatten() {
                    let slot = match extension_attribute(schema, k) {
                        Some(def) => Slot::Attribute {
                            def,
                            path: format!("{}:{}", schema.id, def.name),
                        },
                        None => Slot::Ignored,
                    };
                    f(slot, v)?;
                }
            }
            Top::Ignored => f(Slot::Ignored, value)?,
        }
    }
    Ok(())
}

/// Drops `null` members of the body and of its extension objects, then calls
/// `f` with every writable attribute the schemas define and its value.
pub(super) fn visit_mut(
    body: &mut Value,
    resource: Resource,
    f: &mut dyn FnMut(&'static AttributeDef, &mut Value),
) {
    let Value::Object(map) = body else {
        return;
    };
    map.retain(|_, v| !v.is_null());
    for (key, value) in map.iter_mut() {
        match classify(resource, key) {
            Top::Attribute(def) => f(def, value),
            Top::Extension(schema) => {
                let Value::Object(inner) = value else {
                    continue;
                };
                inner.retain(|_, v| !v.is_null());
                for (k, v) in inner.iter_mut() {
                    if let Some(def) = extension_attribute(schema, k) {
                        f(def, v);
                    }
                }
            }
            Top::Ignored => {}
        }
    }
}

/// Drops the read-only and unknown attributes, sub-attributes, extension
/// attributes and extensions (and those extensions' URNs from `schemas`);
/// returns the paths dropped, each once.
pub(super) fn prune(body: &mut Value, resource: Resource) -> Vec<String> {
    let Value::Object(map) = body else {
        return Vec::new();
    };
    let mut dropped = Vec::new();
    map.retain(|key, value| match classify(resource, key) {
        Top::Attribute(def) => {
            prune_value(def, value, &def.name, &mut dropped);
            true
        }
        Top::Extension(schema) => {
            if let Value::Object(inner) = value {
                inner.retain(|k, v| match extension_attribute(schema, k) {
                    Some(def) => {
                        prune_value(def, v, &format!("{}:{}", schema.id, def.name), &mut dropped);
                        true
                    }
                    None => {
                        dropped.push(format!("{}:{k}", schema.id));
                        false
                    }
                });
            }
            true
        }
        Top::Ignored => {
            dropped.push(key.clone());
            false
        }
    });
    prune_schemas(map, resource, &mut dropped);
    let mut seen = std::collections::HashSet::new();
    dropped.retain(|p| seen.insert(p.clone()));
    dropped
}

/// Keeps in `schemas` only the core URN and the writable extensions'.
fn prune_schemas(map: &mut Map<String, Value>, resource: Resource, dropped: &mut Vec<String>) {
    let Some(Value::Array(urns)) = map
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v)
    else {
        return;
    };
    urns.retain(|u| {
        let Some(urn) = u.as_str() else {
            return true;
        };
        let keep = urn.trim().eq_ignore_ascii_case(resource.core_urn())
            || resource
                .extension(urn)
                .is_some_and(|s| !Target::Schema(s).is_read_only());
        if !keep {
            dropped.push(format!("schemas: {urn}"));
        }
        keep
    });
}

fn prune_value(def: &AttributeDef, value: &mut Value, path: &str, dropped: &mut Vec<String>) {
    if def.type_ != AttrType::Complex {
        return;
    }
    let mut prune_members = |members: &mut Map<String, Value>| {
        members.retain(|k, _| match def.resolve_sub(k.trim()) {
            Some(sub) if !sub.is_read_only() => true,
            _ => {
                dropped.push(format!("{path}.{k}"));
                false
            }
        });
    };
    match value {
        Value::Object(members) => prune_members(members),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(prune_members),
        _ => {}
    }
}
