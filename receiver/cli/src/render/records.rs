//! Dead letters, a key's status and timeline, and what an action did, as tables.

use serde_json::Value;

use super::{clip, fields, numeric, plural, table, text};

/// Who a record is about: the person's email or userName, or the group's name, when the
/// API names them; else the job key.
fn who(v: &Value) -> String {
    ["email", "name", "userName", "displayName", "key"]
        .iter()
        .find_map(|f| v.get(*f).and_then(Value::as_str).filter(|s| !s.is_empty()))
        .unwrap_or("-")
        .to_string()
}

fn rows<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `shown N` or `shown N of T` when the API gives the total.
fn footer(answer: &Value, shown: usize, thing: &str) -> String {
    match answer.get("total").and_then(Value::as_u64) {
        Some(total) => format!("{} of {total} shown", plural(shown as u64, thing)),
        None => format!("{} shown", plural(shown as u64, thing)),
    }
}

/// `GET /dead-letters`.
pub(super) fn dead_letters(answer: &Value) -> String {
    let list = rows(answer, "dead_letters");
    let mut t = table(&[
        "id", "received", "who", "reason", "code", "http", "attempts", "state",
    ]);
    for dl in list {
        t.add_row(vec![
            text(dl, "id"),
            text(dl, "received_at"),
            clip(&who(dl), 48),
            text(dl, "reason"),
            text(dl, "error_code"),
            text(dl, "http_status"),
            text(dl, "attempts"),
            text(dl, "state"),
        ]);
    }
    numeric(&mut t, &[0, 5, 6]);
    format!("{t}\n{}", footer(answer, list.len(), "dead letter"))
}

/// `GET /dead-letters/{id}`: the record, its attempts, its key's state now.
pub(super) fn dead_letter(answer: &Value) -> String {
    let dl = answer.get("dead_letter").unwrap_or(&Value::Null);
    let mut out = vec![fields(
        dl,
        &[
            ("id", "id"),
            ("key", "key"),
            ("kind", "kind"),
            ("version", "version"),
            ("state", "state"),
            ("reason", "reason"),
            ("code", "error_code"),
            ("http", "http_status"),
            ("answer", "error_body"),
            ("attempts", "attempts"),
            ("first attempt", "first_attempt"),
            ("last attempt", "last_attempt"),
            ("received", "received_at"),
            ("asked by", "origin"),
            ("resolved", "resolved_at"),
            ("note", "note"),
            ("replay job", "replay_job_id"),
        ],
    )
    .to_string()];
    if let Some(email) = dl.pointer("/job/state/email").and_then(Value::as_str) {
        out.push(format!(" account   {email}"));
    }
    if let Some(state) = answer.get("status").filter(|s| s.is_object()) {
        out.push(format!("key now: {}", state_line(state)));
    }
    let attempts = rows(answer, "attempts");
    let mut t = table(&["#", "at", "status", "http", "code", "worker", "detail"]);
    for a in attempts {
        t.add_row(vec![
            text(a, "attempt"),
            text(a, "at"),
            text(a, "status"),
            text(a, "http_status"),
            text(a, "error_code"),
            text(a, "worker"),
            clip(&text(a, "detail"), 80),
        ]);
    }
    numeric(&mut t, &[0, 3]);
    out.push(format!("{t}\n{}", plural(attempts.len() as u64, "attempt")));
    out.join("\n")
}

/// `applied (version 3, 2026-…)`, with the last error while there is one.
fn state_line(status: &Value) -> String {
    let mut line = format!(
        "{} (version {}, {})",
        text(status, "state"),
        text(status, "version"),
        text(status, "updated")
    );
    if let Some(e) = status.get("last_error").and_then(Value::as_str) {
        line.push_str(&format!("; last error: {}", clip(e, 120)));
    }
    if let Some(id) = status.get("splashtop_id").and_then(Value::as_str) {
        line.push_str(&format!("; Splashtop id {id}"));
    }
    line
}

/// A user's or group's status and timeline.
pub(super) fn status(answer: &Value) -> String {
    let mut out = vec![fields(
        answer,
        &[
            ("userName", "userName"),
            ("displayName", "displayName"),
            ("id", "id"),
            ("key", "key"),
        ],
    )
    .to_string()];
    match answer.get("status").filter(|s| s.is_object()) {
        Some(s) => out.push(format!(" state     {}", state_line(s))),
        None => out.push(" state     unknown (no outcome yet)".into()),
    }
    if let Some(i) = answer.get("incident").filter(|i| i.is_object()) {
        out.push(format!(
            " incident  {} ({}): {}; {}",
            text(i, "id"),
            text(i, "state"),
            text(i, "cause"),
            text(i, "what_to_do")
        ));
    }
    let timeline = rows(answer, "timeline");
    let mut t = table(&["at", "what", "status", "http", "detail"]);
    for e in timeline {
        t.add_row(vec![
            text(e, "at"),
            text(e, "what"),
            text(e, "status"),
            text(e, "http_status"),
            clip(&text(e, "detail"), 90),
        ]);
    }
    numeric(&mut t, &[3]);
    out.push(format!(
        "{t}\n{}",
        plural(timeline.len() as u64, "timeline entry").replace("entrys", "entries")
    ));
    out.join("\n")
}

/// What a replay did: one (`{"replayed": {…}}`) or many (`{"replayed": […], "failed": […]}`).
pub(super) fn replayed(answer: &Value) -> String {
    let one = |r: &Value| {
        format!(
            "dead letter {} replayed: job {} for {} at version {}",
            text(r, "id"),
            text(r, "job_id"),
            text(r, "key"),
            text(r, "version")
        )
    };
    match answer.get("replayed") {
        Some(Value::Array(done)) => {
            let failed = rows(answer, "failed");
            let mut out: Vec<String> = done.iter().map(one).collect();
            for f in failed {
                out.push(format!(
                    "dead letter {} NOT replayed: {} {}",
                    text(f, "id"),
                    text(f, "status"),
                    text(f, "message")
                ));
            }
            out.push(format!("{} replayed, {} failed", done.len(), failed.len()));
            out.join("\n")
        }
        Some(r) => one(r),
        None => "nothing replayed".into(),
    }
}

/// A discard.
pub(super) fn discarded(answer: &Value) -> String {
    format!(
        "dead letter {} discarded: {}",
        text(answer, "discarded"),
        text(answer, "note")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_names_the_person_and_says_how_many_of_how_many() {
        let answer = json!({"count": 1, "total": 110, "dead_letters": [{
            "id": 65, "received_at": "2026-12-01T01:00:00Z", "key": "default/user/0193",
            "email": "alice@example.com", "reason": "permanent",
            "error_code": "seat_limit_reached", "http_status": 422, "attempts": 1,
            "state": "open"}]});
        let text = dead_letters(&answer);
        let row = text.lines().find(|l| l.contains("65")).unwrap();
        assert!(row.contains("alice@example.com") && row.contains("seat_limit_reached"));
        assert!(text.ends_with("1 dead letter of 110 shown"), "{text}");
        let bare = dead_letters(&json!({"dead_letters": [{"id": 1, "key": "default/user/x"}]}));
        assert!(bare.contains("default/user/x") && bare.ends_with("1 dead letter shown"));
    }

    #[test]
    fn a_status_has_its_state_line_and_counted_timeline() {
        let answer = json!({"userName": "ada@example.com", "key": "default/user/1",
            "status": {"state": "pending", "version": 1, "updated": "now", "last_error": null},
            "timeline": [{"at": "now", "what": "asked", "detail": "POST /Users"},
                         {"at": "now", "what": "attempt", "status": "retrying", "http_status": 503,
                          "detail": "Splashtop answered 503"}]});
        let text = status(&answer);
        assert!(text.contains("pending (version 1, now)"), "{text}");
        assert!(!text.contains("incident"), "{text}");
        let mut with = answer.clone();
        with["incident"] = json!({"id": 4, "state": "open", "cause": "seat_limit_reached",
                                  "what_to_do": "Free a seat"});
        let text = status(&with);
        assert!(
            text.contains("incident  4 (open): seat_limit_reached; Free a seat"),
            "{text}"
        );
        assert!(text.contains("POST /Users"));
        assert!(text.ends_with("2 timeline entries"), "{text}");
    }

    #[test]
    fn a_replay_of_many_counts_what_failed() {
        let answer = json!({"replayed": [{"id": 1, "job_id": "j", "key": "k", "version": 2}],
                            "failed": [{"id": 2, "status": 409, "message": "not open"}]});
        let text = replayed(&answer);
        assert!(
            text.contains("dead letter 2 NOT replayed: 409 not open"),
            "{text}"
        );
        assert!(text.ends_with("1 replayed, 1 failed"));
    }
}
