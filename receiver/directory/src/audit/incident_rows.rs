//! What both engines' incident reads share: the columns, the filters, the paging, the
//! statements that are the same on both, and the decoding of their rows. Each engine runs
//! the statements on its own pool ([`super::incident_read`] on SQLite,
//! `crate::postgres::audit::incident_read` on PostgreSQL).

use splashsync_protocol::admin::{what_to_do, CauseCount, Incident, RetryingKey, UserMatch};

use super::{fixed, IncidentFilter};
use crate::error::StoreError;
use crate::rows::Get;

/// Default and largest page.
pub(crate) const PAGE: u32 = 100;
/// The largest page (of incidents or of users found).
pub(crate) const MAX_PAGE: u32 = 1000;

/// Only the latest jobs are looked at for the oldest waiting one (the outbox keeps every
/// job ever written; older ones have long finished or are dead letters).
pub(crate) const WAITING_WINDOW: i64 = 100_000;

/// An incident's columns, with its key's transient failure while it retries.
pub(crate) const COLUMNS: &str =
    "i.id, i.tenant, i.key, i.kind, i.object_id, i.name, i.email, i.state, i.cause, \
    i.reason, i.error_code, i.http_status, i.message, i.first_seen, i.last_seen, i.attempts, \
    i.dead_letters, i.last_job_id, i.last_version, i.reopened, i.closed_at, i.resolved_by_job, \
    i.replay_job_id, i.replayed_at, i.note, i.discarded_by, \
    CASE WHEN p.state = 'retrying' THEN p.last_error END AS retrying";

/// The tables [`COLUMNS`] come from.
pub(crate) const FROM: &str = "FROM incidents i LEFT JOIN provisioning_status p ON p.key = i.key";

/// Open incidents per cause, most first.
pub(crate) const BY_CAUSE: &str =
    "SELECT cause, COUNT(*) AS n FROM incidents WHERE state = 'open' GROUP BY cause ORDER BY n DESC, cause";

/// Keys retrying now, latest first, with their last attempt (`$1`: how many).
pub(crate) const RETRYING: &str = "SELECT p.key, p.kind, p.last_error, p.updated, \
     COALESCE(u.user_name, g.display_name) AS name, \
     (SELECT e.attempt FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS attempt, \
     (SELECT e.at FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS at, \
     (SELECT e.worker FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS worker, \
     (SELECT e.next_attempt_at FROM audit_events e WHERE e.key = p.key ORDER BY e.at DESC LIMIT 1) AS next_attempt \
     FROM provisioning_status p \
     LEFT JOIN users u ON p.kind = 'user' AND u.id = substr(p.key, length(p.tenant) + 7) \
     LEFT JOIN groups g ON p.kind = 'group' AND g.id = substr(p.key, length(p.tenant) + 8) \
     WHERE p.state = 'retrying' ORDER BY p.updated DESC LIMIT $1";

/// When the oldest unfinished job of the latest [`WAITING_WINDOW`] (`$1`) was written.
pub(crate) const OLDEST_WAITING: &str =
    "SELECT MIN(o.created_at) FROM outbox o LEFT JOIN provisioning_status p ON p.key = o.key \
     WHERE o.seq > (SELECT COALESCE(MAX(seq), 0) - $1 FROM outbox) \
     AND (p.key IS NULL OR p.version < o.version OR (p.version = o.version AND p.state IN ('pending', 'retrying')))";

/// An incident from a row of [`COLUMNS`].
pub(crate) fn incident(r: &impl Get) -> Result<Incident, StoreError> {
    let cause: String = r.get("cause")?;
    Ok(Incident {
        id: r.get("id")?,
        tenant: r.get("tenant")?,
        key: r.get("key")?,
        kind: r.get("kind")?,
        object_id: r.get("object_id")?,
        name: r.get("name")?,
        email: r.get("email")?,
        state: r.get("state")?,
        what_to_do: what_to_do(&cause).to_string(),
        cause,
        reason: r.get("reason")?,
        error_code: r.get("error_code")?,
        http_status: r.get("http_status")?,
        message: r.get("message")?,
        first_seen: r.get("first_seen")?,
        last_seen: r.get("last_seen")?,
        attempts: r.get("attempts")?,
        dead_letters: r.get("dead_letters")?,
        last_job_id: r.get("last_job_id")?,
        last_version: r.get("last_version")?,
        retrying: r.get("retrying")?,
        reopened: r.get("reopened")?,
        closed_at: r.get("closed_at")?,
        resolved_by_job: r.get("resolved_by_job")?,
        replay_job_id: r.get("replay_job_id")?,
        replayed_at: r.get("replayed_at")?,
        note: r.get("note")?,
        discarded_by: r.get("discarded_by")?,
    })
}

/// A cause and its count from a row of [`BY_CAUSE`].
pub(crate) fn cause_count(r: &impl Get) -> Result<CauseCount, StoreError> {
    let cause: String = r.get("cause")?;
    Ok(CauseCount {
        count: r.get("n")?,
        what_to_do: what_to_do(&cause).to_string(),
        cause,
    })
}

/// A retrying key from a row of [`RETRYING`].
pub(crate) fn retrying_key(r: &impl Get) -> Result<RetryingKey, StoreError> {
    let updated: String = r.get("updated")?;
    Ok(RetryingKey {
        key: r.get("key")?,
        kind: r.get("kind")?,
        name: r.get("name")?,
        attempt: r.get::<Option<i64>>("attempt")?.unwrap_or(0),
        at: r.get::<Option<String>>("at")?.unwrap_or(updated),
        error: r
            .get::<Option<String>>("last_error")?
            .map(|e| super::humane::detail(&e)),
        next_attempt: r.get("next_attempt")?,
        worker: r.get::<Option<String>>("worker")?.unwrap_or_default(),
    })
}

/// A user found by prefix from a row of `id, user_name, email`.
pub(crate) fn user_match(r: &impl Get) -> Result<UserMatch, StoreError> {
    Ok(UserMatch {
        id: r.get("id")?,
        user_name: r.get("user_name")?,
        email: r.get("email")?,
    })
}

/// Seconds since `oldest` ([`OLDEST_WAITING`]'s answer), never negative.
pub(crate) fn waiting_age(oldest: Option<String>) -> Option<f64> {
    oldest
        .and_then(|t| {
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| {
            (time::OffsetDateTime::now_utc() - t)
                .as_seconds_f64()
                .max(0.0)
        })
}

/// `text` as a LIKE prefix pattern (with `\` escaping `%`, `_` and itself).
pub(crate) fn prefix_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.trim().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The page `f` asks for: (limit, offset).
pub(crate) fn page(f: &IncidentFilter) -> (u32, u32) {
    (
        f.limit.unwrap_or(PAGE).clamp(1, MAX_PAGE),
        f.offset.unwrap_or(0),
    )
}

/// The WHERE clause (`?` placeholders) and its arguments for `f`; `like` is the engine's
/// case-insensitive LIKE (SQLite's `LIKE` is, PostgreSQL's `ILIKE`).
pub(crate) fn filter_clause(f: &IncidentFilter, like: &str) -> (String, Vec<String>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut args = Vec::new();
    match f.state.as_deref().unwrap_or("open") {
        "all" => {}
        "active" => clauses.push("i.state IN ('open', 'replaying')".into()),
        s => {
            clauses.push("i.state = ?".into());
            args.push(s.to_string());
        }
    }
    for (clause, value) in [
        ("i.cause = ?", &f.cause),
        ("i.kind = ?", &f.kind),
        ("i.key = ?", &f.key),
    ] {
        if let Some(v) = value {
            clauses.push(clause.into());
            args.push(v.clone());
        }
    }
    if let Some(person) = &f.person {
        clauses.push(format!(
            "(i.name {like} ? ESCAPE '\\' OR i.email {like} ? ESCAPE '\\')"
        ));
        args.extend([prefix_pattern(person), prefix_pattern(person)]);
    }
    if let Some(group) = &f.group {
        clauses.push(format!(
            "((i.kind = 'group' AND i.name {like} ? ESCAPE '\\') OR (i.kind = 'user' AND i.object_id IN \
             (SELECT m.user_id FROM memberships m JOIN groups g ON g.id = m.group_id \
              WHERE g.display_name {like} ? ESCAPE '\\')))"
        ));
        args.extend([prefix_pattern(group), prefix_pattern(group)]);
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(age) = f.older_than {
        clauses.push("i.first_seen <= ?".into());
        args.push(fixed(now - age));
    }
    if let Some(age) = f.newer_than {
        clauses.push("i.last_seen >= ?".into());
        args.push(fixed(now - age));
    }
    if clauses.is_empty() {
        (String::new(), args)
    } else {
        (format!("WHERE {}", clauses.join(" AND ")), args)
    }
}

/// The statement of one page of incidents under `clause`, latest failure first.
pub(crate) fn page_sql(clause: &str, limit: u32, offset: u32) -> String {
    format!(
        "SELECT {COLUMNS} {FROM} {clause} ORDER BY i.last_seen DESC, i.id DESC LIMIT {limit} OFFSET {offset}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_pattern_escapes_like_wildcards() {
        assert_eq!(prefix_pattern(" a_b%c\\ "), "a\\_b\\%c\\\\%");
    }

    #[test]
    fn the_default_filter_is_open_incidents_and_like_is_the_engines() {
        let (clause, args) = filter_clause(&IncidentFilter::default(), "LIKE");
        assert_eq!(clause, "WHERE i.state = ?");
        assert_eq!(args, ["open"]);
        let f = IncidentFilter {
            state: Some("all".into()),
            person: Some("ada".into()),
            ..IncidentFilter::default()
        };
        let (clause, args) = filter_clause(&f, "ILIKE");
        assert_eq!(
            clause,
            "WHERE (i.name ILIKE ? ESCAPE '\\' OR i.email ILIKE ? ESCAPE '\\')"
        );
        assert_eq!(args, ["ada%", "ada%"]);
    }
}
