//! The control endpoints (`/_sim/*`, `/healthz`): unauthenticated, for tests and
//! operators on a private port; never exposed where clients of the API can reach them.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::domain::{ApiError, LogEntry};
use crate::faults::Faults;
use crate::sim::Sim;

/// The control routes.
pub(crate) fn router() -> Router<Sim> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/_sim/state", get(state))
        .route("/_sim/log", get(log))
        .route("/_sim/stats", get(stats))
        .route(
            "/_sim/faults",
            get(get_faults).put(put_faults).patch(patch_faults),
        )
        .route("/_sim/reset", post(reset))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn state(State(sim): State<Sim>) -> Json<Value> {
    Json(sim.lock().team.snapshot())
}

async fn log(State(sim): State<Sim>) -> Json<Vec<LogEntry>> {
    Json(sim.lock().journal.entries.clone())
}

async fn stats(State(sim): State<Sim>) -> Json<Value> {
    let stats = sim.lock().faults.stats.clone();
    Json(serde_json::to_value(stats).unwrap_or(Value::Null))
}

async fn get_faults(State(sim): State<Sim>) -> Json<Faults> {
    Json(sim.lock().faults.settings.clone())
}

/// Replaces every fault setting; omitted fields take their defaults.
async fn put_faults(State(sim): State<Sim>, bytes: Bytes) -> Result<Json<Faults>, ApiError> {
    let faults: Faults = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("invalid faults: {e}")))?;
    set_faults(&sim, faults)
}

/// Changes only the fault settings present in the body.
async fn patch_faults(State(sim): State<Sim>, bytes: Bytes) -> Result<Json<Faults>, ApiError> {
    let changes: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(format!("invalid JSON: {e}")))?;
    let Value::Object(changes) = changes else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    let current = sim.lock().faults.settings.clone();
    let mut merged = serde_json::to_value(current).unwrap_or_else(|_| json!({}));
    if let Value::Object(fields) = &mut merged {
        fields.extend(changes);
    }
    let faults: Faults = serde_json::from_value(merged)
        .map_err(|e| ApiError::invalid(format!("invalid faults: {e}")))?;
    set_faults(&sim, faults)
}

fn set_faults(sim: &Sim, faults: Faults) -> Result<Json<Faults>, ApiError> {
    faults
        .validate()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    tracing::info!(?faults, "faults changed");
    sim.lock().faults.settings = faults.clone();
    Ok(Json(faults))
}

async fn reset(State(sim): State<Sim>) -> StatusCode {
    sim.reset();
    tracing::info!("state, log and stats reset");
    StatusCode::NO_CONTENT
}
