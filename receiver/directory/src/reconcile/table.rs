//! The `reconcile_runs` table (its schema: `crate::sqlite::reconcile_runs`): one row per
//! run, its counts and its items, written at the start and completed in the transaction
//! of its fixes.

use std::sync::Arc;

use splashsync_protocol::reconcile::{run_state, DriftItem, ReconcileReport, ReconcileRequest};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::Reading;
use crate::audit::now_fixed;
use crate::error::StoreError;

const COLUMNS: &str = "id, trigger, dry_run, prune, state, started, finished, pages_read, \
     team_users, team_groups, found, fixed, pending, error";

fn decode_error(e: serde_json::Error) -> StoreError {
    StoreError::Database(Arc::new(sqlx::Error::Decode(Box::new(e))))
}

fn count(row: &SqliteRow, column: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

fn report_from_row(row: &SqliteRow, items: Vec<DriftItem>) -> Result<ReconcileReport, StoreError> {
    Ok(ReconcileReport {
        id: row.try_get("id")?,
        trigger: row.try_get("trigger")?,
        dry_run: row.try_get("dry_run")?,
        prune: row.try_get("prune")?,
        state: row.try_get("state")?,
        started: row.try_get("started")?,
        finished: row.try_get("finished")?,
        pages_read: count(row, "pages_read")?,
        team_users: count(row, "team_users")?,
        team_groups: count(row, "team_groups")?,
        found: count(row, "found")?,
        fixed: count(row, "fixed")?,
        pending: count(row, "pending")?,
        error: row.try_get("error")?,
        items,
    })
}

/// Inserts a running run, after marking any run still `running` failed: one receiver
/// runs one reconciliation at a time, so such a run was cut short by a stop.
pub(crate) async fn begin(
    conn: &mut SqliteConnection,
    trigger: &str,
    request: ReconcileRequest,
) -> Result<i64, StoreError> {
    sqlx::query("UPDATE reconcile_runs SET state = ?, finished = ?, error = ? WHERE state = ?")
        .bind(run_state::FAILED)
        .bind(now_fixed())
        .bind("the receiver stopped during the run; nothing of it was written")
        .bind(run_state::RUNNING)
        .execute(&mut *conn)
        .await?;
    let id = sqlx::query_scalar(
        "INSERT INTO reconcile_runs (trigger, dry_run, prune, state, started) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(trigger)
    .bind(request.dry_run)
    .bind(request.prune)
    .bind(run_state::RUNNING)
    .bind(now_fixed())
    .fetch_one(&mut *conn)
    .await?;
    Ok(id)
}

/// The run's request, as [`begin`] stored it.
pub(crate) async fn request_of(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<ReconcileRequest, StoreError> {
    let row = sqlx::query("SELECT dry_run, prune FROM reconcile_runs WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("reconciliation run {id}")))?;
    Ok(ReconcileRequest {
        dry_run: row.try_get("dry_run")?,
        prune: row.try_get("prune")?,
    })
}

/// Completes a run with its reading, counts and items.
pub(crate) async fn complete(
    conn: &mut SqliteConnection,
    id: i64,
    reading: Reading,
    items: &[DriftItem],
    fixed: u64,
    pending: u64,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(items).map_err(decode_error)?;
    sqlx::query(
        "UPDATE reconcile_runs SET state = ?, finished = ?, pages_read = ?, team_users = ?, team_groups = ?, \
         found = ?, fixed = ?, pending = ?, items = ? WHERE id = ?",
    )
    .bind(run_state::DONE)
    .bind(now_fixed())
    .bind(reading.pages as i64)
    .bind(reading.users as i64)
    .bind(reading.groups as i64)
    .bind(items.len() as i64)
    .bind(fixed as i64)
    .bind(pending as i64)
    .bind(json)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a run failed.
pub(crate) async fn fail(
    conn: &mut SqliteConnection,
    id: i64,
    reading: Reading,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE reconcile_runs SET state = ?, finished = ?, pages_read = ?, error = ? WHERE id = ?",
    )
    .bind(run_state::FAILED)
    .bind(now_fixed())
    .bind(reading.pages as i64)
    .bind(error)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The newest `limit` runs, without items.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    limit: u32,
) -> Result<Vec<ReconcileReport>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM reconcile_runs ORDER BY id DESC LIMIT ?");
    sqlx::query(&sql)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| report_from_row(row, Vec::new()))
        .collect()
}

/// One run with its items.
pub(crate) async fn one(
    conn: &mut SqliteConnection,
    id: i64,
) -> Result<Option<ReconcileReport>, StoreError> {
    let sql = format!("SELECT {COLUMNS}, items FROM reconcile_runs WHERE id = ?");
    let Some(row) = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let items: String = row.try_get("items")?;
    let items = serde_json::from_str(&items).map_err(decode_error)?;
    report_from_row(&row, items).map(Some)
}
