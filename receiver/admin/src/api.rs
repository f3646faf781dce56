//! The admin API's handlers. Every answer is JSON; bad input is a 400 naming the
//! parameter, never a 500.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use splashsync_protocol::JobKey;

use splashsync_directory::audit::{DeadLetterFilter, Incident, IncidentFilter, Replayed};

use crate::params::{DiscardBody, FilterParams, Validate};
use crate::responses::{
    DeadLetterList, DeadLetterShow, Discarded, Failure, GroupStatus, ReplayedMatching, ReplayedOne,
    Stats, UserStatus,
};
use crate::{AdminError, AdminState};

/// Most dead letters one "replay matching" request replays.
pub const MAX_REPLAY_BATCH: u32 = 1000;

type ApiResult<T> = Result<Json<T>, AdminError>;

/// A body that is no JSON of the expected form: 400 with `hint`; over the limit: 413.
pub(crate) fn body_error(e: &JsonRejection, hint: &str) -> AdminError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return AdminError {
            status: e.status(),
            message: format!("the request body is over {} bytes", crate::MAX_BODY_BYTES),
        };
    }
    AdminError::bad_request(format!("{hint}: {}", e.body_text()))
}

pub(crate) fn query_error(e: QueryRejection) -> AdminError {
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
) -> ApiResult<DeadLetterList> {
    let Query(params) = query.map_err(query_error)?;
    let filter = params.validate()?;
    let total = state.audit.count_dead_letters(filter.clone()).await?;
    let offset = filter.offset.unwrap_or(0);
    let rows = state.audit.dead_letters(filter).await?;
    Ok(Json(DeadLetterList {
        count: rows.len(),
        total,
        offset,
        dead_letters: rows,
    }))
}

/// `GET /admin/dead-letters/{id}`: the dead letter, its job, every attempt, its key's state.
pub async fn show_dead_letter(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<DeadLetterShow> {
    let id = path_id(id)?;
    let dl = state
        .audit
        .dead_letter(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("dead letter {id} not found")))?;
    let attempts = state.audit.attempts(dl.job_id.clone()).await?;
    let status = state.audit.status(dl.key.clone()).await?;
    Ok(Json(DeadLetterShow {
        dead_letter: dl,
        attempts,
        status,
    }))
}

/// `POST /admin/dead-letters/{id}/replay`: a fresh job with the key's current state.
pub async fn replay_one(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> ApiResult<ReplayedOne> {
    let id = path_id(id)?;
    let replayed = state
        .audit
        .replay(state.write_ctx("admin replay"), id)
        .await?;
    tracing::info!(dead_letter = id, job_id = %replayed.job_id, key = %replayed.key, tenant = %state.tenant, "dead letter replayed");
    Ok(Json(ReplayedOne { replayed }))
}

/// `POST /admin/dead-letters/replay`: replays every open dead letter matching the body's filter.
pub async fn replay_matching(
    State(state): State<AdminState>,
    body: Result<Json<FilterParams>, JsonRejection>,
) -> ApiResult<ReplayedMatching> {
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
    Ok(Json(ReplayedMatching { replayed, failed }))
}

/// Replays each dead letter of `filter` in id order (oldest first, so a key's older
/// failures are re-enqueued before its newer ones); one failure does not stop the rest.
pub async fn replay_all(
    state: &AdminState,
    filter: DeadLetterFilter,
) -> Result<(Vec<Replayed>, Vec<Failure>), AdminError> {
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
                failed.push(Failure {
                    id: dl.id,
                    status: e.status.as_u16(),
                    message: e.message,
                });
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
) -> ApiResult<Discarded> {
    let id = path_id(id)?;
    let Json(body) = body.map_err(|e| body_error(&e, "send {\"note\": \"why\"}"))?;
    let note = body.validate()?;
    state.audit.discard(id, note.clone()).await?;
    tracing::info!(dead_letter = id, tenant = %state.tenant, "dead letter discarded");
    Ok(Json(Discarded {
        discarded: id,
        note,
    }))
}

/// The open or replaying incident of `key`, if any.
pub async fn active_incident(
    state: &AdminState,
    key: &str,
) -> Result<Option<Incident>, AdminError> {
    let page = state
        .audit
        .incidents(IncidentFilter {
            key: Some(key.to_string()),
            state: Some("active".into()),
            limit: Some(1),
            ..IncidentFilter::default()
        })
        .await?;
    Ok(page.incidents.into_iter().next())
}

/// `GET /admin/users/{userName}/status`: state, open incident and timeline of a user.
pub async fn user_status(
    State(state): State<AdminState>,
    Path(user_name): Path<String>,
) -> ApiResult<UserStatus> {
    let id = state
        .audit
        .user_id_by_name(user_name.clone())
        .await?
        .ok_or_else(|| AdminError::not_found(format!("no user with userName {user_name:?}")))?;
    let key = JobKey::user(&state.tenant, &id).to_string();
    let status = state.audit.status(key.clone()).await?;
    let incident = active_incident(&state, &key).await?;
    let timeline = state.audit.timeline(key.clone()).await?;
    Ok(Json(UserStatus {
        user_name,
        id,
        key,
        status,
        incident,
        timeline,
    }))
}

/// `GET /admin/groups/{id}/status`: state, open incident and timeline of a group, by its
/// id or by its displayName (case-insensitive).
pub async fn group_status(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> ApiResult<GroupStatus> {
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
    let incident = active_incident(&state, &key).await?;
    Ok(Json(GroupStatus {
        id,
        key,
        status,
        incident,
        timeline,
    }))
}

/// The queue statistics (also the console's overview): what is wrong first.
pub async fn stats(state: &AdminState) -> Result<Stats, AdminError> {
    let outbox = state.audit.outbox_stats().await?;
    let dead_letters_open: BTreeMap<String, i64> =
        state.audit.open_by_reason().await?.into_iter().collect();
    let incidents_by_cause = state.audit.open_incidents_by_cause().await?;
    let (partitions, queues, broker_error) = match state.broker.depths().await {
        Ok(q) => {
            let (p, o): (Vec<_>, Vec<_>) = q.into_iter().partition(|q| q.partition.is_some());
            (p, o, None)
        }
        Err(e) => (Vec::new(), Vec::new(), Some(e)),
    };
    Ok(Stats {
        incidents_open: incidents_by_cause.iter().map(|c| c.count).sum(),
        incidents_by_cause,
        retrying_now: state.audit.retrying_now(50).await?,
        oldest_waiting_job_age_seconds: state.audit.oldest_waiting_age().await?,
        partitions,
        queues,
        broker_error,
        outbox,
        dead_letters_open,
        drain_rate_per_minute: state.samples.drain_rate(Duration::from_secs(300)),
    })
}

/// `GET /admin/queues`.
pub async fn queue_stats(State(state): State<AdminState>) -> ApiResult<Stats> {
    Ok(Json(stats(&state).await?))
}
