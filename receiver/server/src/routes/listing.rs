//! Listing resources for a validated [`ListRequest`]: one resource type (`GET /Users`,
//! `POST /Users/.search`, `POST /Groups/.search`) or both (`POST /.search`), each resource
//! rendered with its provisioning state when the request asked for it, then filtered,
//! sorted, paged and projected.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use splashsync_directory::model::{GroupRecord, Query, UserRecord};
use splashsync_scim::{ListResponse, ScimError};

use super::query::ListRequest;
use super::response::{scim_json, store_error};
use super::AppState;
use crate::provisioning::annotate;
use crate::{group, user};

/// One page of resources and how many matched in all.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The page, projected.
    pub resources: Vec<Value>,
    /// `totalResults`.
    pub total: u64,
}

impl Page {
    /// The page as a 200 ListResponse.
    pub fn respond(self, request: &ListRequest) -> Response {
        let body = ListResponse::new(self.resources, self.total, request.paging.start_index);
        scim_json(
            StatusCode::OK,
            &serde_json::to_value(body).unwrap_or_default(),
        )
    }
}

/// A user as SCIM returns it, with its provisioning state when it was read.
pub fn user_resource(record: &UserRecord, base_url: &str) -> Value {
    let mut body = user::render(record, base_url);
    annotate(&mut body, record.provisioning.as_ref());
    body
}

fn group_resource(record: &GroupRecord, base_url: &str, with_members: bool) -> Value {
    let mut body = group::render(record, base_url, with_members);
    annotate(&mut body, record.provisioning.as_ref());
    body
}

/// Whether a group listing must load members: asked for, or filtered on.
fn with_members(request: &ListRequest) -> bool {
    request.projection.wants("members")
        || request
            .filter
            .as_ref()
            .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("members"))
}

fn user_query(state: &AppState, request: &ListRequest, wanted: bool) -> Query {
    let mut query = request.store_query("userName", true, state.filter_scan_limit);
    query.status = wanted.then(|| state.tenant.clone());
    query
}

fn group_query(state: &AppState, request: &ListRequest, wanted: bool) -> Query {
    let mut query = request.store_query(
        "displayName",
        !with_members(request),
        state.filter_scan_limit,
    );
    query.status = wanted.then(|| state.tenant.clone());
    query
}

async fn user_rows(state: &AppState, query: Query) -> Result<(Vec<Value>, u64), ScimError> {
    let (records, total) = state
        .directory
        .list_users(query)
        .await
        .map_err(store_error)?;
    let rendered = records
        .iter()
        .map(|r| user_resource(r, &state.base_url))
        .collect();
    Ok((rendered, total))
}

async fn group_rows(
    state: &AppState,
    query: Query,
    with_members: bool,
) -> Result<(Vec<Value>, u64), ScimError> {
    let (records, total) = state
        .directory
        .list_groups(query)
        .await
        .map_err(store_error)?;
    let rendered = records
        .iter()
        .map(|r| group_resource(r, &state.base_url, with_members))
        .collect();
    Ok((rendered, total))
}

/// Users matching `request`; `wanted`: with their provisioning state.
pub async fn users(
    state: &AppState,
    request: &ListRequest,
    wanted: bool,
) -> Result<Page, ScimError> {
    let query = user_query(state, request, wanted);
    let store_paged = !query.all;
    let (rows, total) = user_rows(state, query).await?;
    let (resources, total) = request.finish(rows, total, store_paged);
    Ok(Page { resources, total })
}

/// Groups matching `request` (members loaded only when needed).
pub async fn groups(
    state: &AppState,
    request: &ListRequest,
    wanted: bool,
) -> Result<Page, ScimError> {
    let query = group_query(state, request, wanted);
    let store_paged = !query.all;
    let (rows, total) = group_rows(state, query, with_members(request)).await?;
    let (resources, total) = request.finish(rows, total, store_paged);
    Ok(Page { resources, total })
}

/// Every resource of the server matching `request`, users then groups, each in creation
/// order (RFC 7644 §3.4.2: a query at the server root includes all resources, subject to
/// filtering; each carries its `schemas` and `meta.resourceType`). A filter on an
/// attribute one type lacks matches none of that type (§3.4.2.2: treated as unassigned).
/// Paging runs over the combined sequence; unfiltered and unsorted, only the page is read.
pub async fn everything(
    state: &AppState,
    request: &ListRequest,
    wanted: bool,
) -> Result<Page, ScimError> {
    let members = with_members(request);
    let mut users = user_query(state, request, wanted);
    let mut groups = group_query(state, request, wanted);
    // Sorted, or filtered beyond what SQL answers exactly: over the combined candidates.
    if request.sort.is_some() || users.all || groups.all {
        users.all = true;
        groups.all = true;
        let (mut rows, _) = user_rows(state, users).await?;
        rows.extend(group_rows(state, groups, members).await?.0);
        let (resources, total) = request.finish(rows, 0, false);
        return Ok(Page { resources, total });
    }
    // Users fill the page first; groups continue where the users end.
    let (mut rows, user_total) = user_rows(state, users).await?;
    groups.offset = request.paging.offset().saturating_sub(user_total);
    groups.limit = request.paging.count.saturating_sub(rows.len() as u64);
    let (group_page, group_total) = group_rows(state, groups, members).await?;
    rows.extend(group_page);
    let (resources, total) = request.finish(rows, user_total + group_total, true);
    Ok(Page { resources, total })
}
