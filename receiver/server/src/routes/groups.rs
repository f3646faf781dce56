//! `/Groups`: create, read, list, replace, patch, delete. Membership changes become user
//! jobs (each member's one Splashtop group), renames and deletes group jobs.

use std::collections::HashMap;

use axum::extract::{Path, Query, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;
use splashsync_scim::patch::{self, DefaultRules};
use splashsync_scim::{now_rfc3339, ListResponse, ScimError};

use super::query::{ListParams, ListRequest};
use super::response::{if_match, new_id, resource, scim_json, store_error};
use super::users::patch_error;
use super::AppState;
use crate::extract::ScimJson;
use crate::group;
use crate::provisioning::{self, annotate, annotate_page};
use splashsync_directory::model::{GroupChange, GroupRecord};
use splashsync_directory::StoreError;

/// Records a refused one-group conflict, then answers with the store's error.
async fn refused(state: &AppState, err: StoreError) -> ScimError {
    if let StoreError::GroupConflict(conflict, _) = &err {
        if let Err(e) = state.directory.record_conflict((**conflict).clone()).await {
            tracing::warn!(error = %e, "could not record a group conflict");
        }
    }
    store_error(err)
}

/// `POST /Groups`.
pub async fn create(
    Extension(state): Extension<AppState>,
    RawQuery(raw): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    group::limit_members(group::members_in_body(&body))?;
    let valid = group::validate(body)?;
    let now = now_rfc3339();
    let record = GroupRecord {
        id: new_id(),
        display_name: valid.display_name,
        resource: valid.resource,
        version: 1,
        created: now.clone(),
        last_modified: now,
        members: Vec::new(),
        provisioning: None,
    };
    let cx = state.write_ctx("POST /Groups".into());
    match state
        .directory
        .create_group(cx, record, valid.members)
        .await
    {
        Ok(g) => {
            let mut body = group::render(&g, &state.base_url, true);
            // The extension is returned on request only (its attributes are
            // `returned: "request"`); nothing applied the group yet: no store read needed.
            if provisioning::wanted(raw.as_deref()) {
                provisioning::mark_pending(&mut body);
                group::warn(&mut body, &g);
            }
            Ok(resource(StatusCode::CREATED, &body, g.version))
        }
        Err(e) => Err(refused(&state, e).await),
    }
}

/// `GET /Groups/{id}`.
pub async fn get_one(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let projection = params.projection()?;
    let wanted = provisioning::wanted(raw.as_deref());
    let record = state
        .directory
        .get_group(&id, wanted.then_some(&state.tenant))
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::not_found("Group", &id))?;
    let mut body = projection.apply(group::render(
        &record,
        &state.base_url,
        projection.wants("members"),
    ));
    annotate(&mut body, record.provisioning.as_ref());
    group::warn(&mut body, &record);
    Ok(resource(StatusCode::OK, &body, record.version))
}

/// `GET /Groups?filter=…` (with `excludedAttributes=members`, members are not even loaded).
pub async fn list(
    Extension(state): Extension<AppState>,
    Query(params): Query<ListParams>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let request = ListRequest::parse(&params, state.page_size, state.max_page_size)?;
    let with_members = request.projection.wants("members")
        || request
            .filter
            .as_ref()
            .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("members"));
    let mut query = request.store_query("displayName", !with_members, state.filter_scan_limit);
    if provisioning::wanted(raw.as_deref()) {
        query.status = Some(state.tenant.clone());
    }
    let store_paged = !query.all;
    let (records, total) = state
        .directory
        .list_groups(query)
        .await
        .map_err(store_error)?;
    let rendered = records
        .iter()
        .map(|r| group::render(r, &state.base_url, with_members))
        .collect();
    let (mut page, total) = request.finish(rendered, total, store_paged);
    let statuses: HashMap<&str, _> = records
        .iter()
        .filter_map(|r| Some((r.id.as_str(), r.provisioning.as_ref()?)))
        .collect();
    annotate_page(&mut page, &statuses);
    if with_members {
        let by_id: HashMap<&str, &GroupRecord> =
            records.iter().map(|r| (r.id.as_str(), r)).collect();
        for body in &mut page {
            if let Some(record) = body["id"].as_str().and_then(|id| by_id.get(id)) {
                group::warn(body, record);
            }
        }
    }
    let body = ListResponse::new(page, total, request.paging.start_index);
    Ok(scim_json(
        StatusCode::OK,
        &serde_json::to_value(body).unwrap_or_default(),
    ))
}

/// `PUT /Groups/{id}`: a full replace, members included ("Push Now" works: the member
/// list is diffed against the directory).
pub async fn replace(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    group::limit_members(group::members_in_body(&body))?;
    let valid = group::validate(body)?;
    let cx = state.write_ctx(format!("PUT /Groups/{id}"));
    let edit = Box::new(move |_: &GroupRecord| {
        Ok(GroupChange {
            resource: valid.resource,
            members: valid.members,
        })
    });
    match state.directory.update_group(cx, id, version, edit).await {
        Ok(g) => {
            let mut body = group::render(&g, &state.base_url, true);
            if provisioning::wanted(raw.as_deref()) {
                annotate(&mut body, g.provisioning.as_ref());
                group::warn(&mut body, &g);
            }
            Ok(resource(StatusCode::OK, &body, g.version))
        }
        Err(e) => Err(refused(&state, e).await),
    }
}

/// `PATCH /Groups/{id}`: rename and membership changes; all operations apply, or none.
/// Answers 200 with the group, or 204 when the client asked for no attributes back.
pub async fn patch(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
    RawQuery(raw): RawQuery,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    group::limit_operations(&body)?;
    let request = patch::parse_patch(&body).map_err(patch_error)?;
    group::limit_members(group::members_in_patch(&request))?;
    let projection = params.projection()?;
    let cx = state.write_ctx(format!("PATCH /Groups/{id}"));
    let edit = Box::new(move |current: &GroupRecord| {
        let mut doc = current.resource.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("id".into(), Value::String(current.id.clone()));
            let members = current
                .members
                .iter()
                .map(|m| match m.resolved {
                    true => serde_json::json!({"value": m.user_id, "display": m.display}),
                    false => serde_json::json!({"value": m.user_id}),
                })
                .collect();
            obj.insert("members".into(), Value::Array(members));
        }
        let patched = patch::apply(&doc, &request, &DefaultRules).map_err(patch_error)?;
        let valid = group::validate(patched)?;
        Ok(GroupChange {
            resource: valid.resource,
            members: valid.members,
        })
    });
    match state.directory.update_group(cx, id, version, edit).await {
        Ok(g) => {
            let mut body = projection.apply(group::render(
                &g,
                &state.base_url,
                projection.wants("members"),
            ));
            if provisioning::wanted(raw.as_deref()) {
                annotate(&mut body, g.provisioning.as_ref());
                group::warn(&mut body, &g);
            }
            Ok(resource(StatusCode::OK, &body, g.version))
        }
        Err(e) => Err(refused(&state, e).await),
    }
}

/// `DELETE /Groups/{id}`.
pub async fn delete(
    Extension(state): Extension<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ScimError> {
    let version = if_match(&headers)?;
    let cx = state.write_ctx(format!("DELETE /Groups/{id}"));
    state
        .directory
        .delete_group(cx, id, version)
        .await
        .map_err(store_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
