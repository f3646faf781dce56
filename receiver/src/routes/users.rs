//! `/Users`: create, read, list.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use splashsync_shared::job::{user_key, Job, JobMeta, UserJob};
use splashsync_shared::scim::list::Paging;
use splashsync_shared::scim::{now_rfc3339, ListResponse, ScimError, ScimType};

use super::response::{scim_json, store_error};
use super::AppState;
use crate::extract::ScimJson;
use crate::store::{NewUser, UserQuery, UserRecord};
use crate::user;

/// Query parameters of a list request; numbers arrive as text and are checked here so a
/// bad value is a SCIM error, not a plain-text rejection.
#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    filter: Option<String>,
    #[serde(rename = "startIndex")]
    start_index: Option<String>,
    count: Option<String>,
}

fn parse_int(name: &str, value: Option<&str>) -> Result<Option<i64>, ScimError> {
    value
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::bad_request(ScimType::InvalidValue, format!("{name} must be an integer"))
            })
        })
        .transpose()
}

/// `POST /Users`.
pub async fn create(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let valid = user::validate(body)?;
    let now = now_rfc3339();
    let record = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_name: valid.user_name,
        resource: valid.resource,
        version: 1,
        created: now.clone(),
        last_modified: now.clone(),
    };
    let job = Job::UserV1(UserJob {
        meta: JobMeta {
            job_id: uuid::Uuid::now_v7().to_string(),
            tenant: state.tenant.to_string(),
            key: user_key(&state.tenant, &record.id),
            version: record.version,
            created_at: now,
            origin: "POST /Users".into(),
        },
        state: user::desired_state(&record),
    });
    let record = state
        .directory
        .create_user(NewUser { record, job })
        .await
        .map_err(store_error)?;
    let body = user::render(&record, &state.base_url);
    let mut response = scim_json(StatusCode::CREATED, &body);
    if let Some(location) = body["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    set_etag(&mut response, record.version);
    Ok(response)
}

fn set_etag(response: &mut Response, version: i64) {
    if let Ok(v) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
}

/// `GET /Users/{id}`.
pub async fn get_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let record = state
        .directory
        .get_user(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::not_found("User", &id))?;
    let mut response = scim_json(StatusCode::OK, &user::render(&record, &state.base_url));
    set_etag(&mut response, record.version);
    Ok(response)
}

/// `GET /Users?filter=…&startIndex=…&count=…`.
pub async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Response, ScimError> {
    let paging = Paging::normalise(
        parse_int("startIndex", params.start_index.as_deref())?,
        parse_int("count", params.count.as_deref())?,
        state.page_size,
        state.max_page_size,
    );
    let user_name = match params.filter.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(f) => Some(user_name_eq(f)?),
    };
    let (records, total) = state
        .directory
        .list_users(UserQuery {
            user_name,
            offset: paging.offset(),
            limit: paging.count,
        })
        .await
        .map_err(store_error)?;
    let resources = records
        .iter()
        .map(|r| user::render(r, &state.base_url))
        .collect();
    let page = ListResponse::new(resources, total, paging.start_index);
    Ok(scim_json(
        StatusCode::OK,
        &serde_json::to_value(page).unwrap_or_default(),
    ))
}

/// The filter Okta sends before every create: `userName eq "value"`.
fn user_name_eq(filter: &str) -> Result<String, ScimError> {
    let invalid = || {
        ScimError::bad_request(
            ScimType::InvalidFilter,
            format!("unsupported filter {filter:?}: use userName eq \"value\""),
        )
    };
    let mut parts = filter.splitn(3, char::is_whitespace);
    let (attr, op, value) = (parts.next(), parts.next(), parts.next());
    match (attr, op, value) {
        (Some(a), Some(o), Some(v))
            if a.eq_ignore_ascii_case("userName") && o.eq_ignore_ascii_case("eq") =>
        {
            serde_json::from_str::<String>(v.trim()).map_err(|_| invalid())
        }
        _ => Err(invalid()),
    }
}
