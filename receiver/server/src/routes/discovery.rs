//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes`,
//! `/Schemas`, each accurate about what this server supports.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use splashsync_scim::{schema, ListResponse, ScimError};

use super::response::scim_json;
use super::AppState;

const SPC: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(State(state): State<AppState>) -> Response {
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

fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": [RESOURCE_TYPE], "id": "User", "name": "User", "endpoint": "/Users",
            "description": "A Splashtop team member", "schema": schema::USER,
            "schemaExtensions": [
                {"schema": schema::ENTERPRISE_USER, "required": false},
                {"schema": schema::SPLASHTOP_USER, "required": false},
                {"schema": crate::provisioning::PROVISIONING, "required": false}
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": [RESOURCE_TYPE], "id": "Group", "name": "Group", "endpoint": "/Groups",
            "description": "A Splashtop user group (a user is in one group only)", "schema": schema::GROUP,
            "schemaExtensions": [{"schema": crate::provisioning::PROVISIONING, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
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
pub async fn list_resource_types(State(state): State<AppState>) -> Response {
    list_of(resource_types(&state.base_url))
}

/// `GET /ResourceTypes/{id}`.
pub async fn get_resource_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    one_of(resource_types(&state.base_url), &id, "ResourceType")
}

/// One attribute definition.
fn attr(
    name: &str,
    kind: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &str,
    uniqueness: &str,
) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": multi, "required": required, "caseExact": case_exact,
        "mutability": mutability, "returned": "default", "uniqueness": uniqueness, "description": ""
    })
}

fn simple(name: &str, kind: &str) -> Value {
    attr(name, kind, false, false, false, "readWrite", "none")
}

fn complex(name: &str, multi: bool, mutability: &str, subs: Vec<Value>) -> Value {
    let mut a = attr(name, "complex", multi, false, false, mutability, "none");
    a["subAttributes"] = Value::Array(subs);
    a
}

fn multi_valued(name: &str) -> Value {
    complex(
        name,
        true,
        "readWrite",
        vec![
            simple("value", "string"),
            simple("display", "string"),
            simple("type", "string"),
            simple("primary", "boolean"),
        ],
    )
}

fn schemas(base: &str) -> Vec<Value> {
    let mut user_name = attr(
        "userName",
        "string",
        false,
        true,
        false,
        "immutable",
        "server",
    );
    user_name["description"] =
        json!("The Splashtop account (email); it cannot change once provisioned");
    let user_attrs = vec![
        user_name,
        complex(
            "name",
            false,
            "readWrite",
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            ]
            .iter()
            .map(|n| simple(n, "string"))
            .collect(),
        ),
        simple("displayName", "string"),
        simple("nickName", "string"),
        simple("title", "string"),
        simple("userType", "string"),
        simple("preferredLanguage", "string"),
        simple("locale", "string"),
        simple("timezone", "string"),
        simple("active", "boolean"),
        attr(
            "externalId",
            "string",
            false,
            false,
            true,
            "readWrite",
            "none",
        ),
        multi_valued("emails"),
        multi_valued("phoneNumbers"),
        complex(
            "groups",
            true,
            "readOnly",
            vec![
                simple("value", "string"),
                simple("display", "string"),
                attr("$ref", "reference", false, false, true, "readOnly", "none"),
                simple("type", "string"),
            ],
        ),
    ];
    let group_attrs = vec![
        attr(
            "displayName",
            "string",
            false,
            true,
            false,
            "readWrite",
            "server",
        ),
        attr(
            "externalId",
            "string",
            false,
            false,
            true,
            "readWrite",
            "none",
        ),
        complex(
            "members",
            true,
            "readWrite",
            vec![
                simple("value", "string"),
                simple("display", "string"),
                attr("$ref", "reference", false, false, true, "immutable", "none"),
                simple("type", "string"),
            ],
        ),
    ];
    let enterprise_attrs = vec![
        simple("employeeNumber", "string"),
        simple("costCenter", "string"),
        simple("organization", "string"),
        simple("division", "string"),
        simple("department", "string"),
        complex(
            "manager",
            false,
            "readWrite",
            vec![simple("value", "string"), simple("displayName", "string")],
        ),
    ];
    let mut sso = simple("ssoName", "string");
    sso["caseExact"] = json!(true);
    sso["description"] = json!("The Splashtop SSO method name, exactly as configured in Splashtop (spaces and case matter)");
    let entry = |id: &str, name: &str, description: &str, attributes: Vec<Value>| {
        json!({
            "schemas": [SCHEMA], "id": id, "name": name, "description": description, "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}
        })
    };
    vec![
        entry(schema::USER, "User", "User account", user_attrs),
        entry(schema::GROUP, "Group", "Group", group_attrs),
        entry(
            schema::ENTERPRISE_USER,
            "EnterpriseUser",
            "Enterprise user extension",
            enterprise_attrs,
        ),
        entry(
            schema::SPLASHTOP_USER,
            "SplashtopUser",
            "Splashtop user extension",
            vec![sso],
        ),
        crate::provisioning::schema_entry(base),
    ]
}

/// `GET /Schemas`.
pub async fn list_schemas(State(state): State<AppState>) -> Response {
    list_of(schemas(&state.base_url))
}

/// `GET /Schemas/{id}`.
pub async fn get_schema(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    one_of(schemas(&state.base_url), &id, "Schema")
}
