//! The admin API's incident handlers: list (filters, paging, total), show, replay and
//! discard one, and replay-all / discard-all of a filter, which act only when sent back
//! the confirmation token that a first, counting call answered.

use std::hash::{Hash, Hasher};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use splashsync_directory::audit::{IncidentDetail, IncidentFilter, IncidentPage};
use splashsync_protocol::admin::{
    incident_state, BulkAnswer, BulkFailure, BulkRequest, IncidentDiscardBody, IncidentDiscarded,
    IncidentQuery, IncidentReplayed,
};

use crate::api::{body_error, query_error, MAX_REPLAY_BATCH};
use crate::params::Validate;
use crate::{AdminError, AdminState};

fn path_id(p: Result<Path<i64>, PathRejection>) -> Result<i64, AdminError> {
    p.map(|Path(id)| id)
        .map_err(|_| AdminError::bad_request("the incident id must be an integer"))
}

/// `GET /admin/incidents`: a page of incidents (open ones by default), latest failure
/// first, with the total.
pub async fn list(
    State(state): State<AdminState>,
    query: Result<Query<IncidentQuery>, QueryRejection>,
) -> Result<Json<IncidentPage>, AdminError> {
    let Query(q) = query.map_err(query_error)?;
    Ok(Json(state.audit.incidents(q.validate()?).await?))
}

/// `GET /admin/incidents/{id}`: the incident, its dead letters and its key's timeline.
pub async fn show(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<IncidentDetail>, AdminError> {
    let id = path_id(id)?;
    let detail = state
        .audit
        .incident(id)
        .await?
        .ok_or_else(|| AdminError::not_found(format!("incident {id} not found")))?;
    Ok(Json(detail))
}

/// Replays incident `id` (shared by the API and the console).
pub async fn replay_incident(
    state: &AdminState,
    id: i64,
    channel: &str,
) -> Result<IncidentReplayed, AdminError> {
    let r = state
        .audit
        .replay_incident(state.write_ctx(&format!("{channel} replay")), id)
        .await?;
    tracing::info!(incident = id, job_id = %r.job_id, key = %r.key, dead_letters = r.dead_letters.len(), tenant = %state.tenant, "incident replayed from the {channel}");
    Ok(r)
}

/// Discards incident `id` with `note` (shared by the API and the console).
pub async fn discard_incident(
    state: &AdminState,
    id: i64,
    body: IncidentDiscardBody,
    channel: &str,
) -> Result<IncidentDiscarded, AdminError> {
    let (note, by) = body.validate()?;
    let by = by.unwrap_or_else(|| format!("an operator ({channel})"));
    let d = state.audit.discard_incident(id, note, by).await?;
    tracing::info!(incident = id, by = %d.by, tenant = %state.tenant, "incident discarded from the {channel}");
    Ok(d)
}

/// `POST /admin/incidents/{id}/replay`: one fresh job with the key's current state.
pub async fn replay(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<IncidentReplayed>, AdminError> {
    Ok(Json(
        replay_incident(&state, path_id(id)?, "admin API").await?,
    ))
}

/// `POST /admin/incidents/{id}/discard` with `{"note": "...", "by": "..."}`.
pub async fn discard(
    State(state): State<AdminState>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<IncidentDiscardBody>, JsonRejection>,
) -> Result<Json<IncidentDiscarded>, AdminError> {
    let id = path_id(id)?;
    let Json(body) = body.map_err(|e| body_error(&e, "send {\"note\": \"why\"}"))?;
    Ok(Json(discard_incident(&state, id, body, "admin API").await?))
}

/// A bulk action: replay or discard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Replay each incident.
    Replay,
    /// Discard each incident with the request's note.
    Discard,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Replay => "replay",
            Action::Discard => "discard",
        }
    }
}

/// The token that binds a confirmation to an action, a filter and the count it matched.
fn confirmation(action: Action, filter: &IncidentFilter, count: i64) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (action.as_str(), format!("{filter:?}"), count).hash(&mut h);
    format!("{count}-{:016x}", h.finish())
}

/// The open incidents of `req`'s filter (at most [`MAX_REPLAY_BATCH`]): counted on a first
/// call (answering the confirmation token), acted on when that token comes back. An empty
/// filter needs `all: true`; a stale token (the matching incidents changed) is a 409.
pub async fn bulk(
    state: &AdminState,
    req: BulkRequest,
    action: Action,
    channel: &str,
) -> Result<BulkAnswer, AdminError> {
    if req
        .filter
        .state
        .as_deref()
        .is_some_and(|s| s != incident_state::OPEN)
    {
        return Err(AdminError::bad_request(format!(
            "only open incidents can be acted on in bulk; leave state out (to {} one that is being replayed, use its own endpoint)",
            action.as_str()
        )));
    }
    if req.filter.is_unfiltered() && !req.all {
        return Err(AdminError::bad_request(format!(
            "an empty filter matches every open incident: narrow it down, or send \"all\": true to {} them all",
            action.as_str()
        )));
    }
    let note = match (action, req.note) {
        (Action::Discard, None) => {
            return Err(AdminError::bad_request(
                "discarding needs a note saying why (it stays with every incident)",
            ))
        }
        (_, note) => note,
    };
    let mut filter = req.filter.validate()?;
    filter.state = Some(incident_state::OPEN.into());
    filter.offset = None;
    filter.limit = Some(MAX_REPLAY_BATCH);
    let page = state.audit.incidents(filter.clone()).await?;
    let token = confirmation(action, &filter, page.total);
    let mut answer = BulkAnswer {
        action: action.as_str().into(),
        count: page.total,
        ..BulkAnswer::default()
    };
    match req.confirm {
        None => {
            answer.confirm = Some(token);
            return Ok(answer);
        }
        Some(sent) if sent != token => {
            return Err(AdminError {
                status: axum::http::StatusCode::CONFLICT,
                message: format!(
                    "the confirmation does not match: {} open incidents match this filter now; count again",
                    page.total
                ),
            })
        }
        Some(_) => {}
    }
    // Oldest first, so that a key's older failures are handled before newer ones.
    for incident in page.incidents.iter().rev() {
        let result = match action {
            Action::Replay => replay_incident(state, incident.id, channel)
                .await
                .map(|r| answer.replayed.push(r)),
            Action::Discard => {
                let body = IncidentDiscardBody {
                    note: note.clone().unwrap_or_default(),
                    by: req.by.clone(),
                };
                discard_incident(state, incident.id, body, channel)
                    .await
                    .map(|d| answer.discarded.push(d))
            }
        };
        if let Err(e) = result {
            answer.failed.push(BulkFailure {
                incident: incident.id,
                status: e.status.as_u16(),
                message: e.message,
            });
        }
    }
    answer.done = true;
    Ok(answer)
}

/// `POST /admin/incidents/replay`: replay-all of a filter (count first, then confirm).
pub async fn replay_all(
    State(state): State<AdminState>,
    body: Result<Json<BulkRequest>, JsonRejection>,
) -> Result<Json<BulkAnswer>, AdminError> {
    let Json(req) = body.map_err(|e| body_error(&e, "send {\"filter\": {…}}"))?;
    Ok(Json(bulk(&state, req, Action::Replay, "admin API").await?))
}

/// `POST /admin/incidents/discard`: discard-all of a filter with a note (count first,
/// then confirm).
pub async fn discard_all(
    State(state): State<AdminState>,
    body: Result<Json<BulkRequest>, JsonRejection>,
) -> Result<Json<BulkAnswer>, AdminError> {
    let Json(req) =
        body.map_err(|e| body_error(&e, "send {\"filter\": {…}, \"note\": \"why\"}"))?;
    Ok(Json(bulk(&state, req, Action::Discard, "admin API").await?))
}
