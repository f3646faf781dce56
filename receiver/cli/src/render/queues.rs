//! `queue stats`: partitions with messages (every partition with `--all`), a total row
//! (saying how many partitions no worker consumes),
//! the other queues, then one line each for the outbox, the open dead letters and the
//! drain rate, rounded.

use serde_json::Value;

use super::{clip, numeric, plural, round, table, text};

fn count(v: &Value, field: &str) -> u64 {
    v.get(field).and_then(Value::as_u64).unwrap_or(0)
}

/// What is wrong, first: open incidents by cause with what to do, keys retrying now, the
/// oldest waiting job (when the API reports them).
fn wrong(answer: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(open) = answer.get("incidents_open").and_then(Value::as_u64) {
        out.push(format!("open incidents: {open}"));
        let empty = Vec::new();
        let causes = answer
            .get("incidents_by_cause")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let mut t = table(&["cause", "open", "what to do"]);
        for c in causes {
            t.add_row(vec![
                text(c, "cause"),
                text(c, "count"),
                clip(&text(c, "what_to_do"), 90),
            ]);
        }
        numeric(&mut t, &[1]);
        if !causes.is_empty() {
            out.push(t.to_string());
        }
    }
    if let Some(retrying) = answer.get("retrying_now").and_then(Value::as_array) {
        let first: Vec<String> = retrying
            .iter()
            .take(5)
            .map(|r| {
                let who = r
                    .get("name")
                    .and_then(Value::as_str)
                    .map_or_else(|| text(r, "key"), str::to_string);
                format!(
                    "{who} (attempt {}: {})",
                    text(r, "attempt"),
                    clip(&text(r, "error"), 40)
                )
            })
            .collect();
        let more = retrying.len().saturating_sub(first.len());
        let more = if more > 0 {
            format!(", {more} more")
        } else {
            String::new()
        };
        out.push(format!(
            "retrying now: {}{}{more}",
            retrying.len(),
            if first.is_empty() {
                String::new()
            } else {
                format!(": {}", first.join(", "))
            }
        ));
    }
    if let Some(age) = answer
        .get("oldest_waiting_job_age_seconds")
        .and_then(Value::as_f64)
    {
        out.push(format!("oldest waiting job: {} s", round(age)));
    }
    out
}

/// The statistics answer as text.
pub(super) fn stats(answer: &Value, all: bool) -> String {
    let empty = Vec::new();
    let partitions = answer
        .get("partitions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut t = table(&["partition", "queue", "ready", "consumers"]);
    let (mut ready, mut consumers, mut idle, mut unconsumed) = (0, 0, 0, 0);
    for p in partitions {
        let messages = count(p, "messages");
        ready += messages;
        consumers += count(p, "consumers");
        if count(p, "consumers") == 0 {
            unconsumed += 1;
        }
        if messages == 0 {
            idle += 1;
            if !all {
                continue;
            }
        }
        t.add_row(vec![
            text(p, "partition"),
            text(p, "queue"),
            messages.to_string(),
            text(p, "consumers"),
        ]);
    }
    let mut folded = String::new();
    if !all && idle > 0 {
        folded.push_str(&format!(", {idle} empty not shown (--all)"));
    }
    if unconsumed > 0 {
        folded.push_str(&format!(", {unconsumed} without a consumer"));
    }
    t.add_row(vec![
        "total".to_string(),
        format!("{}{folded}", plural(partitions.len() as u64, "partition")),
        ready.to_string(),
        consumers.to_string(),
    ]);
    for q in answer
        .get("queues")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        t.add_row(vec![
            "-".to_string(),
            text(q, "queue"),
            text(q, "messages"),
            text(q, "consumers"),
        ]);
    }
    numeric(&mut t, &[2, 3]);
    let mut out = wrong(answer);
    out.push(t.to_string());
    if let Some(e) = answer.get("broker_error").and_then(Value::as_str) {
        out.push(format!("broker: {e} (queue depths unknown)"));
    }
    if let Some(o) = answer.get("outbox").filter(|o| o.is_object()) {
        let age = o
            .get("oldest_pending_age_seconds")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        out.push(format!(
            "outbox: {} pending (oldest {} s), {} published",
            count(o, "pending"),
            round(age),
            count(o, "sent"),
        ));
    }
    if let Some(open) = answer.get("dead_letters_open").and_then(Value::as_object) {
        let total: u64 = open.values().filter_map(Value::as_u64).sum();
        let by: Vec<String> = open
            .iter()
            .map(|(reason, n)| format!("{reason} {}", n.as_u64().unwrap_or(0)))
            .collect();
        let detail = if by.is_empty() {
            String::new()
        } else {
            format!(" ({})", by.join(", "))
        };
        out.push(format!("dead letters open: {total}{detail}"));
    }
    if let Some(rate) = answer.get("drain_rate_per_minute").and_then(Value::as_f64) {
        out.push(format!(
            "drain rate: {} jobs/min (last 5 minutes)",
            round(rate)
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer() -> Value {
        let partitions: Vec<Value> = (0..32)
            .map(|p| {
                json!({"queue": format!("x.jobs.p{p:03}"), "partition": p,
                       "messages": if p == 3 { 12 } else { 0 },
                       "consumers": if p == 31 { 0 } else { 1 }})
            })
            .collect();
        json!({
            "partitions": partitions,
            "queues": [{"queue": "x.dead-letters", "messages": 0, "consumers": 1}],
            "broker_error": null,
            "outbox": {"pending": 2, "oldest_pending_age_seconds": 1.26, "sent": 40},
            "dead_letters_open": {"permanent": 3, "retry_budget_exhausted": 2},
            "drain_rate_per_minute": 90.909_090_909_090_9,
        })
    }

    #[test]
    fn idle_partitions_fold_into_the_total_row_and_rates_are_rounded() {
        let text = stats(&answer(), false);
        assert_eq!(text.lines().filter(|l| l.contains(".jobs.p")).count(), 1);
        let total = text.lines().find(|l| l.contains("total")).unwrap();
        assert!(
            total.contains("32 partitions, 31 empty not shown (--all), 1 without a consumer"),
            "{text}"
        );
        assert!(
            total.contains(" 12 ") && total.trim_end().ends_with("31"),
            "{text}"
        );
        assert!(text.contains("drain rate: 90.9 jobs/min"), "{text}");
        assert!(text.contains("dead letters open: 5 (permanent 3, retry_budget_exhausted 2)"));
        assert!(
            text.contains("outbox: 2 pending (oldest 1.3 s), 40 published"),
            "{text}"
        );
        assert!(text.lines().count() < 12, "{text}");
    }

    #[test]
    fn what_is_wrong_comes_first() {
        let mut a = answer();
        a["incidents_open"] = json!(3);
        a["incidents_by_cause"] = json!([{"cause": "seat_limit_reached", "count": 3,
                                          "what_to_do": "Free a seat"}]);
        a["retrying_now"] = json!([{"key": "k", "name": "bob@example.com", "attempt": 2,
                                    "error": "HTTP 429"}]);
        a["oldest_waiting_job_age_seconds"] = json!(42.04);
        let text = stats(&a, false);
        assert!(text.starts_with("open incidents: 3\n"), "{text}");
        let cause = text
            .lines()
            .find(|l| l.contains("seat_limit_reached"))
            .unwrap();
        assert!(
            cause.contains('3') && cause.contains("Free a seat"),
            "{text}"
        );
        assert!(text.contains("retrying now: 1: bob@example.com (attempt 2: HTTP 429)"));
        assert!(text.contains("oldest waiting job: 42 s"), "{text}");
        assert!(
            text.find("open incidents").unwrap() < text.find("PARTITION").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn all_lists_every_partition() {
        let text = stats(&answer(), true);
        assert_eq!(text.lines().filter(|l| l.contains(".jobs.p")).count(), 32);
        assert!(!text.contains("not shown"));
    }
}
