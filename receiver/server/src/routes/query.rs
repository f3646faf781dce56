//! List requests: filter, paging, sorting and attribute projection, shared by /Users and
//! /Groups.

use serde::Deserialize;
use serde_json::{Map, Value};
use splashsync_scim::filter::{self, AttrPath, DefaultSchema, Filter};
use splashsync_scim::list::Paging;
use splashsync_scim::{schema, ScimError, ScimType};

use splashsync_directory::model::{Indexed, Query};
use splashsync_directory::query::{self, Table};

use super::projection::Projection;

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

impl ListParams {
    /// Whether `attributes` asks for the provisioning extension (returned on request only).
    pub fn wants_provisioning(&self) -> bool {
        crate::provisioning::requested(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }

    /// The projection these parameters ask for.
    pub fn projection(&self) -> Result<Projection, ScimError> {
        Projection::parse(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
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
            projection: params.projection()?,
        })
    }

    /// The store query: one page when the store can filter and sort in SQL exactly, else
    /// every candidate row (at most `scan_limit` of them) for [`ListRequest::finish`].
    pub fn store_query(&self, name_attr: &str, without_members: bool, scan_limit: u64) -> Query {
        let table = if name_attr == "userName" {
            Table::Users
        } else {
            Table::Groups
        };
        let exact = query::is_exact(table, self.filter.as_ref(), self.sort.as_ref());
        Query {
            lookup: self.lookup(name_attr),
            offset: self.paging.offset(),
            limit: self.paging.count,
            all: !exact,
            without_members,
            status: None,
            filter: self.filter.clone(),
            sort: self.sort.clone(),
            scan_limit,
        }
    }

    /// An index lookup the filter's root `and` chain implies (`id`, the name, externalId).
    fn lookup(&self, name_attr: &str) -> Option<(Indexed, String)> {
        self.filter.as_ref().and_then(|f| {
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
        })
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
