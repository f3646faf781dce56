//! `/Users`: create, read, list, replace, patch, delete.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;
use splashsync_scim::filter::AttrPath;
use splashsync_scim::password;
use splashsync_scim::patch::{self, PatchError, PatchRequest, SchemaRules};
use splashsync_scim::schema::Resource;
use splashsync_scim::{now_rfc3339, ScimError, ScimType};

use super::listing;
use super::query::{ListParams, ListRequest};
use super::response::{created, if_match, new_id, resource, store_error};
use super::AppState;
use crate::extract::ScimJson;
use crate::provisioning::{self, annotate};
use crate::user;
use splashsync_directory::model::{RenamePolicy, UserRecord};
use splashsync_directory::plan::admit_user_name;

/// `POST /Users`.
pub async fn create(
    Extension(state): Extension<AppState>,
    Query(params): Query<ListParams>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let valid = user::validate(body)?;
    let now = now_rfc3339();
    let record = UserRecord {
        id: new_id(),
        user_name: valid.user_name,
        resource: valid.resource,
        version: 1,
        created: now.clone(),
        last_modified: now,
        groups: Vec::new(),
        provisioning: None,
    };
    let cx = state.write_ctx("POST /Users".into());
    // A duplicate userName (any case) is 409 uniqueness, retried creates included
    // (RFC 7644 §3.3): Entra looks a user up by userName before creating it, so a create
    // whose answer it lost is found on its next cycle.
    let new = state
        .directory
        .create_user(cx, record)
        .await
        .map_err(store_error)?;
    let mut body = user::render(&new, &state.base_url);
    if params.wants_provisioning() {
        // Nothing applied it yet: no store read needed.
        provisioning::mark_pending(&mut body);
    }
    Ok(created(body, new.version))
}

/// `GET /Users/{id}`.
pub async fn get_one(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, ScimError> {
    let projection = params.projection()?;
    let wanted = params.wants_provisioning();
    let record = state
        .directory
        .get_user(&id, wanted.then_some(&state.tenant))
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::not_found("User", &id))?;
    let body = projection.apply(listing::user_resource(&record, &state.base_url));
    Ok(resource(StatusCode::OK, &body, record.version))
}

/// `GET /Users?filter=…&startIndex=…&count=…&sortBy=…&attributes=…`.
pub async fn list(
    Extension(state): Extension<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Response, ScimError> {
    let request = ListRequest::parse(&params, state.page_size, state.max_page_size)?;
    let page = listing::users(&state, &request, params.wants_provisioning()).await?;
    Ok(page.respond(&request))
}

/// `PUT /Users/{id}`: replaces every attribute the client may set.
pub async fn replace(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    let valid = user::validate(body)?;
    let cx = state.write_ctx(format!("PUT /Users/{id}"));
    let policy = state.rename_policy;
    let edit =
        Box::new(move |current: &UserRecord| admit_user_name(policy, current, valid.resource));
    let record = state
        .directory
        .update_user(cx, id, version, edit)
        .await
        .map_err(store_error)?;
    Ok(updated(&state, &record, &params))
}

/// 200 with the updated user, and its provisioning state when asked for.
fn updated(state: &AppState, record: &UserRecord, params: &ListParams) -> Response {
    let mut body = user::render(record, &state.base_url);
    if params.wants_provisioning() {
        annotate(&mut body, record.provisioning.as_ref());
    }
    resource(StatusCode::OK, &body, record.version)
}

/// A case-only (or whitespace-only) change of userName is the same Splashtop account:
/// such operations are given the current spelling, so that the immutability check lets
/// them through and the original spelling stays (as a PUT's does, by
/// [`admit_user_name`]).
fn fold_user_name_case(request: &mut PatchRequest, current: &str) {
    let same = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case(current))
    };
    let names_user_name = |key: &str| {
        key.trim()
            .parse::<AttrPath>()
            .is_ok_and(|p| p.is("userName", None))
    };
    for op in &mut request.operations {
        match (&op.path, op.value.as_mut()) {
            (Some(path), Some(value))
                if path.filter.is_none() && path.attr.is("userName", None) && same(value) =>
            {
                *value = Value::String(current.to_string());
            }
            (None, Some(Value::Object(members))) => {
                for (key, value) in members.iter_mut() {
                    if names_user_name(key) && same(value) {
                        *value = Value::String(current.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

/// A PATCH engine error as a SCIM 400; a userName change (rename policy `reject`) says
/// why it is refused.
fn user_patch_error(e: PatchError) -> ScimError {
    match e {
        PatchError::Mutability(d) if d.contains("'userName'") => ScimError::bad_request(
            ScimType::Mutability,
            format!(
                "{d}: it is the user's Splashtop account, which Splashtop cannot rename \
                 (rename policy: reject). Deprovision the user and provision the new userName, \
                 or set SPLASHSYNC_RENAME_POLICY=reinvite to invite the new account and retire \
                 the old one"
            ),
        ),
        other => patch_error(other),
    }
}

/// `PATCH /Users/{id}`: all operations apply, or none. Paths are checked against the
/// User schemas (an unknown one is 400 `invalidPath`, a read-only one such as the
/// provisioning extension 400 `mutability`, userName is immutable under the rename policy
/// `reject`); password operations are dropped, answered as if applied; the result passes
/// the same door as a PUT, the rename policy included.
pub async fn patch(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    let mut request = patch::parse_patch(&body).map_err(patch_error)?;
    password::strip_password_ops(&mut request);
    let policy = state.rename_policy;
    let rules = match policy {
        RenamePolicy::Reject => SchemaRules::new(Resource::User).with_immutable("userName"),
        RenamePolicy::Reinvite => SchemaRules::new(Resource::User),
    };
    let cx = state.write_ctx(format!("PATCH /Users/{id}"));
    let edit = Box::new(move |current: &UserRecord| {
        let mut doc = current.resource.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("id".into(), Value::String(current.id.clone()));
        }
        let mut request = request;
        fold_user_name_case(&mut request, &current.user_name);
        let patched = patch::apply(&doc, &request, &rules).map_err(user_patch_error)?;
        let valid = user::validate(patched)?;
        admit_user_name(policy, current, valid.resource)
    });
    let record = state
        .directory
        .update_user(cx, id, version, edit)
        .await
        .map_err(store_error)?;
    Ok(updated(&state, &record, &params))
}

/// `DELETE /Users/{id}`: a hard delete; the Splashtop user is removed too.
pub async fn delete(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    let cx = state.write_ctx(format!("DELETE /Users/{id}"));
    state
        .directory
        .delete_user(cx, id, version)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A PATCH engine error as a SCIM 400.
pub fn patch_error(e: patch::PatchError) -> ScimError {
    let scim_type = match e.scim_type() {
        "invalidSyntax" => ScimType::InvalidSyntax,
        "invalidPath" => ScimType::InvalidPath,
        "noTarget" => ScimType::NoTarget,
        "mutability" => ScimType::Mutability,
        "invalidFilter" => ScimType::InvalidFilter,
        _ => ScimType::InvalidValue,
    };
    ScimError::bad_request(scim_type, e.detail().to_string())
}
