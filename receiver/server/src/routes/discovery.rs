//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`,
//! `/Schemas`, each accurate about what this server supports.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde_json::{json, Value};
use splashsync_scim::schema::{self, Mutability, Resource, SchemaDef};
use splashsync_scim::{ListResponse, ScimError};

use splashsync_directory::model::RenamePolicy;

use super::response::scim_json;
use super::AppState;

const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// `GET /ServiceProviderConfig`, its limits explicit: no bulk, at most `max_page_size`
/// resources per page (`filter.maxResults`). RFC 7643 §5 gives PATCH no limit field: a
/// PATCH holds at most [`splashsync_scim::patch::MAX_OPERATIONS`] operations (400
/// `invalidValue` beyond), and how many members one request may change is enforced by the
/// group write path, which answers a request over its limit with a SCIM error.
pub async fn service_provider_config(Extension(state): Extension<AppState>) -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [SPC],
            "documentationUri": "https://github.com/splashsync/splashsync#readme",
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": state.max_page_size},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "Authentication with the bearer token configured as SPLASHSYNC_SCIM_TOKEN",
                "primary": true
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", state.base_url)}
        }),
    )
}

/// `/ResourceTypes`: each type's core schema and the extensions it may carry, the same
/// list the schemas and the validation use ([`Resource::extension_urns`]).
fn resource_types(base: &str) -> Vec<Value> {
    [
        (Resource::User, "User", "/Users", "A Splashtop team member"),
        (
            Resource::Group,
            "Group",
            "/Groups",
            "A Splashtop user group (a user is in one group only)",
        ),
    ]
    .into_iter()
    .map(|(resource, id, endpoint, description)| {
        let extensions: Vec<Value> = resource
            .extension_urns()
            .iter()
            .map(|urn| json!({"schema": urn, "required": false}))
            .collect();
        json!({
            "schemas": [RESOURCE_TYPE], "id": id, "name": id, "endpoint": endpoint,
            "description": description, "schema": resource.core_urn(),
            "schemaExtensions": extensions,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")}
        })
    })
    .collect()
}

/// A fixed collection as a ListResponse.
fn list_of(all: Vec<Value>) -> Response {
    let n = all.len() as u64;
    scim_json(
        StatusCode::OK,
        &serde_json::to_value(ListResponse::new(all, n, 1)).unwrap_or_default(),
    )
}

/// The member of a fixed collection whose `id` is `id` (case-insensitively), or 404.
fn one_of(all: Vec<Value>, id: &str, kind: &str) -> Result<Response, ScimError> {
    all.into_iter()
        .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found(kind, id))
}

/// `GET /ResourceTypes`.
pub async fn list_resource_types(Extension(state): Extension<AppState>) -> Response {
    list_of(resource_types(&state.base_url))
}

/// `GET /ResourceTypes/{id}`.
pub async fn get_resource_type(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    one_of(resource_types(&state.base_url), &id, "ResourceType")
}

/// Every schema served (RFC 7643 §7, §8.7.1 text with its descriptions), each with its
/// `meta`, userName's mutability per the rename policy.
fn schemas(base: &str, rename: RenamePolicy) -> Vec<Value> {
    schema::all()
        .iter()
        .map(|def| schema_json(def, base, rename))
        .collect()
}

/// One schema's representation. The core User schema's `userName` is the user's Splashtop
/// account, which Splashtop cannot rename: under the rename policy `reject` it is
/// declared immutable and a change is refused with 400 `mutability` (RFC 7644 §3.5.1);
/// under `reinvite` it stays readWrite and a change re-invites the user.
fn schema_json(def: &SchemaDef, base: &str, rename: RenamePolicy) -> Value {
    let mut def = def.clone();
    if def.id == schema::USER {
        if let Some(user_name) = def.attributes.iter_mut().find(|a| a.name == "userName") {
            let (mutability, says) = match rename {
                RenamePolicy::Reject => (
                    Mutability::Immutable,
                    "which cannot change once provisioned.",
                ),
                RenamePolicy::Reinvite => (
                    Mutability::ReadWrite,
                    "which Splashtop cannot rename: a change invites the new account and \
                     removes the old one.",
                ),
            };
            user_name.mutability = mutability;
            user_name.description.push_str(&format!(
                " In splashsync it is the user's Splashtop account (an email, or the primary \
                 email stands for it), {says}"
            ));
        }
    }
    let mut json = def.to_json();
    json["meta"] = json!({
        "resourceType": "Schema",
        "location": format!("{base}/Schemas/{}", def.id),
    });
    json
}

/// `GET /Schemas`.
pub async fn list_schemas(Extension(state): Extension<AppState>) -> Response {
    list_of(schemas(&state.base_url, state.rename_policy))
}

/// `GET /Schemas/{id}`.
pub async fn get_schema(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    one_of(schemas(&state.base_url, state.rename_policy), &id, "Schema")
}
