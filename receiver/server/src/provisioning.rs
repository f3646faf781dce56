//! The splashsync provisioning extension of SCIM Users and Groups: read-only attributes
//! (`state`, `lastError`, `splashtopId`, `version`, `updated`) telling an identity admin
//! whether Splashtop has the change yet (docs/DESIGN.md, invariant 7).
//!
//! Its attributes are `returned: "request"` (RFC 7643 §7: such an attribute "is returned
//! in a SCIM query operation only if specified in the "attributes" parameter"): a response
//! carries it only when `attributes` names the extension or one of its attributes
//! ([`requested`]), so a client that PUTs back what it read does not echo it. Operators see
//! the same state in the admin API and the console, which read the audit store directly.
//!
//! The state lives in the audit tables, not in the resource: the directory reads it with
//! the resource (one statement for a whole page), only when asked, and the handlers add it
//! with [`render`]. It is dropped from incoming bodies (read-only: RFC 7644 §3.3).

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use splashsync_directory::provisioning::{state, ProvisioningStatus};

/// The extension's schema URN.
pub const PROVISIONING: &str = splashsync_scim::schema::PROVISIONING;

/// Removes the extension from an incoming body: it is read-only.
pub fn strip(obj: &mut Map<String, Value>) {
    obj.retain(|k, _| !k.eq_ignore_ascii_case(PROVISIONING));
    if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
        schemas.retain(|s| {
            !s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(PROVISIONING))
        });
    }
}

/// Whether `attributes` (comma-separated, as in a query string) names the extension or
/// one of its attributes, and `excludedAttributes` does not exclude the extension.
pub fn requested(attributes: Option<&str>, excluded: Option<&str>) -> bool {
    let entries = |list: Option<&str>| {
        list.unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let names_it = |e: &str| {
        e.get(..PROVISIONING.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(PROVISIONING))
            && matches!(e.as_bytes().get(PROVISIONING.len()), None | Some(b':'))
    };
    let asked = entries(attributes).iter().any(|e| names_it(e));
    let excluded = entries(excluded)
        .iter()
        .any(|e| e.eq_ignore_ascii_case(PROVISIONING));
    asked && !excluded
}

/// [`requested`], read from a raw query string.
pub fn wanted(query: Option<&str>) -> bool {
    #[derive(serde::Deserialize)]
    struct Projection {
        attributes: Option<String>,
        #[serde(rename = "excludedAttributes")]
        excluded_attributes: Option<String>,
    }
    let uri = format!("/?{}", query.unwrap_or_default());
    uri.parse::<axum::http::Uri>()
        .ok()
        .and_then(|uri| axum::extract::Query::<Projection>::try_from_uri(&uri).ok())
        .is_some_and(|axum::extract::Query(p)| {
            requested(p.attributes.as_deref(), p.excluded_attributes.as_deref())
        })
}

/// Adds the extension saying `status` to a rendered resource.
pub fn render(resource: &mut Value, status: &ProvisioningStatus) {
    let ext = json!({"state": status.state, "lastError": status.last_error,
                     "splashtopId": status.splashtop_id, "version": status.version,
                     "updated": status.updated});
    if let Some(Value::Array(schemas)) = resource.get_mut("schemas") {
        schemas.push(PROVISIONING.into());
    }
    resource[PROVISIONING] = ext;
}

/// Adds the extension when the resource has a state.
pub fn annotate(resource: &mut Value, status: Option<&ProvisioningStatus>) {
    if let Some(status) = status {
        render(resource, status);
    }
}

/// Adds each page resource's state, found by its `id`.
pub fn annotate_page(page: &mut [Value], statuses: &HashMap<&str, &ProvisioningStatus>) {
    for resource in page {
        let status = resource
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| statuses.get(id).copied());
        annotate(resource, status);
    }
}

/// Adds the extension saying `pending` at the resource's own version: a resource this
/// request created has no outcome yet, so no store read is needed.
pub fn mark_pending(resource: &mut Value) {
    let version = resource["meta"]["version"]
        .as_str()
        .map(|v| v.trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1);
    let updated = resource["meta"]["lastModified"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let status = ProvisioningStatus {
        key: String::new(),
        state: state::PENDING.into(),
        version,
        last_error: None,
        splashtop_id: None,
        updated,
    };
    render(resource, &status);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_attributes_naming_the_extension_return_it() {
        assert!(!requested(None, None));
        assert!(!requested(Some("userName"), None));
        assert!(requested(Some(PROVISIONING), None));
        assert!(requested(
            Some("userName, URN:IETF:params:scim:schemas:extension:splashsync:2.0:provisioning"),
            None
        ));
        assert!(requested(Some(&format!("{PROVISIONING}:state")), None));
        assert!(!requested(Some(&format!("{PROVISIONING}x")), None));
        assert!(!requested(Some(PROVISIONING), Some(PROVISIONING)));
        assert!(!requested(None, Some("userName")));
    }

    #[test]
    fn a_raw_query_is_decoded_first() {
        assert!(!wanted(None));
        assert!(!wanted(Some("filter=userName%20eq%20%22a%22")));
        assert!(!wanted(Some("attributes=userName")));
        assert!(wanted(Some(
            "attributes=userName%2Curn%3Aietf%3Aparams%3Ascim%3Aschemas%3Aextension%3Asplashsync%3A2.0%3AProvisioning"
        )));
        assert!(wanted(Some(&format!(
            "count=1&attributes={PROVISIONING}:state"
        ))));
        assert!(!wanted(Some(&format!(
            "attributes={PROVISIONING}&excludedAttributes={PROVISIONING}"
        ))));
    }

    #[test]
    fn the_extension_carries_the_state_and_names_its_schema() {
        let mut user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1",
                              "meta": {"version": "W/\"3\"", "lastModified": "2026-01-01T00:00:00Z"}});
        mark_pending(&mut user);
        assert_eq!(user["schemas"][1], PROVISIONING);
        assert_eq!(
            user[PROVISIONING],
            json!({"state": "pending", "lastError": null, "splashtopId": null, "version": 3,
                   "updated": "2026-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn an_incoming_body_loses_the_read_only_extension() {
        let mut obj = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", PROVISIONING],
                             PROVISIONING: {"state": "applied"}, "userName": "a"});
        let Value::Object(o) = &mut obj else {
            unreachable!()
        };
        strip(o);
        assert_eq!(
            obj,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"})
        );
    }
}
