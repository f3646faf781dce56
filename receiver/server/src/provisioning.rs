//! The splashsync provisioning extension of SCIM Users and Groups: read-only attributes
//! (`state`, `lastError`, `splashtopId`, `version`, `updated`) telling an identity admin
//! whether Splashtop has the change yet (invariant 7).
//!
//! The state lives in the audit store, not in the resource, so it is added to successful
//! Users and Groups responses on the way out (unless projected away), and stripped from
//! incoming bodies (a client PUTting back what it read must not store it).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Map, Value};
use splashsync_protocol::{JobKey, Tenant};

use splashsync_directory::audit::AuditStore;

/// The extension's schema URN.
pub const PROVISIONING: &str = "urn:ietf:params:scim:schemas:extension:splashsync:2.0:Provisioning";

/// Largest response body rewritten (a 1000-user page fits).
const MAX_BODY: usize = 32 * 1024 * 1024;

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

/// The extension's entry in `/Schemas`.
pub fn schema_entry(base: &str) -> Value {
    let attr = |name: &str, description: &str| {
        json!({"name": name, "type": if name == "version" { "integer" } else { "string" },
               "multiValued": false, "required": false, "caseExact": true, "mutability": "readOnly",
               "returned": "default", "uniqueness": "none", "description": description})
    };
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": PROVISIONING, "name": "Provisioning",
        "description": "Whether splashsync has applied this resource to Splashtop (read-only)",
        "attributes": [
            attr("state", "pending, applied, retrying or dead-lettered"),
            attr("lastError", "the last error, while not applied"),
            attr("splashtopId", "the Splashtop id, once known"),
            attr("version", "the directory version the state is about"),
            attr("updated", "when the state last changed"),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{PROVISIONING}")}
    })
}

/// Whether the request's `attributes` / `excludedAttributes` leave the extension in.
fn wanted(query: Option<&str>) -> bool {
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

async fn annotate_one(resource: &mut Value, audit: &dyn AuditStore, tenant: &Tenant, users: bool) {
    let Some(id) = resource.get("id").and_then(Value::as_str) else {
        return;
    };
    let key = if users {
        JobKey::user(tenant, id)
    } else {
        JobKey::group(tenant, id)
    };
    let Ok(Some(s)) = audit.status(key.to_string()).await else {
        return;
    };
    let ext = json!({"state": s.state, "lastError": s.last_error, "splashtopId": s.splashtop_id,
                     "version": s.version, "updated": s.updated});
    if let Some(Value::Array(schemas)) = resource.get_mut("schemas") {
        schemas.push(PROVISIONING.into());
    }
    resource[PROVISIONING] = ext;
}

/// Marks a response whose resource this request created (not an idempotent retry); its
/// handler already added the extension.
#[derive(Debug, Clone, Copy)]
pub struct Fresh;

/// Adds the extension saying `pending` at the resource's own version.
pub fn mark_pending(resource: &mut Value) {
    let version = resource["meta"]["version"]
        .as_str()
        .map(|v| v.trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1);
    let updated = resource["meta"]["lastModified"].clone();
    if let Some(Value::Array(schemas)) = resource.get_mut("schemas") {
        schemas.push(PROVISIONING.into());
    }
    resource[PROVISIONING] = json!({"state": "pending", "lastError": null, "splashtopId": null,
                                    "version": version, "updated": updated});
}

/// Middleware: adds the extension to successful Users and Groups responses.
pub async fn annotate(
    State((audit, tenant)): State<(Arc<dyn AuditStore>, Tenant)>,
    req: Request,
    next: Next,
) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let users = match path.as_deref() {
        Some("/scim/v2/Users" | "/scim/v2/Users/{id}") => true,
        Some("/scim/v2/Groups" | "/scim/v2/Groups/{id}") => false,
        _ => return next.run(req).await,
    };
    if !wanted(req.uri().query()) {
        return next.run(req).await;
    }
    let response = next.run(req).await;
    // A resource just created has no outcome yet: its handler marked it pending at its
    // first version. No store read and no second parse on the create hot path.
    if !response.status().is_success() || response.extensions().get::<Fresh>().is_some() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(Value::Array(resources)) = value.get_mut("Resources") {
        for r in resources {
            annotate_one(r, audit.as_ref(), &tenant, users).await;
        }
    } else {
        annotate_one(&mut value, audit.as_ref(), &tenant, users).await;
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
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
