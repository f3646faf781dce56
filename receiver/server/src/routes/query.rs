//! List requests: filter, paging, sorting and attribute projection, shared by /Users and
//! /Groups.

use serde::Deserialize;
use serde_json::{Map, Value};
use splashsync_scim::filter::{self, AttrPath, DefaultSchema, Filter};
use splashsync_scim::list::Paging;
use splashsync_scim::{schema, ScimError, ScimType};

use splashsync_directory::model::{Indexed, Query};

/// Query parameters of a list or read request; numbers arrive as text and are checked
/// here so that a bad value is a SCIM error, not a plain-text rejection.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct ListParams {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
    /// Attributes to return.
    pub attributes: Option<String>,
    /// Attributes not to return.
    #[serde(rename = "excludedAttributes")]
    pub excluded_attributes: Option<String>,
    #[serde(rename = "sortBy")]
    sort_by: Option<String>,
    #[serde(rename = "sortOrder")]
    sort_order: Option<String>,
}

fn parse_int(name: &str, value: Option<&str>) -> Result<Option<i64>, ScimError> {
    value
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::bad_request(ScimType::InvalidValue, format!("{name} must be an integer"))
            })
        })
        .transpose()
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// The parsed filter.
    pub filter: Option<Filter>,
    /// Paging.
    pub paging: Paging,
    /// Sort key and direction (true: descending).
    pub sort: Option<(AttrPath, bool)>,
    /// Projection.
    pub projection: Projection,
}

impl ListRequest {
    /// Validates the parameters.
    pub fn parse(
        params: &ListParams,
        page_size: u64,
        max_page_size: u64,
    ) -> Result<Self, ScimError> {
        let paging = Paging::normalise(
            parse_int("startIndex", params.start_index.as_deref())?,
            parse_int("count", params.count.as_deref())?,
            page_size,
            max_page_size,
        );
        let filter = match params.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(filter::parse(f).map_err(|e| {
                ScimError::bad_request(
                    ScimType::InvalidFilter,
                    format!("invalid filter {f:?}: {e}"),
                )
            })?),
        };
        let sort = match params.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => {
                let path: AttrPath = s.parse().map_err(|e| {
                    ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("invalid sortBy {s:?}: {e}"),
                    )
                })?;
                let descending = match params
                    .sort_order
                    .as_deref()
                    .map(str::to_ascii_lowercase)
                    .as_deref()
                {
                    None | Some("ascending") => false,
                    Some("descending") => true,
                    Some(other) => {
                        return Err(ScimError::bad_request(
                            ScimType::InvalidValue,
                            format!("sortOrder must be ascending or descending, not {other:?}"),
                        ))
                    }
                };
                Some((path, descending))
            }
        };
        Ok(Self {
            filter,
            paging,
            sort,
            projection: Projection::parse(params)?,
        })
    }

    /// The store query: one page when nothing needs all rows, else every row an index
    /// lookup (or the whole table) yields.
    pub fn store_query(&self, name_attr: &str, without_members: bool) -> Query {
        let lookup = self.filter.as_ref().and_then(|f| {
            f.eq_hints().into_iter().find_map(|(path, value)| {
                let core =
                    path.urn.is_none() || path.is_schema_urn() || path.extension_urn().is_none();
                if !core || path.sub.is_some() {
                    return None;
                }
                let index = if path.name.eq_ignore_ascii_case("id") {
                    Indexed::Id
                } else if path.name.eq_ignore_ascii_case(name_attr) {
                    Indexed::Name
                } else if path.name.eq_ignore_ascii_case("externalId") {
                    Indexed::ExternalId
                } else {
                    return None;
                };
                Some((index, value.to_string()))
            })
        });
        let all = self.filter.is_some() || self.sort.is_some();
        Query {
            lookup,
            offset: self.paging.offset(),
            limit: self.paging.count,
            all,
            without_members,
            status: None,
        }
    }

    /// Filters, sorts and pages rendered resources when the store returned all rows.
    pub fn finish(
        &self,
        mut rendered: Vec<Value>,
        total: u64,
        store_paged: bool,
    ) -> (Vec<Value>, u64) {
        if store_paged {
            return (
                rendered
                    .into_iter()
                    .map(|r| self.projection.apply(r))
                    .collect(),
                total,
            );
        }
        if let Some(f) = &self.filter {
            rendered.retain(|r| f.matches(r, &DefaultSchema));
        }
        if let Some((path, descending)) = &self.sort {
            rendered.sort_by_cached_key(|r| sort_key(r, path));
            if *descending {
                rendered.reverse();
            }
        }
        let total = rendered.len() as u64;
        let page = rendered
            .into_iter()
            .skip(usize::try_from(self.paging.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(self.paging.count).unwrap_or(usize::MAX))
            .map(|r| self.projection.apply(r))
            .collect();
        (page, total)
    }
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// The value to sort by: missing values sort last (RFC 7644 §3.4.2.3).
fn sort_key(resource: &Value, path: &AttrPath) -> (bool, String) {
    let obj = resource.as_object();
    let top = obj.and_then(|o| match path.extension_urn() {
        Some(urn) => get_ci(o, urn)
            .and_then(Value::as_object)
            .and_then(|e| get_ci(e, &path.name)),
        None => get_ci(o, &path.name),
    });
    let value = match (&path.sub, top) {
        (Some(sub), Some(Value::Object(inner))) => get_ci(inner, sub),
        (Some(sub), Some(Value::Array(items))) => items
            .iter()
            .find(|i| i.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())
            .and_then(Value::as_object)
            .and_then(|i| get_ci(i, sub)),
        (None, v) => v,
        _ => None,
    };
    match value {
        Some(Value::String(s)) => (false, s.to_lowercase()),
        Some(Value::Null) | None => (true, String::new()),
        Some(other) => (false, other.to_string()),
    }
}

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
    /// From the request parameters.
    pub fn parse(params: &ListParams) -> Result<Self, ScimError> {
        Ok(Self {
            include: parse_list("attributes", params.attributes.as_deref())?,
            exclude: parse_list("excludedAttributes", params.excluded_attributes.as_deref())?,
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

/// The core schema URN of a resource type, for checks on `schemas`.
pub fn core_schema(resource_type: &str) -> &'static str {
    if resource_type == "Group" {
        schema::GROUP
    } else {
        schema::USER
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(attrs: Option<&str>, excluded: Option<&str>) -> ListParams {
        ListParams {
            attributes: attrs.map(str::to_string),
            excluded_attributes: excluded.map(str::to_string),
            ..ListParams::default()
        }
    }

    #[test]
    fn attributes_keep_what_is_asked_plus_id_schemas_and_meta() {
        let p = Projection::parse(&params(Some("userName,name.givenName"), None)).unwrap();
        let out = p.apply(json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "G", "familyName": "F"}, "active": true}));
        assert_eq!(
            out,
            json!({"id": "1", "schemas": [], "meta": {}, "userName": "a", "name": {"givenName": "G"}})
        );
    }

    #[test]
    fn excluded_members_are_dropped_and_not_loaded() {
        let p = Projection::parse(&params(None, Some("members"))).unwrap();
        assert!(!p.wants("members"));
        let out = p.apply(json!({"id": "1", "displayName": "g", "members": [{"value": "u"}]}));
        assert_eq!(out, json!({"id": "1", "displayName": "g"}));
    }

    #[test]
    fn missing_sort_values_go_last() {
        let r = ListRequest::parse(
            &ListParams {
                sort_by: Some("displayName".into()),
                ..ListParams::default()
            },
            100,
            1000,
        )
        .unwrap();
        let (page, _) = r.finish(
            vec![
                json!({"displayName": "b"}),
                json!({}),
                json!({"displayName": "A"}),
            ],
            3,
            false,
        );
        assert_eq!(
            page,
            vec![
                json!({"displayName": "A"}),
                json!({"displayName": "b"}),
                json!({})
            ]
        );
    }
}
