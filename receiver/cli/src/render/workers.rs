//! `GET /workers` as a table: each worker, live ones first, with its partitions and the
//! age of its last heartbeat.

use serde_json::Value;

use super::{numeric, plural, round, table, text};

/// `GET /workers`.
pub(super) fn list(answer: &Value) -> String {
    let workers = answer
        .get("workers")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut t = table(&[
        "id",
        "state",
        "host",
        "pid",
        "partitions",
        "last heartbeat",
        "rate/min",
        "version",
    ]);
    for w in workers {
        let age = w
            .get("last_heartbeat_age_seconds")
            .and_then(Value::as_f64)
            .filter(|a| *a >= 0.0)
            .map_or_else(|| "-".to_string(), |a| format!("{} s ago", round(a)));
        let rate = w
            .get("rate_limit_per_minute")
            .and_then(Value::as_f64)
            .map_or_else(|| "off".to_string(), round);
        t.add_row(vec![
            text(w, "id"),
            text(w, "state"),
            text(w, "host"),
            text(w, "pid"),
            partitions(w),
            age,
            rate,
            text(w, "version"),
        ]);
    }
    numeric(&mut t, &[3, 6]);
    let live = answer.get("live").and_then(Value::as_u64).unwrap_or(0);
    let held = answer
        .get("partitions_held")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    format!(
        "{t}\n{} shown; {live} live, holding {}",
        plural(workers.len() as u64, "worker"),
        plural(held, "partition")
    )
}

/// The partitions as a comma-separated list, `-` for none.
fn partitions(w: &Value) -> String {
    let ps: Vec<String> = w
        .get("partitions")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().map(Value::to_string).collect())
        .unwrap_or_default();
    if ps.is_empty() {
        "-".into()
    } else {
        ps.join(",")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn workers_print_one_row_each_with_a_summary() {
        let answer = json!({"total": 2, "live": 1, "partitions_held": 3, "workers": [
            {"id": "a1", "state": "live", "host": "node-1", "pid": 42, "version": "0.1.0",
             "partitions": [0, 1, 2], "last_heartbeat_age_seconds": 1.234,
             "rate_limit_per_minute": 66.666},
            {"id": "b2", "state": "stopped", "host": "node-2", "pid": 7, "version": "0.1.0",
             "partitions": [], "last_heartbeat_age_seconds": 90.0,
             "rate_limit_per_minute": null}
        ]});
        let out = list(&answer);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].contains("LAST HEARTBEAT"), "{out}");
        assert!(
            lines[1].contains("a1") && lines[1].contains("0,1,2"),
            "{out}"
        );
        assert!(
            lines[1].contains("1.2 s ago") && lines[1].contains("66.7"),
            "{out}"
        );
        assert!(
            lines[2].contains("stopped") && lines[2].contains("off"),
            "{out}"
        );
        assert_eq!(
            lines.last().copied(),
            Some("2 workers shown; 1 live, holding 3 partitions")
        );
    }
}
