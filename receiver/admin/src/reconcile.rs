//! Drift reconciliation for operators: `POST /admin/reconcile` starts a run, `GET
//! /admin/reconcile` lists the newest runs, `GET /admin/reconcile/{id}` shows one with its
//! items; the console's page (`crate::console::reconcile`) shows the same with its
//! buttons.
//!
//! The reconciler itself runs in the receiver (it owns a Splashtop client); it reaches
//! these handlers as an [`Extension`] holding a [`Control`]. Without one (the receiver
//! was given no Splashtop API settings) every route answers 503 saying so.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::future::BoxFuture;
use serde::Deserialize;

use splashsync_directory::StoreError;
use splashsync_protocol::reconcile::{route, run_path, ReconcileReport, ReconcileRequest};

use crate::responses::{ReconcileRuns, ReconcileStarted};
use crate::{AdminError, AdminState};

/// Why a run did not start.
#[derive(Debug, Clone)]
pub enum StartError {
    /// One reconciliation at a time: this one is running.
    Busy(i64),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// What the receiver's reconciler offers operators.
pub trait ReconcileControl: Send + Sync + 'static {
    /// Starts a run in the background and returns its id (`trigger`: who asked).
    fn start(
        &self,
        trigger: &'static str,
        request: ReconcileRequest,
    ) -> BoxFuture<'_, Result<i64, StartError>>;
    /// The newest runs, without items.
    fn runs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<ReconcileReport>, StoreError>>;
    /// One run with its items.
    fn run(&self, id: i64) -> BoxFuture<'_, Result<Option<ReconcileReport>, StoreError>>;
}

/// The reconciler as the handlers find it.
pub type Control = Arc<dyn ReconcileControl>;

/// Runs listed by default and at most.
pub const LIST_DEFAULT: u32 = 20;
const LIST_MAX: u32 = 100;

fn off() -> AdminError {
    AdminError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "reconciliation is off: give the receiver SPLASHTOP_API_URL, SPLASHTOP_API_TOKEN \
                  and SPLASHTOP_TEAM_ID (and a SQLite store: reconciliation does not run on \
                  PostgreSQL yet)"
            .into(),
    }
}

pub fn control(ext: Option<Extension<Control>>) -> Result<Control, AdminError> {
    ext.map(|Extension(c)| c).ok_or_else(off)
}

impl From<StartError> for AdminError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Busy(id) => AdminError {
                status: StatusCode::CONFLICT,
                message: format!("reconciliation run {id} is still running; wait for it to finish"),
            },
            StartError::Store(e) => e.into(),
        }
    }
}

/// The admin API's reconciliation routes (mounted behind the admin token).
pub fn api_routes() -> Router<AdminState> {
    Router::new()
        .route(route::RUNS, post(start).get(list))
        .route(route::RUN, get(show))
}

/// `POST /admin/reconcile` with `{"dry_run": bool, "prune": bool}` (both optional): 202
/// with the run's id and where to read its report; 409 while a run is going.
async fn start(
    ext: Option<Extension<Control>>,
    body: Result<Json<ReconcileRequest>, JsonRejection>,
) -> Result<Response, AdminError> {
    let control = control(ext)?;
    let Json(request) = body.map_err(|e| {
        AdminError::bad_request(format!(
            "send {{\"dry_run\": bool, \"prune\": bool}}: {}",
            e.body_text()
        ))
    })?;
    let id = control.start("admin", request).await?;
    let path = format!("{}{}", splashsync_protocol::admin::PREFIX, run_path(id));
    let body = ReconcileStarted {
        run: id,
        report: path,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    limit: Option<u32>,
}

/// `GET /admin/reconcile?limit=`: the newest runs, without items.
async fn list(
    ext: Option<Extension<Control>>,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ReconcileRuns>, AdminError> {
    let control = control(ext)?;
    let Query(params) = query
        .map_err(|e| AdminError::bad_request(format!("bad query string: {}", e.body_text())))?;
    let limit = params.limit.unwrap_or(LIST_DEFAULT);
    if !(1..=LIST_MAX).contains(&limit) {
        return Err(AdminError::bad_request(format!(
            "limit must be between 1 and {LIST_MAX}"
        )));
    }
    let runs = control.runs(limit).await?;
    Ok(Json(ReconcileRuns {
        count: runs.len(),
        runs,
    }))
}

/// `GET /admin/reconcile/{id}`: one run's report with its items.
async fn show(
    ext: Option<Extension<Control>>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<ReconcileReport>, AdminError> {
    let control = control(ext)?;
    let Path(id) = id.map_err(|_| AdminError::bad_request("the run id must be an integer"))?;
    control
        .run(id)
        .await?
        .map(Json)
        .ok_or_else(|| AdminError::not_found(format!("reconciliation run {id} not found")))
}
