//! The admin API's handlers. Every answer is JSON; bad input is a 400 naming the
//! parameter, never a 500.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};
use splashsync_protocol::JobKey;

use splashsync_directory::audit::{DeadLetterFilter, Replayed};

use crate::params::{DiscardBody, FilterParams, Validate};
use crate::{AdminError, AdminState};

/// Most dead letters one "replay matching" request replays.
pub const MAX_REPLAY_BATCH: u32 = 1000;

type ApiResult = Result<Json<Value>, AdminError>;

/// A body that is no JSON of the expected form: 400 with `hint`; over the limit: 413.
fn body_error(e: &JsonRejection, hint: &str) -> AdminError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AdminError {
            status: e.status(),
            message: format!("the request body is over {} bytes", crate::MAX_BODY_BYTES),
        };
    }
    AdminError::bad_request(format!("{hint}: {}", e.body_text()))
}

fn query_error(e: QueryRejection) -> AdminError {
    AdminError::bad_request(format!("bad query string: {}", e.body_text()))
}

fn path_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, AdminError> {
    p.map(|Path(id)| id)
        .map_err(|_| AdminError::bad_request("the dead letter id must be an integer"))
}

/// `GET /admin/dead-letters`: dead letters matching the query, newest first.
pub async fn list_dead_letters(
    State(state): State<AdminState>,
    query: Result<Query<FilterParams>, QueryRejection>,
) -> ApiResult {
    let Query(params) = query.map_err(query_error)?;
    let rows = state.audit.dead_letters(params.validate()?).await?;
    Ok(Json(json!({"count": rows.len(), "dead_letters": rows})))
}

/// `GET /admin/dead-letters/{id}`: the dead letter, its job, every attempt, its key's state.
pub async fn show_dead_letter(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let dl = state
        .audit
        .dead_letter(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("dead letter {id} not found")))?;
    let attempts = state.audit.attempts(dl.job_id.clone()).await?;
    let status = state.audit.status(dl.key.clone()).await?;
    Ok(Json(
        json!({"dead_letter": dl, "attempts": attempts, "status": status}),
    ))
}

/// `POST /admin/dead-letters/{id}/replay`: a fresh job with the key's current state.
pub async fn replay_one(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let replayed = state
        .audit
        .replay(state.write_ctx("admin replay"), id)
        .await?;
    tracing::info!(dead_letter = id, job_id = %replayed.job_id, key = %replayed.key, tenant = %state.tenant, "dead letter replayed");
    Ok(Json(json!({ "replayed": replayed })))
}

/// `POST /admin/dead-letters/replay`: replays every open dead letter matching the body's filter.
pub async fn replay_matching(
    State(state): State<AdminState>,
    body: Result<Json<FilterParams>, JsonRejection>,
) -> ApiResult {
    let Json(params) = body.map_err(|e| body_error(&e, "send a JSON filter object"))?;
    if params.state.as_deref().is_some_and(|s| s != "open") {
        return Err(AdminError::bad_request(
            "only open dead letters can be replayed",
        ));
    }
    let mut filter = params.validate()?;
    filter.limit = Some(
        filter
            .limit
            .unwrap_or(MAX_REPLAY_BATCH)
            .min(MAX_REPLAY_BATCH),
    );
    let (replayed, failed) = replay_all(&state, filter).await?;
    Ok(Json(json!({"replayed": replayed, "failed": failed})))
}

/// Replays each dead letter of `filter` in id order (oldest first, so a key's older
/// failures are re-enqueued before its newer ones); one failure does not stop the rest.
pub async fn replay_all(
    state: &AdminState,
    filter: DeadLetterFilter,
) -> Result<(Vec<Replayed>, Vec<Value>), AdminError> {
    let mut rows = state.audit.dead_letters(filter).await?;
    rows.reverse();
    let mut replayed = Vec::new();
    let mut failed = Vec::new();
    for dl in rows {
        match state
            .audit
            .replay(state.write_ctx("admin replay"), dl.id)
            .await
        {
            Ok(r) => replayed.push(r),
            Err(e) => {
                let e = AdminError::from(e);
                failed
                    .push(json!({"id": dl.id, "status": e.status.as_u16(), "message": e.message}));
            }
        }
    }
    tracing::info!(replayed = replayed.len(), failed = failed.len(), tenant = %state.tenant, "dead letters replayed");
    Ok((replayed, failed))
}

/// `POST /admin/dead-letters/{id}/discard` with `{"note": "..."}`.
pub async fn discard(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<DiscardBody>, JsonRejection>,
) -> ApiResult {
    let id = path_id(id)?;
    let Json(body) = body.map_err(|e| body_error(&e, "send {\"note\": \"why\"}"))?;
    let note = body.validate()?;
    state.audit.discard(id, note.clone()).await?;
    tracing::info!(dead_letter = id, tenant = %state.tenant, "dead letter discarded");
    Ok(Json(json!({"discarded": id, "note": note})))
}

/// `GET /admin/users/{userName}/status`: state and timeline of a user.
pub async fn user_status(
    State(state): State<AdminState>,
    Path(user_name): Path<String>,
) -> ApiResult {
    let id = state
        .audit
        .user_id_by_name(user_name.clone())
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no user with userName {user_name:?}")))?;
    let key = JobKey::user(&state.tenant, &id).to_string();
    let status = state.audit.status(key.clone()).await?;
    let timeline = state.audit.timeline(key.clone()).await?;
    Ok(Json(json!({
        "userName": user_name, "id": id, "key": key, "status": status, "timeline": timeline,
    })))
}

/// `GET /admin/groups/{id}/status`: state and timeline of a group, by its id or by its
/// displayName (case-insensitive).
pub async fn group_status(State(state): State<AdminState>, Path(id): Path<String>) -> ApiResult {
    let id = state
        .audit
        .group_id_by_name(id.clone())
        .await?
        .unwrap_or(id);
    let key = JobKey::group(&state.tenant, &id).to_string();
    let status = state.audit.status(key.clone()).await?;
    let timeline = state.audit.timeline(key.clone()).await?;
    if status.is_none() && timeline.is_empty() {
        return Err(AdminError::not_found(format!(
            "no group {id:?} in the audit log"
        )));
    }
    Ok(Json(
        json!({"id": id, "key": key, "status": status, "timeline": timeline}),
    ))
}

/// The queue statistics (also the console's overview).
pub async fn stats(state: &AdminState) -> Result<Value, AdminError> {
    let outbox = state.audit.outbox_stats().await?;
    let by_reason: BTreeMap<String, i64> =
        state.audit.open_by_reason().await?.into_iter().collect();
    let (queues, broker_error) = match state.broker.depths().await {
        Ok(q) => (q, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let (partitions, others): (Vec<_>, Vec<_>) =
        queues.into_iter().partition(|q| q.partition.is_some());
    Ok(json!({
        "partitions": partitions,
        "queues": others,
        "broker_error": broker_error,
        "outbox": outbox,
        "dead_letters_open": by_reason,
        "drain_rate_per_minute": state.samples.drain_rate(Duration::from_secs(300)),
    }))
}

/// `GET /admin/queues`.
pub async fn queue_stats(State(state): State<AdminState>) -> ApiResult {
    Ok(Json(stats(&state).await?))
}
