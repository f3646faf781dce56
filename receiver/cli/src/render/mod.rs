//! Admin API answers as tables for people. Every renderer reads the JSON answer (the same
//! one `--output json` prints), so a field the API adds later never breaks a table, and a
//! field it lacks prints as `-`.
//!
//! # Layout
//! - this module: the shared cell and table helpers, and [`View`], which picks a renderer.
//! - [`records`]: dead letters, a user's or group's status and timeline, actions' results.
//! - [`queues`]: queue statistics, summarised.
//! - [`incidents`]: incidents, one per person or group.
//! - [`workers`]: the workers, from their heartbeats.

mod incidents;
mod queues;
mod records;
mod workers;

use comfy_table::{presets, Cell, CellAlignment, Table};
use serde_json::Value;

/// Which answer is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// `GET /dead-letters`.
    DeadLetters,
    /// `GET /dead-letters/{id}`.
    DeadLetter,
    /// A user's or a group's status and timeline.
    Status,
    /// `GET /queues`; `all` lists every partition, not only those with messages.
    Queues {
        /// Every partition, idle ones included.
        all: bool,
    },
    /// A replay of one or many dead letters.
    Replayed,
    /// A discard.
    Discarded,
    /// `GET /incidents`.
    Incidents,
    /// `GET /incidents/{id}`.
    Incident,
    /// What replaying or discarding incidents did.
    IncidentsActed,
    /// `GET /workers`.
    Workers,
}

/// `answer` as text for a terminal.
pub(crate) fn render(view: View, answer: &Value) -> String {
    match view {
        View::DeadLetters => records::dead_letters(answer),
        View::DeadLetter => records::dead_letter(answer),
        View::Status => records::status(answer),
        View::Queues { all } => queues::stats(answer, all),
        View::Replayed => records::replayed(answer),
        View::Discarded => records::discarded(answer),
        View::Incidents => incidents::list(answer),
        View::Incident => incidents::show(answer),
        View::IncidentsActed => incidents::acted(answer),
        View::Workers => workers::list(answer),
    }
}

/// A borderless table (greppable, like `kubectl get`) with upper-case headers.
fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(headers.iter().map(|h| h.to_uppercase()));
    t
}

/// Right-aligns the columns at `indexes` (numbers).
fn numeric(t: &mut Table, indexes: &[usize]) {
    for &i in indexes {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
}

/// A field as cell text: strings as they are, numbers and booleans printed, absent or
/// null as `-`.
fn text(v: &Value, field: &str) -> String {
    cell_text(v.get(field))
}

fn cell_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) if s.is_empty() => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// At most `max` characters of `s`, with `…` when cut (a table row stays one line; the
/// whole text is in `--output json`).
fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One decimal at most, none from 100 on or when it is 0: `90.9090…` is `90.9`.
fn round(x: f64) -> String {
    if x.abs() >= 100.0 {
        return format!("{x:.0}");
    }
    let one = format!("{x:.1}");
    one.strip_suffix(".0").map_or(one.clone(), str::to_string)
}

/// A `key value` table of `fields` of `v` that are present.
fn fields(v: &Value, fields: &[(&str, &str)]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    for (label, field) in fields {
        if let Some(value) = v.get(*field).filter(|x| !x.is_null()) {
            t.add_row(vec![
                Cell::new(label),
                Cell::new(clip(&cell_text(Some(value)), 200)),
            ]);
        }
    }
    t
}

/// `n thing`, `n things`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_rounded_and_long_text_is_clipped() {
        assert_eq!(round(90.909_090_909_090_9), "90.9");
        assert_eq!(round(30.0), "30");
        assert_eq!(round(123.456), "123");
        assert_eq!(round(42.04), "42");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("a\nb", 10), "a b");
        assert_eq!(text(&serde_json::json!({"a": null}), "a"), "-");
        assert_eq!(text(&serde_json::json!({"a": 5}), "a"), "5");
        assert_eq!(plural(1, "row"), "1 row");
        assert_eq!(plural(2, "row"), "2 rows");
    }
}
