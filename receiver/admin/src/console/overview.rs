//! The overview: what is wrong first (open incidents by cause with what to do, the keys
//! retrying now, the oldest waiting job), then the flow (outbox, drain rate, the chart in
//! the chosen window), then the partitions, folded away while they are healthy.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;

use super::html::{enc, esc, page, Csrf};
use super::pages::error_page;
use super::{chart, ConsoleState};
use crate::api;
use crate::responses::Stats;

/// Seconds in words: `42 s`, `3 min 5 s`, `2 h 10 min`.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A link to a person's (or a group's) page by name, or the key when no name is known.
pub fn who(kind: &str, name: Option<&str>, key: &str) -> String {
    match (kind, name) {
        ("user", Some(n)) => format!(
            "<a class=\"who\" href=\"/console/users?q={}\">{}</a>",
            enc(n),
            esc(n)
        ),
        (_, Some(n)) => format!("{} {}", esc(kind), esc(n)),
        _ => esc(key),
    }
}

fn wrong(stats: &Stats) -> String {
    let mut body = format!(
        "<h2>What is wrong</h2><p><strong id=\"incidents-open\">{}</strong> open incidents \
         (people and groups waiting for an operator) · <a href=\"/console/incidents\">all incidents</a></p>",
        stats.incidents_open
    );
    if !stats.incidents_by_cause.is_empty() {
        body.push_str(
            "<table id=\"causes\"><tr><th>Cause</th><th>Open</th><th>What to do</th></tr>",
        );
        for c in &stats.incidents_by_cause {
            body.push_str(&format!(
                "<tr><td><a href=\"/console/incidents?cause={}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                enc(&c.cause),
                esc(&c.cause),
                c.count,
                esc(&c.what_to_do)
            ));
        }
        body.push_str("</table>");
    }
    if stats.retrying_now.is_empty() {
        body.push_str("<p id=\"retrying-none\">No job is retrying a transient failure now.</p>");
    } else {
        body.push_str(&format!(
            "<h3>Retrying now ({})</h3><table id=\"retrying\"><tr><th>Who</th><th>Attempt</th>\
             <th>Failed at</th><th>With</th><th>Next attempt</th><th>Worker</th></tr>",
            stats.retrying_now.len()
        ));
        for r in &stats.retrying_now {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                who(&r.kind, r.name.as_deref(), &r.key),
                r.attempt,
                esc(&r.at),
                esc(r.error.as_deref().unwrap_or("")),
                esc(r
                    .next_attempt
                    .as_deref()
                    .unwrap_or("not reported by the worker")),
                super::pages::worker_link(&r.worker)
            ));
        }
        body.push_str("</table>");
    }
    let waiting = stats
        .oldest_waiting_job_age_seconds
        .map_or_else(|| "none".to_string(), age);
    body.push_str(&format!(
        "<p>Oldest job waiting to be applied: <strong id=\"oldest-waiting\">{waiting}</strong>. \
         Outbox: <strong id=\"outbox-pending\">{}</strong> jobs not yet published (oldest {}). \
         Drain rate: <strong id=\"drain-rate\">{:.1}</strong> jobs/min (last 5 min).</p>",
        stats.outbox.pending,
        age(stats.outbox.oldest_pending_age_seconds),
        stats.drain_rate_per_minute
    ));
    body
}

fn partitions(stats: &Stats) -> String {
    let idle = stats.partitions.iter().filter(|p| p.consumers == 0).count();
    let waiting: u64 = stats.partitions.iter().map(|p| u64::from(p.messages)).sum();
    let healthy = stats.broker_error.is_none() && idle == 0;
    let mut body = String::new();
    if let Some(e) = &stats.broker_error {
        body.push_str(&format!("<p class=\"msg err\">RabbitMQ: {}</p>", esc(e)));
    }
    body.push_str(&format!(
        "<details id=\"partitions\"{}><summary>Partitions: {} queues, {waiting} jobs waiting, {}</summary>\
         <table><tr><th>Queue</th><th>Jobs waiting</th><th>Consumers</th></tr>",
        if healthy { "" } else { " open" },
        stats.partitions.len(),
        if idle == 0 {
            "every one consumed".to_string()
        } else {
            format!("<strong>{idle} without a consumer</strong>")
        }
    ));
    for p in stats.partitions.iter().chain(&stats.queues) {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.queue),
            p.messages,
            p.consumers
        ));
    }
    body.push_str("</table></details>");
    if !stats.dead_letters_open.is_empty() {
        body.push_str("<p>Open dead-letter records by reason: ");
        let parts: Vec<String> = stats
            .dead_letters_open
            .iter()
            .map(|(r, n)| {
                format!(
                    "<a href=\"/console/dead-letters?reason={}\">{}</a> {n}",
                    enc(r),
                    esc(r)
                )
            })
            .collect();
        body.push_str(&parts.join(" · "));
        body.push_str("</p>");
    }
    body
}

/// `GET /console[?window=15m|1h|24h]`.
pub async fn overview(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let stats = match api::stats(&state.admin).await {
        Ok(s) => s,
        Err(e) => return error_page("Overview", e, &csrf),
    };
    let w = chart::window(q.get("window").map(String::as_str));
    let mut body = wrong(&stats);
    // The workers and their rate limits: why draining is slow after a burst of 429s.
    match state.admin.workers.workers().await {
        Ok(list) => body.push_str(&super::workers::overview_line(&list)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the workers for the overview");
            body.push_str("<p class=\"msg err\">The workers could not be read.</p>");
        }
    }
    body.push_str(&format!(
        "<h2>Backlog and throughput, last {}</h2><p>",
        w.label
    ));
    for other in chart::WINDOWS {
        if other == w {
            body.push_str(&format!("<strong>{}</strong> ", other.label));
        } else {
            body.push_str(&format!(
                "<a href=\"/console?window={}\">{}</a> ",
                other.key, other.label
            ));
        }
    }
    body.push_str("</p>");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    body.push_str(&chart::render(&state.admin.samples.all(), now, w));
    body.push_str(&partitions(&stats));
    let msg = q.get("msg").map(String::as_str);
    Html(page("Overview", msg, &body, Some(&csrf))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_words_and_names_link_to_their_page() {
        assert_eq!(age(42.4), "42 s");
        assert_eq!(age(185.0), "3 min 5 s");
        assert_eq!(age(7800.0), "2 h 10 min");
        assert!(who("user", Some("a b@x.com"), "k").contains("/console/users?q=a%20b%40x.com"));
        assert_eq!(who("unknown", None, "unknown/j1"), "unknown/j1");
    }
}
