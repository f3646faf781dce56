//! The console's actions: replay and discard forms, each answered with a redirect back to
//! the list and a flash message.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::html::{enc, parse_form};
use super::ConsoleState;
use crate::params::{DiscardBody, FilterParams, Validate};
use crate::{api, AdminError};

fn back(to: &str, result: Result<String, AdminError>) -> Response {
    let msg = match result {
        Ok(m) => m,
        Err(e) => format!("error: {}", e.message),
    };
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}msg={}", enc(&msg))).into_response()
}

/// `POST /console/dead-letters/{id}/replay`.
pub async fn replay_one(State(state): State<ConsoleState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return back(
            "/console/dead-letters",
            Err(AdminError::bad_request("no such dead letter")),
        );
    };
    let admin = &state.admin;
    let result = admin
        .audit
        .replay(admin.write_ctx("console replay"), id)
        .await;
    if let Ok(r) = &result {
        tracing::info!(dead_letter = id, job_id = %r.job_id, key = %r.key, tenant = %admin.tenant, "dead letter replayed from the console");
    }
    back(
        "/console/dead-letters",
        result
            .map(|r| format!("dead letter {id} replayed as job {} ({})", r.job_id, r.key))
            .map_err(AdminError::from),
    )
}

/// `POST /console/dead-letters/{id}/discard` with a note.
pub async fn discard(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return back(
            "/console/dead-letters",
            Err(AdminError::bad_request("no such dead letter")),
        );
    };
    let note = parse_form(&body).remove("note").unwrap_or_default();
    let result = async {
        let note = DiscardBody { note }.validate()?;
        state.admin.audit.discard(id, note).await?;
        tracing::info!(dead_letter = id, tenant = %state.admin.tenant, "dead letter discarded from the console");
        Ok(format!("dead letter {id} discarded"))
    }
    .await;
    back("/console/dead-letters", result)
}

/// `POST /console/dead-letters/replay`: every open dead letter matching the filter.
pub async fn replay_matching(State(state): State<ConsoleState>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let field = |k: &str| form.get(k).cloned().filter(|v| !v.is_empty());
    let params = FilterParams {
        reason: field("reason"),
        tenant: field("tenant"),
        older_than: field("older_than"),
        limit: Some(api::MAX_REPLAY_BATCH),
        ..FilterParams::default()
    };
    let result = async {
        let (replayed, failed) = api::replay_all(&state.admin, params.validate()?).await?;
        Ok(format!(
            "{} replayed, {} failed",
            replayed.len(),
            failed.len()
        ))
    }
    .await;
    back("/console/dead-letters", result)
}
