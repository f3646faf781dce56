//! Incidents as tables: one row per person or group with the current cause and what to
//! do; one incident with its dead-letter records and timeline; what a bulk action did.

use serde_json::Value;

use super::{clip, fields, numeric, plural, table, text};

fn rows<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The person's email or userName, or the group's name, else the key.
fn who(i: &Value) -> String {
    ["email", "name", "key"]
        .iter()
        .find_map(|f| i.get(*f).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .unwrap_or("-")
        .to_string()
}

/// The cause, and a transient error retrying now beside it (never instead of it).
fn cause(i: &Value) -> String {
    let mut c = text(i, "cause");
    if let Some(r) = i.get("retrying").and_then(Value::as_str) {
        c.push_str(&format!(" (retrying now: {})", clip(r, 40)));
    }
    c
}

/// `GET /incidents`: a page, with the total over all pages.
pub(super) fn list(answer: &Value) -> String {
    let page = rows(answer, "incidents");
    let mut t = table(&[
        "id",
        "last seen",
        "who",
        "cause",
        "attempts",
        "state",
        "what to do",
    ]);
    for i in page {
        t.add_row(vec![
            text(i, "id"),
            text(i, "last_seen"),
            clip(&who(i), 40),
            clip(&cause(i), 60),
            text(i, "attempts"),
            text(i, "state"),
            clip(&text(i, "what_to_do"), 70),
        ]);
    }
    numeric(&mut t, &[0, 4]);
    let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
    let offset = answer.get("offset").and_then(Value::as_u64).unwrap_or(0);
    let mut footer = format!("{} of {total} shown", plural(page.len() as u64, "incident"));
    if offset > 0 || (offset + page.len() as u64) < total {
        footer.push_str(&format!(
            " (from {}; --offset {} for the next page)",
            offset + 1,
            offset + page.len() as u64
        ));
    }
    format!("{t}\n{footer}")
}

/// `GET /incidents/{id}`.
pub(super) fn show(answer: &Value) -> String {
    let i = answer.get("incident").unwrap_or(&Value::Null);
    let mut out = vec![fields(
        i,
        &[
            ("id", "id"),
            ("who", "name"),
            ("email", "email"),
            ("key", "key"),
            ("state", "state"),
            ("cause", "cause"),
            ("retrying now", "retrying"),
            ("Splashtop said", "message"),
            ("what to do", "what_to_do"),
            ("first seen", "first_seen"),
            ("last seen", "last_seen"),
            ("attempts", "attempts"),
            ("dead letters", "dead_letters"),
            ("reopened", "reopened"),
            ("resolved by job", "resolved_by_job"),
            ("replay job", "replay_job_id"),
            ("closed", "closed_at"),
            ("note", "note"),
            ("discarded by", "discarded_by"),
        ],
    )
    .to_string()];
    let records = rows(answer, "dead_letters");
    let mut t = table(&["dead letter", "received", "reason", "code", "http", "state"]);
    for dl in records {
        t.add_row(vec![
            text(dl, "id"),
            text(dl, "received_at"),
            text(dl, "reason"),
            text(dl, "error_code"),
            text(dl, "http_status"),
            text(dl, "state"),
        ]);
    }
    numeric(&mut t, &[0, 4]);
    out.push(format!(
        "{t}\n{}",
        plural(records.len() as u64, "dead letter")
    ));
    let timeline = rows(answer, "timeline");
    let mut t = table(&["at", "what", "status", "detail"]);
    for e in timeline {
        t.add_row(vec![
            text(e, "at"),
            text(e, "what"),
            text(e, "status"),
            clip(&text(e, "detail"), 90),
        ]);
    }
    out.push(format!(
        "{t}\n{}",
        plural(timeline.len() as u64, "timeline entry").replace("entrys", "entries")
    ));
    out.join("\n")
}

/// What replaying or discarding one incident, or many, did.
pub(super) fn acted(answer: &Value) -> String {
    let replayed = |r: &Value| {
        format!(
            "incident {} replayed: job {} for {} at version {}",
            text(r, "incident"),
            text(r, "job_id"),
            text(r, "key"),
            text(r, "version")
        )
    };
    let discarded = |d: &Value| {
        format!(
            "incident {} discarded by {}: {}",
            text(d, "incident"),
            text(d, "by"),
            text(d, "note")
        )
    };
    if answer.get("action").is_none() {
        return if answer.get("job_id").is_some() {
            replayed(answer)
        } else {
            discarded(answer)
        };
    }
    let mut out: Vec<String> = rows(answer, "replayed").iter().map(replayed).collect();
    out.extend(rows(answer, "discarded").iter().map(discarded));
    for f in rows(answer, "failed") {
        out.push(format!(
            "incident {} NOT done: {} {}",
            text(f, "incident"),
            text(f, "status"),
            text(f, "message")
        ));
    }
    let done = rows(answer, "replayed").len() + rows(answer, "discarded").len();
    if answer.get("done").and_then(Value::as_bool) == Some(true) {
        out.push(format!(
            "{} of {} matching: {done} done, {} failed",
            text(answer, "action"),
            text(answer, "count"),
            rows(answer, "failed").len()
        ));
    } else {
        out.push(format!(
            "{} matching incidents; nothing done (not confirmed)",
            text(answer, "count")
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_names_the_person_the_cause_beside_a_retry_and_the_total() {
        let answer = json!({"total": 29, "offset": 0, "limit": 1, "incidents": [{
            "id": 7, "last_seen": "2026-12-01T01:00:00Z", "email": "alice@example.com",
            "name": "alice", "key": "default/user/1", "cause": "seat_limit_reached",
            "retrying": "HTTP 429", "attempts": 3, "state": "open",
            "what_to_do": "Free a seat or buy more in Splashtop, then replay."}]});
        let text = list(&answer);
        let row = text
            .lines()
            .find(|l| l.contains("alice@example.com"))
            .unwrap();
        assert!(
            row.contains("seat_limit_reached (retrying now: HTTP 429)"),
            "{text}"
        );
        assert!(row.contains("Free a seat"), "{text}");
        assert!(
            text.ends_with("1 incident of 29 shown (from 1; --offset 1 for the next page)"),
            "{text}"
        );
    }

    #[test]
    fn a_bulk_answer_says_what_was_done_or_that_nothing_was() {
        let counted = json!({"action": "replay", "count": 22, "done": false, "confirm": "t"});
        assert!(acted(&counted).contains("22 matching incidents; nothing done"));
        let done = json!({"action": "replay", "count": 1, "done": true,
            "replayed": [{"incident": 3, "key": "k", "job_id": "j", "version": 4}],
            "failed": []});
        let text = acted(&done);
        assert!(text.contains("incident 3 replayed: job j for k at version 4"));
        assert!(
            text.ends_with("replay of 1 matching: 1 done, 0 failed"),
            "{text}"
        );
    }
}
