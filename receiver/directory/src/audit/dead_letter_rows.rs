//! What both engines' dead-letter reads share: the columns, the filter, the paging, the
//! attempts of a job, and the decoding of their rows; and when a dead letter can still be
//! discarded. Each engine runs the statements on its own pool or transaction.

use splashsync_protocol::admin::{Attempt, DeadLetter};

use super::{fixed, DeadLetterFilter};
use crate::error::StoreError;
use crate::rows::Get;

/// A dead letter's columns, with its job's origin and its incident's names.
pub(crate) const DL_COLUMNS: &str = "d.id, d.job_id, d.tenant, d.key, d.kind, d.version, d.reason, d.http_status, d.error_code, \
    d.error_body, d.attempts, d.first_attempt, d.last_attempt, d.received_at, d.state, d.resolved_at, d.note, \
    d.replay_job_id, o.origin, d.payload, d.incident_id, i.name, i.email";

/// Dead letters with the SCIM call that caused their job and their incident's names.
pub(crate) const DL_FROM: &str = "FROM dead_letters d LEFT JOIN outbox o ON o.job_id = d.job_id \
    LEFT JOIN incidents i ON i.id = d.incident_id";

/// The attempts of job `$1`, in order.
pub(crate) const ATTEMPTS: &str =
    "SELECT job_id, attempt, at, status, detail, http_status, error_code, worker FROM audit_events \
     WHERE job_id = $1 ORDER BY attempt, at";

/// Discards dead letter `$3` at `$1` with note `$2`.
pub(crate) const DISCARD: &str =
    "UPDATE dead_letters SET state = 'discarded', resolved_at = $1, note = $2 WHERE id = $3";

/// Open dead letters per reason, most first.
pub(crate) const OPEN_BY_REASON: &str =
    "SELECT reason, COUNT(*) AS n FROM dead_letters WHERE state = 'open' GROUP BY reason ORDER BY n DESC";

/// A reason and its count from a row of [`OPEN_BY_REASON`].
pub(crate) fn reason_count(r: &impl Get) -> Result<(String, i64), StoreError> {
    Ok((r.get("reason")?, r.get("n")?))
}

/// A dead letter from a row of [`DL_COLUMNS`], with its job's body when `with_job`.
pub(crate) fn dead_letter(row: &impl Get, with_job: bool) -> Result<DeadLetter, StoreError> {
    let payload: String = row.get("payload")?;
    Ok(DeadLetter {
        id: row.get("id")?,
        job_id: row.get("job_id")?,
        tenant: row.get("tenant")?,
        key: row.get("key")?,
        kind: row.get("kind")?,
        version: row.get("version")?,
        reason: row.get("reason")?,
        http_status: row.get("http_status")?,
        error_code: row.get("error_code")?,
        error_body: row.get("error_body")?,
        attempts: row.get("attempts")?,
        first_attempt: row.get("first_attempt")?,
        last_attempt: row.get("last_attempt")?,
        received_at: row.get("received_at")?,
        state: row.get("state")?,
        resolved_at: row.get("resolved_at")?,
        note: row.get("note")?,
        replay_job_id: row.get("replay_job_id")?,
        origin: row.get("origin")?,
        incident_id: row.get("incident_id")?,
        name: row.get("name")?,
        email: row.get("email")?,
        job: with_job
            .then(|| serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload))),
    })
}

/// An attempt from a row of [`ATTEMPTS`].
pub(crate) fn attempt(r: &impl Get) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        job_id: r.get("job_id")?,
        attempt: r.get("attempt")?,
        at: r.get("at")?,
        status: r.get("status")?,
        detail: super::humane::detail(&r.get::<String>("detail")?),
        http_status: r.get("http_status")?,
        error_code: r.get("error_code")?,
        worker: r.get("worker")?,
    })
}

/// The WHERE clause (`?` placeholders) and its arguments for `f`.
pub(crate) fn filter_clause(f: &DeadLetterFilter) -> (String, Vec<String>) {
    let mut clauses = Vec::new();
    let mut args = Vec::new();
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        s => {
            clauses.push("d.state = ?");
            args.push(s.to_string());
        }
    }
    for (clause, value) in [
        ("d.reason = ?", &f.reason),
        ("d.tenant = ?", &f.tenant),
        ("d.key = ?", &f.key),
    ] {
        if let Some(v) = value {
            clauses.push(clause);
            args.push(v.clone());
        }
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        clauses.push("d.received_at <= ?");
        args.push(fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        clauses.push("d.received_at >= ?");
        args.push(fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

/// The statement of the page `f` asks for under `clause`, newest first.
pub(crate) fn page_sql(clause: &str, f: &DeadLetterFilter) -> String {
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    let offset = f.offset.unwrap_or(0);
    format!(
        "SELECT {DL_COLUMNS} {DL_FROM} {clause} ORDER BY d.id DESC LIMIT {limit} OFFSET {offset}"
    )
}

/// The statement counting the dead letters under `clause`.
pub(crate) fn count_sql(clause: &str) -> String {
    format!("SELECT COUNT(*) FROM dead_letters d {clause}")
}

/// The statement of dead letter `$1`.
pub(crate) fn one_sql() -> String {
    format!("SELECT {DL_COLUMNS} {DL_FROM} WHERE d.id = $1")
}

/// The statement of incident `$1`'s dead letters, newest first (the latest 500).
pub(crate) fn of_incident_sql() -> String {
    format!("SELECT {DL_COLUMNS} {DL_FROM} WHERE d.incident_id = $1 ORDER BY d.id DESC LIMIT 500")
}

/// Whether dead letter `id` in `state` (`None`: there is none) can be discarded.
pub(crate) fn discardable(id: i64, state: Option<String>) -> Result<(), StoreError> {
    match state.as_deref() {
        None => Err(StoreError::NotFound(format!("dead letter {id}"))),
        Some("open") => Ok(()),
        Some(other) => Err(StoreError::AlreadyResolved {
            id,
            state: other.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_open_dead_letter_can_be_discarded() {
        assert!(discardable(1, Some("open".into())).is_ok());
        assert!(matches!(
            discardable(1, Some("replayed".into())),
            Err(StoreError::AlreadyResolved { id: 1, .. })
        ));
        assert!(matches!(discardable(2, None), Err(StoreError::NotFound(_))));
    }

    #[test]
    fn the_default_filter_is_open_dead_letters_newest_first() {
        let f = DeadLetterFilter::default();
        let (clause, args) = filter_clause(&f);
        assert_eq!(clause, "WHERE d.state = ?");
        assert_eq!(args, ["open"]);
        assert!(page_sql(&clause, &f).ends_with("ORDER BY d.id DESC LIMIT 100 OFFSET 0"));
    }
}
