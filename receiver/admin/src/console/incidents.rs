//! The console's incident pages: the list (filters by cause, person, group, state and age;
//! paging with the total), one incident (who, cause, what to do, Splashtop's answer, a
//! transient error beside the cause, its dead letters and timeline, Replay and Discard),
//! (the replay-all / discard-all forms, which first say how many and ask to confirm, are
//! in [`super::bulk`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use splashsync_directory::audit::Incident;
use splashsync_protocol::admin::{IncidentDiscardBody, IncidentQuery};

use super::html::{button, enc, esc, page, parse_form, Csrf};
use super::overview::who;
use super::pages::{error_page, timeline_table};
use super::ConsoleState;
use crate::incidents::{discard_incident, replay_incident};
use crate::params::Validate;
use crate::AdminError;

const FIELDS: [&str; 6] = [
    "cause",
    "person",
    "group",
    "state",
    "older_than",
    "newer_than",
];
const PAGE: u32 = 50;

pub(crate) fn query_of(q: &HashMap<String, String>) -> IncidentQuery {
    let f = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    IncidentQuery {
        cause: f("cause"),
        person: f("person"),
        group: f("group"),
        state: f("state"),
        older_than: f("older_than"),
        newer_than: f("newer_than"),
        ..IncidentQuery::default()
    }
}

/// The filter as hidden fields (for the bulk forms) and as a query string (for paging).
pub(crate) fn carried(q: &HashMap<String, String>) -> (String, String) {
    let mut hidden = String::new();
    let mut qs = Vec::new();
    for k in FIELDS {
        if let Some(v) = q.get(k).filter(|v| !v.trim().is_empty()) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                esc(v)
            ));
            qs.push(format!("{k}={}", enc(v)));
        }
    }
    (hidden, qs.join("&"))
}

fn filter_form(q: &HashMap<String, String>) -> String {
    let v = |k: &str| esc(q.get(k).map(String::as_str).unwrap_or(""));
    let state = q.get("state").map(String::as_str).unwrap_or("open");
    let options: String = [
        "open",
        "replaying",
        "active",
        "resolved",
        "discarded",
        "all",
    ]
    .iter()
    .map(|s| {
        let sel = if *s == state { " selected" } else { "" };
        format!("<option{sel}>{s}</option>")
    })
    .collect();
    format!(
        "<form method=\"get\" action=\"/console/incidents\" id=\"filter\">Cause <input name=\"cause\" value=\"{}\" placeholder=\"seat_limit_reached\"> \
         Person <input name=\"person\" id=\"person\" value=\"{}\" placeholder=\"userName or email prefix\"> \
         Group <input name=\"group\" value=\"{}\" placeholder=\"displayName prefix\"> \
         State <select name=\"state\">{options}</select> \
         First seen over <input name=\"older_than\" size=\"5\" value=\"{}\" placeholder=\"2h\"> ago \
         <button id=\"apply-filter\">Filter</button></form>",
        v("cause"),
        v("person"),
        v("group"),
        v("older_than"),
    )
}

fn row(i: &Incident) -> String {
    let email = i
        .email
        .as_deref()
        .filter(|e| Some(*e) != i.name.as_deref())
        .map(|e| format!("<br><span class=\"email\">{}</span>", esc(e)))
        .unwrap_or_default();
    let retrying = i
        .retrying
        .as_deref()
        .map(|r| format!("<br><em>retrying now: {}</em>", esc(r)))
        .unwrap_or_default();
    format!(
        "<tr id=\"incident-{id}\"><td><a href=\"/console/incidents/{id}\">{id}</a></td><td>{who}{email}</td>\
         <td class=\"cause\">{cause}{retrying}</td><td>{todo}</td><td>{state}</td><td>{first}</td><td>{last}</td>\
         <td>{att}</td><td>{dls}</td></tr>",
        id = i.id,
        who = who(&i.kind, i.name.as_deref(), &i.key),
        cause = esc(&i.cause),
        todo = esc(&i.what_to_do),
        state = esc(&i.state),
        first = esc(&i.first_seen),
        last = esc(&i.last_seen),
        att = i.attempts,
        dls = i.dead_letters,
    )
}

/// `GET /console/incidents`.
pub async fn list(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let offset: u32 = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let query = IncidentQuery {
        limit: Some(PAGE),
        offset: Some(offset),
        ..query_of(&q)
    };
    let page_of = match query.validate() {
        Ok(f) => state
            .admin
            .audit
            .incidents(f)
            .await
            .map_err(AdminError::from),
        Err(e) => Err(e),
    };
    let found = match page_of {
        Ok(p) => p,
        Err(e) => return error_page("Incidents", e, &csrf),
    };
    let (hidden, qs) = carried(&q);
    let mut body = filter_form(&q);
    let shown_to = offset as usize + found.incidents.len();
    body.push_str(&format!(
        "<p><strong id=\"incident-total\">{}</strong> incidents match; showing {}–{}.</p>",
        found.total,
        if found.incidents.is_empty() {
            0
        } else {
            offset + 1
        },
        shown_to
    ));
    if found.incidents.is_empty() {
        body.push_str("<p id=\"no-incidents\">No incident matches.</p>");
    } else {
        body.push_str("<table id=\"incidents\"><tr><th>Id</th><th>Who</th><th>Cause</th><th>What to do</th><th>State</th>\
                       <th>First seen</th><th>Last seen</th><th>Attempts</th><th>Dead letters</th></tr>");
        for i in &found.incidents {
            body.push_str(&row(i));
        }
        body.push_str("</table>");
    }
    let amp = if qs.is_empty() { "" } else { "&" };
    if offset > 0 {
        let prev = offset.saturating_sub(PAGE);
        body.push_str(&format!(
            "<a id=\"prev\" href=\"/console/incidents?{qs}{amp}offset={prev}\">← previous</a> "
        ));
    }
    if (shown_to as i64) < found.total {
        body.push_str(&format!(
            "<a id=\"next\" href=\"/console/incidents?{qs}{amp}offset={shown_to}\">next →</a>"
        ));
    }
    let open = q.get("state").is_none_or(|s| s.is_empty() || s == "open");
    if open && found.total > 0 {
        body.push_str(&format!(
            "<p><form class=\"inline\" method=\"post\" action=\"/console/incidents/replay\">{t}{hidden}\
             <button id=\"replay-all\">Replay all matching…</button></form> \
             <form class=\"inline\" method=\"post\" action=\"/console/incidents/discard\">{t}{hidden}\
             <input name=\"note\" placeholder=\"why discard them all\" required id=\"discard-all-note\"> \
             <button id=\"discard-all\">Discard all matching…</button></form></p>",
            t = csrf.field()
        ));
    }
    let msg = q.get("msg").map(String::as_str);
    Html(page("Incidents", msg, &body, Some(&csrf))).into_response()
}

/// `GET /console/incidents/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error_page(
            "Incident",
            AdminError::bad_request("the id must be an integer"),
            &csrf,
        );
    };
    let detail = match state.admin.audit.incident(id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            let e = AdminError::not_found(format!("incident {id} not found"));
            return error_page("Incident", e, &csrf);
        }
        Err(e) => return error_page("Incident", e.into(), &csrf),
    };
    let i = &detail.incident;
    let mut body = format!(
        "<p>Who: <strong id=\"who\">{}</strong>{} ({})</p>\
         <p>State: <strong id=\"incident-state\" class=\"state-{st}\">{st}</strong>{closed}</p>\
         <p>Cause: <strong id=\"cause\">{}</strong> ({}{}) · {} attempts over {} failed jobs · first seen {} · last seen {}</p>\
         <p class=\"msg\" id=\"what-to-do\">What to do: {}</p><p>Splashtop said: <span id=\"message\">{}</span></p>",
        who(&i.kind, i.name.as_deref(), &i.key),
        i.email
            .as_deref()
            .map(|e| format!(" · <span id=\"email\">{}</span>", esc(e)))
            .unwrap_or_default(),
        esc(&i.key),
        esc(&i.cause),
        esc(&i.reason),
        i.http_status.map(|s| format!(", HTTP {s}")).unwrap_or_default(),
        i.attempts,
        i.dead_letters,
        esc(&i.first_seen),
        esc(&i.last_seen),
        esc(&i.what_to_do),
        esc(&i.message),
        st = esc(&i.state),
        closed = match (&i.closed_at, &i.resolved_by_job, &i.note) {
            (Some(at), Some(job), _) => format!(" at {} by job {}", esc(at), esc(job)),
            (Some(at), None, Some(note)) => format!(
                " at {} by {}: {}",
                esc(at),
                esc(i.discarded_by.as_deref().unwrap_or("")),
                esc(note)
            ),
            _ => String::new(),
        },
    );
    if let Some(r) = &i.retrying {
        body.push_str(&format!(
            "<p class=\"msg err\" id=\"retrying\">Also retrying a transient failure now: {}</p>",
            esc(r)
        ));
    }
    if let Some(job) = &i.replay_job_id {
        body.push_str(&format!(
            "<p id=\"replay-result\">Replayed {} as job {} — {}</p>",
            esc(i.replayed_at.as_deref().unwrap_or("")),
            esc(job),
            match (i.state.as_str(), &i.resolved_by_job) {
                ("resolved", Some(by)) if by == job => "applied: resolved".to_string(),
                ("replaying", _) =>
                    "waiting for the worker (this page shows the result when it comes)".to_string(),
                _ => "see the timeline below".to_string(),
            }
        ));
    }
    if i.state == "open" || i.state == "replaying" {
        body.push_str(&button(
            &format!("/console/incidents/{id}/replay"),
            "Replay with the current state",
            "replay",
            &csrf,
        ));
        body.push_str(&format!(
            " <form class=\"inline\" method=\"post\" action=\"/console/incidents/{id}/discard\">{}\
             <input name=\"note\" id=\"note\" placeholder=\"why discard\" required> \
             <input name=\"by\" id=\"by\" placeholder=\"your name\"> <button id=\"discard\">Discard</button></form>",
            csrf.field()
        ));
    }
    body.push_str("<h2>Dead-letter records</h2><table id=\"dead-letters\"><tr><th>Id</th><th>Received</th><th>Cause</th><th>HTTP</th><th>Attempts</th><th>State</th><th>Splashtop said</th></tr>");
    for d in &detail.dead_letters {
        body.push_str(&format!(
            "<tr><td><a href=\"/console/dead-letters/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&d.received_at),
            esc(d.error_code.as_deref().unwrap_or(&d.reason)),
            d.http_status.map(|s| s.to_string()).unwrap_or_default(),
            d.attempts,
            esc(&d.state),
            esc(&d.error_body),
            id = d.id,
        ));
    }
    body.push_str("</table><h2>Timeline</h2>");
    body.push_str(&timeline_table(&detail.timeline));
    let title = format!("Incident {id}: {}", i.name.as_deref().unwrap_or(&i.key));
    Html(page(
        &title,
        q.get("msg").map(String::as_str),
        &body,
        Some(&csrf),
    ))
    .into_response()
}

pub(crate) fn back(to: &str, result: Result<String, AdminError>) -> Response {
    let msg = result.unwrap_or_else(|e| format!("error: {}", e.message));
    let sep = if to.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{to}{sep}msg={}", enc(&msg))).into_response()
}

/// `POST /console/incidents/{id}/replay`: back to the incident, which shows the result.
pub async fn replay_one(State(state): State<ConsoleState>, Path(id): Path<i64>) -> Response {
    let to = format!("/console/incidents/{id}");
    let result = replay_incident(&state.admin, id, "console").await.map(|r| {
        format!(
            "incident {id} replayed as job {} ({} dead-letter records with it); this page shows its result",
            r.job_id,
            r.dead_letters.len()
        )
    });
    back(&to, result)
}

/// `POST /console/incidents/{id}/discard` with a note (and who).
pub async fn discard_one(
    State(state): State<ConsoleState>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Response {
    let mut form = parse_form(&body);
    let body = IncidentDiscardBody {
        note: form.remove("note").unwrap_or_default(),
        by: form.remove("by"),
    };
    let result = discard_incident(&state.admin, id, body, "console")
        .await
        .map(|d| format!("incident {id} discarded by {}", d.by));
    back(&format!("/console/incidents/{id}"), result)
}
