//! `GET /admin/floor`: what the directory knows of one job key, for workers that lost
//! their Redis state (docs/DESIGN.md, "Redis: what the workers share, and what losing it
//! does"). A worker asks it before applying a job committed before its Redis state was
//! lost, and skips the job if the directory holds a newer one of its key or another user
//! now holds its account.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use splashsync_protocol::admin::{FloorQuery, KeyFloor};
use splashsync_protocol::JobKey;

use crate::api::query_error;
use crate::{AdminError, AdminState};

/// `GET /admin/floor?key=…&account=…`.
pub async fn key_floor(
    State(state): State<AdminState>,
    query: Result<Query<FloorQuery>, QueryRejection>,
) -> Result<Json<KeyFloor>, AdminError> {
    let Query(q) = query.map_err(query_error)?;
    let key = JobKey::parse(&q.key)
        .ok_or_else(|| AdminError::bad_request(format!("not a job key: {:?}", q.key)))?;
    // A key of another tenant is none of this receiver's business: it knows nothing of it.
    if key.tenant() != &state.tenant {
        return Err(AdminError::bad_request(format!(
            "the key {:?} is not of tenant {:?}",
            q.key,
            state.tenant.as_str()
        )));
    }
    let version = state
        .audit
        .status(key.to_string())
        .await?
        .map(|s| s.version);
    let holder = match q.account {
        Some(account) if !account.is_empty() => state.audit.user_id_by_name(account).await?,
        _ => None,
    };
    Ok(Json(KeyFloor { version, holder }))
}
