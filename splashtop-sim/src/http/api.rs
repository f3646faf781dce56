//! The team API under `/api/open/v1` (see `docs/splashtop-api.md`).

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use splashtop_api::wire::{JOB_ID_HEADER, KEY_HEADER, VERSION_HEADER};
use splashtop_api::{
    ErrorCode, GroupBody, GroupsPage, MembersBody, RemoveMode, UserBody, UsersPage, API_PREFIX,
};

use super::body;
use super::gate::ErrorAfterApply;
use crate::domain::{ApiError, Applied, Listing, PageRequest, RequestMeta, Team};
use crate::sim::Sim;

/// The API routes, relative to `/api/open/v1`.
pub(crate) fn router() -> Router<Sim> {
    Router::new()
        .route("/teams/{team_id}/users", get(list_users).post(invite_user))
        .route(
            "/teams/{team_id}/users/{user_id}",
            get(get_user).patch(update_user).delete(remove_user),
        )
        .route(
            "/teams/{team_id}/groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/teams/{team_id}/groups/{group_id}",
            get(get_group).patch(rename_group).delete(delete_group),
        )
        .route("/groups/{group_id}/members", get(group_members))
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        let header = |name: &str| header_text(&parts.headers, name);
        Ok(Self {
            method: parts.method.to_string(),
            // Nesting strips the prefix; the log shows the path the client sent.
            path: format!("{API_PREFIX}{}", parts.uri.path()),
            job_id: header(JOB_ID_HEADER),
            key: header(KEY_HEADER),
            version: header(VERSION_HEADER).and_then(|v| v.trim().parse().ok()),
            error_after_apply: parts.extensions.get::<ErrorAfterApply>().is_some(),
        })
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Runs a read on the team, or 404 `team_not_found`.
fn read<T>(
    sim: &Sim,
    team_id: &str,
    f: impl FnOnce(&Team) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let inner = sim.lock();
    check_team(&inner.team, team_id)?;
    f(&inner.team)
}

/// Runs a change on the team and logs it when it succeeds; answers `status` with the
/// body, or without one for 204.
fn apply<B: Serialize>(
    sim: &Sim,
    team_id: &str,
    meta: &RequestMeta,
    status: StatusCode,
    f: impl FnOnce(&mut Team) -> Result<(B, Applied), ApiError>,
) -> Result<Response, ApiError> {
    let mut inner = sim.lock();
    check_team(&inner.team, team_id)?;
    let (body, applied) = f(&mut inner.team)?;
    inner.journal.record(meta, applied, status.as_u16());
    drop(inner);
    Ok(if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        (status, Json(body)).into_response()
    })
}

fn check_team(team: &Team, team_id: &str) -> Result<(), ApiError> {
    if team.id == team_id {
        Ok(())
    } else {
        Err(ApiError::not_found(
            ErrorCode::TeamNotFound,
            format!("no team {team_id:?}"),
        ))
    }
}

type QueryMap = Query<HashMap<String, String>>;

/// The page a listing's `limit` and `cursor` ask for (400 when bad).
fn page_request(
    listing: Listing,
    query: &HashMap<String, String>,
) -> Result<PageRequest, ApiError> {
    let value = |name: &str| query.get(name).map(String::as_str);
    PageRequest::parse(listing, value("limit"), value("cursor"))
}

async fn list_users(
    State(sim): State<Sim>,
    Path(team_id): Path<String>,
    Query(query): QueryMap,
) -> Result<Json<UsersPage>, ApiError> {
    let page = page_request(Listing::Users, &query)?;
    let (users, next_cursor) = read(&sim, &team_id, |team| {
        Ok(team.list_users(query.get("email").map(String::as_str), &page))
    })?;
    Ok(Json(UsersPage { users, next_cursor }))
}

async fn get_user(
    State(sim): State<Sim>,
    Path((team_id, user_id)): Path<(String, String)>,
) -> Result<Json<UserBody>, ApiError> {
    let user = read(&sim, &team_id, |team| {
        Ok(team.user_wire(team.user(&user_id)?))
    })?;
    Ok(Json(UserBody { user }))
}

async fn invite_user(
    State(sim): State<Sim>,
    Path(team_id): Path<String>,
    meta: RequestMeta,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let invite = body::invite(&bytes)?;
    apply(&sim, &team_id, &meta, StatusCode::CREATED, |team| {
        let (user, applied) = team.invite(invite)?;
        Ok((UserBody { user }, applied))
    })
}

async fn update_user(
    State(sim): State<Sim>,
    Path((team_id, user_id)): Path<(String, String)>,
    meta: RequestMeta,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let patch = body::user_patch(&bytes)?;
    apply(&sim, &team_id, &meta, StatusCode::OK, |team| {
        let (user, applied) = team.update(&user_id, patch)?;
        Ok((UserBody { user }, applied))
    })
}

async fn remove_user(
    State(sim): State<Sim>,
    Path((team_id, user_id)): Path<(String, String)>,
    Query(query): QueryMap,
    meta: RequestMeta,
) -> Result<Response, ApiError> {
    let mode = match query.get("mode") {
        None => RemoveMode::default(),
        Some(mode) => RemoveMode::parse(mode).ok_or_else(|| {
            ApiError::invalid(format!("mode must be remove or delete, got {mode:?}"))
        })?,
    };
    apply(&sim, &team_id, &meta, StatusCode::NO_CONTENT, |team| {
        Ok(((), team.remove(&user_id, mode)?))
    })
}

async fn list_groups(
    State(sim): State<Sim>,
    Path(team_id): Path<String>,
    Query(query): QueryMap,
) -> Result<Json<GroupsPage>, ApiError> {
    let page = page_request(Listing::Groups, &query)?;
    let (groups, next_cursor) = read(&sim, &team_id, |team| {
        Ok(team.page_groups(query.get("name").map(String::as_str), &page))
    })?;
    Ok(Json(GroupsPage {
        groups,
        next_cursor,
    }))
}

async fn get_group(
    State(sim): State<Sim>,
    Path((team_id, group_id)): Path<(String, String)>,
) -> Result<Json<GroupBody>, ApiError> {
    let group = read(&sim, &team_id, |team| team.group(&group_id))?;
    Ok(Json(GroupBody { group }))
}

async fn create_group(
    State(sim): State<Sim>,
    Path(team_id): Path<String>,
    meta: RequestMeta,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let name = body::group_name(&bytes)?;
    apply(&sim, &team_id, &meta, StatusCode::CREATED, |team| {
        let (group, applied) = team.create_group(&name)?;
        Ok((GroupBody { group }, applied))
    })
}

async fn rename_group(
    State(sim): State<Sim>,
    Path((team_id, group_id)): Path<(String, String)>,
    meta: RequestMeta,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let name = body::group_name(&bytes)?;
    apply(&sim, &team_id, &meta, StatusCode::OK, |team| {
        let (group, applied) = team.rename_group(&group_id, &name)?;
        Ok((GroupBody { group }, applied))
    })
}

async fn delete_group(
    State(sim): State<Sim>,
    Path((team_id, group_id)): Path<(String, String)>,
    meta: RequestMeta,
) -> Result<Response, ApiError> {
    apply(&sim, &team_id, &meta, StatusCode::NO_CONTENT, |team| {
        Ok(((), team.delete_group(&group_id)?))
    })
}

async fn group_members(
    State(sim): State<Sim>,
    Path(group_id): Path<String>,
) -> Result<Json<MembersBody>, ApiError> {
    let members = sim.lock().team.members(&group_id)?;
    Ok(Json(MembersBody { members }))
}
