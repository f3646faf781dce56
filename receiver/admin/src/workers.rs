//! `GET /admin/workers`: every worker heard from in the last week, from the heartbeats
//! the intake keeps: live, gone quiet or stopped, with the partitions each holds.

use axum::extract::State;
use axum::Json;
use splashsync_protocol::admin::WorkerList;

use crate::{AdminError, AdminState};

/// `GET /admin/workers`.
pub async fn list(State(state): State<AdminState>) -> Result<Json<WorkerList>, AdminError> {
    Ok(Json(state.workers.workers().await?))
}
