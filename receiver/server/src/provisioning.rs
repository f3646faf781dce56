//! The splashsync provisioning extension of SCIM Users and Groups: read-only attributes
//! (`state`, `lastError`, `splashtopId`, `version`, `updated`) telling an identity admin
//! whether Splashtop has the change yet (docs/DESIGN.md, invariant 7).
//!
//! The state lives in the audit tables, not in the resource: the directory reads it with
//! the resource (one statement for a whole page) and the handlers add it with
//! [`render`] after the projection, unless the projection leaves it out. It is stripped
//! from incoming bodies (a client PUTting back what it read must not store it).

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use splashsync_directory::provisioning::{state, ProvisioningStatus};

/// The extension's schema URN.
pub const PROVISIONING: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";

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

/// Whether the request's `attributes` / `excludedAttributes` (its raw query string)
/// leave the extension in.
pub fn wanted(query: Option<&str>) -> bool {
    let mut wanted = true;
    for pair in query.unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let mentions = v.to_ascii_lowercase().contains("splashsync");
        if k.eq_ignore_ascii_case("attributes") && !mentions {
            wanted = false;
        }
        if k.eq_ignore_ascii_case("excludedAttributes") && mentions {
            wanted = false;
        }
    }
    wanted
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
    fn projection_can_leave_the_extension_out() {
        assert!(wanted(None));
        assert!(wanted(Some("filter=userName%20eq%20%22a%22")));
        assert!(!wanted(Some("attributes=userName")));
        assert!(wanted(Some("attributes=userName,urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning")));
        assert!(!wanted(Some(
            "excludedAttributes=urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning"
        )));
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
