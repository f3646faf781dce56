//! The console's workers page: each worker's id, host, pid, partitions and last
//! heartbeat, live ones first; the worker id an attempt names links here.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use splashsync_protocol::admin::{WorkerInfo, WorkerList};

use super::html::{esc, page, Csrf};
use super::pages::error_page;
use super::ConsoleState;

/// `GET /console/workers`.
pub async fn workers(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
) -> Response {
    match state.admin.workers.workers().await {
        Ok(list) => Html(page("Workers", None, &body(&list), Some(&csrf))).into_response(),
        Err(e) => error_page("Workers", e.into(), &csrf),
    }
}

fn body(list: &WorkerList) -> String {
    if list.workers.is_empty() {
        return "<p id=\"workers-none\">No worker has sent a heartbeat yet: start one, or check that \
                it reaches RabbitMQ (its <code>/readyz</code> says).</p>"
            .into();
    }
    let mut body = format!(
        "<p id=\"workers-summary\"><strong>{}</strong> live of {} listed, holding {} partitions. \
         A worker is <em>quiet</em> when no heartbeat came for three intervals (killed, cut off \
         from RabbitMQ, or hung): its partitions go to the others.</p>\
         <table id=\"workers\"><tr><th>Worker</th><th>State</th><th>Host</th><th>PID</th>\
         <th>Partitions</th><th>Last heartbeat</th><th>Rate limit</th><th>Version</th><th>Started</th></tr>",
        list.live,
        list.total,
        list.partitions_held
    );
    for w in &list.workers {
        body.push_str(&row(w));
    }
    body.push_str("</table>");
    body
}

fn row(w: &WorkerInfo) -> String {
    let age = if w.last_heartbeat_age_seconds >= 0.0 {
        format!(" ({:.0} s ago)", w.last_heartbeat_age_seconds)
    } else {
        String::new()
    };
    let rate = esc(&rate_text(w));
    format!(
        "<tr id=\"worker-{id}\" class=\"{state}\"><td><code>{id}</code></td><td>{state}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}{age}</td><td>{rate}</td><td>{}</td><td>{}</td></tr>",
        esc(&w.host),
        w.pid,
        partitions(&w.partitions),
        esc(&w.last_heartbeat),
        esc(&w.version),
        esc(&w.started_at),
        id = esc(&w.id),
        state = esc(&w.state),
    )
}

/// A worker's rate limit in words: its rate, its share of the team's limit, and why they
/// differ (the overview says it too: why draining is slow after a burst of 429s).
pub fn rate_text(w: &WorkerInfo) -> String {
    let Some(rate) = w.rate_limit_per_minute else {
        return "no limit".into();
    };
    let share = w.rate_limit_share_per_minute.unwrap_or(rate);
    let why = match w.rate_limit_state.as_deref() {
        Some("reduced_after_429") => {
            ": halved after a 429 from Splashtop, climbing back with each success"
        }
        Some("paused_after_429") => ": paused for a 429's Retry-After",
        _ => "",
    };
    format!("{rate:.0}/min of its {share:.0}/min share{why}")
}

/// The overview's line about the workers: how many are live, and the rate limit of any
/// that is not at its full share.
pub fn overview_line(list: &WorkerList) -> String {
    let mut line = format!(
        "<p id=\"workers-line\">Workers: <a href=\"/console/workers\"><strong id=\"workers-live\">{}</strong> live</a> \
         holding {} partitions",
        list.live, list.partitions_held
    );
    let quiet = list.workers.iter().filter(|w| w.state == "quiet").count();
    if quiet > 0 {
        line.push_str(&format!(", <strong>{quiet} gone quiet</strong>"));
    }
    line.push_str(".</p>");
    let slowed: Vec<String> = list
        .workers
        .iter()
        .filter(|w| w.state == "live")
        .filter(|w| matches!(w.rate_limit_state.as_deref(), Some(s) if s.ends_with("after_429")))
        .map(|w| {
            format!(
                "<li><code>{}</code>: {}</li>",
                esc(&w.id),
                esc(&rate_text(w))
            )
        })
        .collect();
    if !slowed.is_empty() {
        line.push_str(&format!(
            "<p>Rate limit below its share (draining is slower until it climbs back):</p>\
             <ul id=\"rate-limit-slowed\">{}</ul>",
            slowed.concat()
        ));
    }
    line
}

/// `0–3, 7, 9` rather than a long list of numbers.
fn partitions(ps: &[u16]) -> String {
    if ps.is_empty() {
        return "none".into();
    }
    let mut runs: Vec<(u16, u16)> = Vec::new();
    for &p in ps {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(p) => *end = p,
            _ => runs.push((p, p)),
        }
    }
    let text: Vec<String> = runs
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    format!("{} ({})", text.join(", "), ps.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_read_as_runs_with_their_count() {
        assert_eq!(partitions(&[]), "none");
        assert_eq!(partitions(&[0, 1, 2, 3, 7, 9, 10]), "0–3, 7, 9–10 (7)");
        assert_eq!(partitions(&[5]), "5 (1)");
    }

    #[test]
    fn a_worker_row_is_escaped_and_anchored_by_its_id() {
        let w = WorkerInfo {
            id: "w<1>".into(),
            tenant: "default".into(),
            state: "quiet".into(),
            host: "h&".into(),
            pid: 7,
            version: "0.1.0".into(),
            started_at: "s".into(),
            last_heartbeat: "t".into(),
            last_heartbeat_age_seconds: 12.4,
            partitions: vec![1, 2],
            rate_limit_per_minute: Some(100.0),
            rate_limit_share_per_minute: Some(200.0),
            rate_limit_state: Some("reduced_after_429".into()),
        };
        let html = row(&w);
        assert!(html.contains("id=\"worker-w&lt;1&gt;\""), "{html}");
        assert!(html.contains("h&amp;"), "{html}");
        assert!(html.contains("(12 s ago)"), "{html}");
        assert!(
            html.contains("100/min of its 200/min share: halved after a 429"),
            "{html}"
        );
        let list = WorkerList {
            total: 1,
            live: 1,
            partitions_held: 2,
            workers: vec![WorkerInfo {
                state: "live".into(),
                ..w
            }],
        };
        let line = overview_line(&list);
        assert!(line.contains("id=\"rate-limit-slowed\""), "{line}");
        assert!(line.contains(">1</strong> live"), "{line}");
    }
}
