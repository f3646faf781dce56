//! Attribute projection of SCIM responses: `attributes` / `excludedAttributes`
//! (RFC 7644 §3.9).

use serde_json::{Map, Value};
use splashsync_scim::filter::AttrPath;
use splashsync_scim::{ScimError, ScimType};

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Vec<AttrPath>,
    exclude: Vec<AttrPath>,
}

/// Attributes returned whatever the projection says.
const ALWAYS: &[&str] = &["id", "schemas", "meta"];

fn parse_list(name: &str, text: Option<&str>) -> Result<Vec<AttrPath>, ScimError> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<AttrPath>().map_err(|e| {
                    ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("invalid {name} entry {s:?}: {e}"),
                    )
                })
            })
            .collect()
    })
    .unwrap_or_else(|| Ok(Vec::new()))
}

impl Projection {
    /// From the `attributes` and `excludedAttributes` parameters.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        Ok(Self {
            include: parse_list("attributes", attributes)?,
            exclude: parse_list("excludedAttributes", excluded)?,
        })
    }

    /// Whether members should be loaded at all.
    pub fn wants(&self, name: &str) -> bool {
        let named = |p: &AttrPath| p.name.eq_ignore_ascii_case(name) && p.extension_urn().is_none();
        if !self.include.is_empty() {
            return self.include.iter().any(named);
        }
        !self.exclude.iter().any(|p| named(p) && p.sub.is_none())
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut obj) = resource else {
            return resource;
        };
        if !self.include.is_empty() {
            obj.retain(|k, v| {
                if ALWAYS.iter().any(|a| k.eq_ignore_ascii_case(a)) {
                    return true;
                }
                let wanted: Vec<&AttrPath> = self
                    .include
                    .iter()
                    .filter(|p| match p.extension_urn() {
                        Some(urn) => k.eq_ignore_ascii_case(urn),
                        None => {
                            k.eq_ignore_ascii_case(&p.name)
                                || (p.is_schema_urn() && k.eq_ignore_ascii_case(&p.name))
                        }
                    })
                    .collect();
                if wanted.is_empty() {
                    return false;
                }
                keep_subs(v, &wanted);
                true
            });
        }
        for p in &self.exclude {
            let key = p
                .extension_urn()
                .map(str::to_string)
                .unwrap_or_else(|| p.name.clone());
            if ALWAYS.iter().any(|a| key.eq_ignore_ascii_case(a)) {
                continue;
            }
            let target = match p.extension_urn() {
                Some(_) => Some(p.name.as_str()),
                None => p.sub.as_deref(),
            };
            match target {
                None => obj.retain(|k, _| !k.eq_ignore_ascii_case(&key)),
                Some(sub) => {
                    if let Some((_, v)) = obj.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(&key))
                    {
                        remove_sub(v, sub);
                    }
                }
            }
        }
        Value::Object(obj)
    }
}

/// Keeps only the named sub-attributes when every request for this attribute names one.
fn keep_subs(value: &mut Value, wanted: &[&AttrPath]) {
    let subs: Vec<&str> = wanted
        .iter()
        .map(|p| {
            if p.extension_urn().is_some() {
                Some(p.name.as_str())
            } else {
                p.sub.as_deref()
            }
        })
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if subs.is_empty() {
        return;
    }
    let keep = |o: &mut Map<String, Value>| {
        o.retain(|k, _| subs.iter().any(|s| k.eq_ignore_ascii_case(s)))
    };
    match value {
        Value::Object(o) => keep(o),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(keep),
        _ => {}
    }
}

fn remove_sub(value: &mut Value, sub: &str) {
    let drop = |o: &mut Map<String, Value>| o.retain(|k, _| !k.eq_ignore_ascii_case(sub));
    match value {
        Value::Object(o) => drop(o),
        Value::Array(items) => items
            .iter_mut()
            .filter_map(Value::as_object_mut)
            .for_each(drop),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_keep_what_is_asked_plus_id_schemas_and_meta() {
        let p = Projection::parse(Some("userName,name.givenName"), None).unwrap();
        let out = p.apply(json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "G", "familyName": "F"}, "active": true}));
        assert_eq!(
            out,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "G"}})
        );
    }

    #[test]
    fn excluded_members_are_dropped_and_not_loaded() {
        let p = Projection::parse(None, Some("members")).unwrap();
        assert!(!p.wants("members"));
        let out = p.apply(json!({"id": "1", "displayName": "g", "members": [{"value": "u"}]}));
        assert_eq!(out, json!({"id": "1", "displayName": "g"}));
    }
}
