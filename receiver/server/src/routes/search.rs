//! Queries by POST (RFC 7644 §3.4.3): `POST /Users/.search`, `POST /Groups/.search` and
//! `POST /.search` at the root. The body is a SearchRequest whose parameters mean what
//! they mean in a GET query (filter, paging, sorting, projection), so it is read into the
//! same [`ListParams`] and answered by the same listing.

use axum::response::Response;
use axum::Extension;
use serde_json::{Map, Value};
use splashsync_scim::{ScimError, ScimType};

use super::listing;
use super::query::{ListParams, ListRequest};
use super::AppState;
use crate::extract::ScimJson;
use crate::user::get_ci;

/// The message schema a SearchRequest body lists in `schemas`.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// The SearchRequest attributes (RFC 7644 §3.4.3), as `ListParams` names them.
const PARAMETERS: &[&str] = &[
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
];

fn invalid(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(scim_type, detail)
}

/// A SearchRequest body as the query parameters of a GET: strings stay strings, numbers
/// become their text, `attributes` and `excludedAttributes` (lists of attribute names)
/// become comma-separated lists.
pub fn parse(body: &Value) -> Result<ListParams, ScimError> {
    let Value::Object(obj) = body else {
        return Err(invalid(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object (a SearchRequest)",
        ));
    };
    let listed = match get_ci(obj, "schemas") {
        Some(Value::Array(items)) => items.iter().any(is_search_request),
        Some(one) => is_search_request(one),
        None => false,
    };
    if !listed {
        return Err(invalid(
            ScimType::InvalidSyntax,
            format!("'schemas' must contain \"{SEARCH_REQUEST}\""),
        ));
    }
    let mut params = Map::new();
    for name in PARAMETERS {
        let numeric = matches!(*name, "startIndex" | "count");
        let list = matches!(*name, "attributes" | "excludedAttributes");
        let text = match get_ci(obj, name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) if numeric => n.to_string(),
            Some(Value::Array(items)) if list => names(name, items)?,
            Some(_) => {
                let expected = if numeric {
                    "an integer"
                } else if list {
                    "an array of attribute names"
                } else {
                    "a string"
                };
                return Err(invalid(
                    ScimType::InvalidValue,
                    format!("'{name}' must be {expected}"),
                ));
            }
        };
        params.insert((*name).into(), Value::String(text));
    }
    serde_json::from_value(Value::Object(params)).map_err(|e| {
        invalid(
            ScimType::InvalidSyntax,
            format!("invalid SearchRequest: {e}"),
        )
    })
}

fn is_search_request(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case(SEARCH_REQUEST))
}

/// A list of attribute names as one comma-separated list.
fn names(name: &str, items: &[Value]) -> Result<String, ScimError> {
    let names = items
        .iter()
        .map(|i| {
            i.as_str().ok_or_else(|| {
                invalid(
                    ScimType::InvalidValue,
                    format!("each value of '{name}' must be an attribute name (a string)"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names.join(","))
}

/// The parsed request and whether it asks for the provisioning extension.
fn request(state: &AppState, body: &Value) -> Result<(ListRequest, bool), ScimError> {
    let params = parse(body)?;
    let request = ListRequest::parse(&params, state.page_size, state.max_page_size)?;
    Ok((request, params.wants_provisioning()))
}

/// `POST /Users/.search`.
pub async fn users(
    Extension(state): Extension<AppState>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let (request, wanted) = request(&state, &body)?;
    Ok(listing::users(&state, &request, wanted)
        .await?
        .respond(&request))
}

/// `POST /Groups/.search`.
pub async fn groups(
    Extension(state): Extension<AppState>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let (request, wanted) = request(&state, &body)?;
    Ok(listing::groups(&state, &request, wanted)
        .await?
        .respond(&request))
}

/// `POST /.search`: users then groups.
pub async fn root(
    Extension(state): Extension<AppState>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let (request, wanted) = request(&state, &body)?;
    Ok(listing::everything(&state, &request, wanted)
        .await?
        .respond(&request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn search(extra: Value) -> Value {
        let mut body = json!({"schemas": [SEARCH_REQUEST]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    }

    #[test]
    fn a_search_request_reads_as_the_get_parameters() {
        let params = parse(&search(json!({
            "filter": "userName sw \"a\"", "startIndex": 2, "count": "5",
            "sortBy": "userName", "sortOrder": "descending",
            "attributes": ["userName", "name.givenName"], "excludedattributes": null
        })))
        .unwrap();
        let request = ListRequest::parse(&params, 100, 1000).unwrap();
        assert_eq!((request.paging.start_index, request.paging.count), (2, 5));
        assert!(request.filter.is_some());
        assert!(request
            .sort
            .as_ref()
            .is_some_and(|(_, descending)| *descending));
        assert_eq!(
            params.attributes.as_deref(),
            Some("userName,name.givenName")
        );
    }

    #[test]
    fn the_message_schema_is_required() {
        for body in [json!({}), json!({"schemas": ["urn:x"]}), json!([])] {
            let e = parse(&body).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidSyntax), "{body}");
        }
        assert!(parse(&json!({"schemas": SEARCH_REQUEST})).is_ok());
    }

    #[test]
    fn wrong_types_are_invalid_value_naming_the_parameter() {
        for (extra, name) in [
            (json!({"count": true}), "count"),
            (json!({"startIndex": [1]}), "startIndex"),
            (json!({"filter": 3}), "filter"),
            (json!({"attributes": [1]}), "attributes"),
            (
                json!({"excludedAttributes": {"a": 1}}),
                "excludedAttributes",
            ),
        ] {
            let e = parse(&search(extra.clone())).unwrap_err();
            assert_eq!(e.scim_type(), Some(ScimType::InvalidValue), "{extra}");
            assert!(e.detail().contains(name), "{extra}: {}", e.detail());
        }
    }
}
