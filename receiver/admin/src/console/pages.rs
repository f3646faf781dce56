//! The console's pages. Every value shown is escaped; every action is a POST form with
//! the session's CSRF token.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use splashsync_protocol::JobKey;

use super::html::{button, enc, esc, page, Csrf};
use super::ConsoleState;
use splashsync_directory::audit::{DeadLetter, TimelineEntry};

use crate::params::{FilterParams, Validate};
use crate::{api, AdminError};

type Params = Query<HashMap<String, String>>;

/// A worker id as a link to its row on the workers page (nothing for none).
pub(crate) fn worker_link(id: &str) -> String {
    if id.is_empty() {
        return String::new();
    }
    format!(
        "<a class=\"worker\" href=\"{}\"><code>{}</code></a>",
        esc(&format!("/console/workers#worker-{}", enc(id))),
        esc(id)
    )
}

pub(crate) fn error_page(title: &str, e: AdminError, csrf: &Csrf) -> Response {
    let msg = format!("error: {}", e.message);
    (e.status, Html(page(title, Some(&msg), "", Some(csrf)))).into_response()
}

fn filter_form(q: &HashMap<String, String>, csrf: &Csrf) -> String {
    let v = |k: &str| esc(q.get(k).map(String::as_str).unwrap_or(""));
    format!(
        "<form method=\"get\" action=\"/console/dead-letters\">Reason <input name=\"reason\" value=\"{}\"> \
         Tenant <input name=\"tenant\" value=\"{}\"> Older than <input name=\"older_than\" size=\"5\" value=\"{}\" placeholder=\"2h\"> \
         <button>Filter</button></form>\
         <form method=\"post\" action=\"/console/dead-letters/replay\">{3}\
         <input type=\"hidden\" name=\"reason\" value=\"{0}\"><input type=\"hidden\" name=\"tenant\" value=\"{1}\">\
         <input type=\"hidden\" name=\"older_than\" value=\"{2}\">\
         <button id=\"replay-matching\">Replay all matching</button></form>",
        v("reason"),
        v("tenant"),
        v("older_than"),
        csrf.field()
    )
}

fn dead_letter_row(d: &DeadLetter, csrf: &Csrf) -> String {
    let parsed = JobKey::parse(&d.key);
    let user = parsed.as_ref().map_or("", JobKey::id);
    format!(
        "<tr id=\"dl-{id}\"><td><a href=\"/console/dead-letters/{id}\">{id}</a></td><td>{received}</td><td>{reason}</td>\
         <td>{http}</td><td>{code}</td><td>{key}</td><td>{origin}</td><td>{body}</td><td>{replay} \
         <form class=\"inline\" method=\"post\" action=\"/console/dead-letters/{id}/discard\">{token}\
         <input name=\"note\" placeholder=\"why discard\" required id=\"note-{id}\"><button id=\"discard-{id}\">Discard</button></form></td></tr>",
        id = d.id,
        received = esc(&d.received_at),
        reason = esc(&d.reason),
        http = d.http_status.map(|s| s.to_string()).unwrap_or_default(),
        code = esc(d.error_code.as_deref().unwrap_or("")),
        key = esc(&format!("{} {}", d.kind, user)),
        origin = esc(d.origin.as_deref().unwrap_or("")),
        body = esc(&d.error_body),
        replay = button(&format!("/console/dead-letters/{}/replay", d.id), "Replay", &format!("replay-{}", d.id), csrf),
        token = csrf.field(),
    )
}

/// `GET /console/dead-letters`: open dead letters matching the filter, with actions.
pub async fn dead_letters(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Query(q): Params,
) -> Response {
    let field = |k: &str| q.get(k).cloned().filter(|v| !v.is_empty());
    let params = FilterParams {
        reason: field("reason"),
        tenant: field("tenant"),
        older_than: field("older_than"),
        ..FilterParams::default()
    };
    let rows = match params.validate() {
        Ok(f) => state
            .admin
            .audit
            .dead_letters(f)
            .await
            .map_err(AdminError::from),
        Err(e) => Err(e),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return error_page("Dead letters", e, &csrf),
    };
    let mut body = filter_form(&q, &csrf);
    if rows.is_empty() {
        body.push_str("<p id=\"no-dead-letters\">No open dead letters.</p>");
    } else {
        body.push_str("<table id=\"dead-letters\"><tr><th>Id</th><th>Received</th><th>Reason</th><th>HTTP</th><th>Code</th>\
                       <th>Key</th><th>Asked by</th><th>Splashtop said</th><th>Actions</th></tr>");
        for d in &rows {
            body.push_str(&dead_letter_row(d, &csrf));
        }
        body.push_str("</table>");
    }
    Html(page(
        "Dead letters",
        q.get("msg").map(String::as_str),
        &body,
        Some(&csrf),
    ))
    .into_response()
}

/// `GET /console/dead-letters/{id}`: the job, every attempt, Splashtop's answers.
pub async fn dead_letter(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        let e = AdminError::bad_request("the id must be an integer");
        return error_page("Dead letter", e, &csrf);
    };
    let audit = &state.admin.audit;
    let dl = match audit.dead_letter(id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            let e = AdminError::not_found(format!("dead letter {id} not found"));
            return error_page("Dead letter", e, &csrf);
        }
        Err(e) => return error_page("Dead letter", e.into(), &csrf),
    };
    let attempts = audit.attempts(dl.job_id.clone()).await.unwrap_or_default();
    let mut body = format!(
        "<p>State: <strong>{}</strong>{}</p><p>Reason: {} · HTTP {} · {} · {} attempts</p><pre>{}</pre>",
        esc(&dl.state),
        dl.note.as_deref().map(|n| format!(" — note: {}", esc(n))).unwrap_or_default(),
        esc(&dl.reason),
        dl.http_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        esc(dl.error_code.as_deref().unwrap_or("")),
        dl.attempts,
        esc(&dl.error_body)
    );
    if dl.state == "open" {
        body.push_str(&button(
            &format!("/console/dead-letters/{id}/replay"),
            "Replay with current state",
            "replay",
            &csrf,
        ));
    }
    body.push_str("<h2>Attempts</h2><table><tr><th>#</th><th>At</th><th>Status</th><th>HTTP</th><th>Detail</th><th>Worker</th></tr>");
    for a in &attempts {
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.attempt,
            esc(&a.at),
            esc(&a.status),
            a.http_status.map(|s| s.to_string()).unwrap_or_default(),
            esc(&a.detail),
            worker_link(&a.worker)
        ));
    }
    body.push_str("</table><h2>Job</h2>");
    let job = dl
        .job
        .as_ref()
        .map(|j| serde_json::to_string_pretty(j).unwrap_or_default())
        .unwrap_or_default();
    body.push_str(&format!("<pre>{}</pre>", esc(&job)));
    Html(page(&format!("Dead letter {id}"), None, &body, Some(&csrf))).into_response()
}

pub(crate) fn timeline_table(entries: &[TimelineEntry]) -> String {
    let mut out = String::from("<table id=\"timeline\"><tr><th>At</th><th>What</th><th>Status</th><th>HTTP</th><th>Detail</th><th>Job</th></tr>");
    for e in entries {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.at),
            esc(&e.what),
            esc(e.status.as_deref().unwrap_or("")),
            e.http_status.map(|s| s.to_string()).unwrap_or_default(),
            esc(&e.detail),
            esc(&e.job_id)
        ));
    }
    out.push_str("</table>");
    out
}

/// `GET /console/users?q=<userName or email prefix>`: the matching users; for one (or
/// an exact userName), its state, its open incident (cause and what to do, beside any
/// transient error being retried) and its timeline.
pub async fn users(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    Query(q): Params,
) -> Response {
    let name = q.get("q").map(|s| s.trim().to_string()).unwrap_or_default();
    let mut body = format!(
        "<form method=\"get\" action=\"/console/users\">userName or email (or their beginning) \
         <input name=\"q\" id=\"q\" value=\"{}\"> <button id=\"search\">Show</button></form>",
        esc(&name)
    );
    if name.is_empty() {
        return Html(page("Users", None, &body, Some(&csrf))).into_response();
    }
    let audit = &state.admin.audit;
    let exact = match audit.user_id_by_name(name.clone()).await {
        Ok(id) => id.map(|id| (id, name.clone())),
        Err(e) => return error_page("Users", e.into(), &csrf),
    };
    let (id, user_name) = match exact {
        Some(found) => found,
        None => {
            let found = match audit.find_users(name.clone(), 50).await {
                Ok(f) => f,
                Err(e) => return error_page("Users", e.into(), &csrf),
            };
            match found.as_slice() {
                [] => {
                    body.push_str(&format!(
                        "<p id=\"no-user\">No user's userName or email starts with {}.</p>",
                        esc(&name)
                    ));
                    return Html(page("Users", None, &body, Some(&csrf))).into_response();
                }
                [one] => (one.id.clone(), one.user_name.clone()),
                many => {
                    body.push_str("<table id=\"matches\"><tr><th>userName</th><th>Email</th></tr>");
                    for u in many {
                        body.push_str(&format!(
                            "<tr><td><a href=\"/console/users?q={}\">{}</a></td><td>{}</td></tr>",
                            enc(&u.user_name),
                            esc(&u.user_name),
                            esc(u.email.as_deref().unwrap_or(""))
                        ));
                    }
                    body.push_str("</table>");
                    return Html(page("Users", None, &body, Some(&csrf))).into_response();
                }
            }
        }
    };
    let key = JobKey::user(&state.admin.tenant, &id).to_string();
    let status = audit.status(key.clone()).await.ok().flatten();
    let incident = api::active_incident(&state.admin, &key)
        .await
        .ok()
        .flatten();
    let timeline = audit.timeline(key).await.unwrap_or_default();
    let (st, err, sid, updated) = status
        .map(|s| {
            (
                s.state,
                s.last_error.unwrap_or_default(),
                s.splashtop_id.unwrap_or_default(),
                s.updated,
            )
        })
        .unwrap_or_else(|| {
            (
                "unknown".into(),
                String::new(),
                String::new(),
                String::new(),
            )
        });
    body.push_str(&format!(
        "<p>{} ({}): <strong id=\"state\" class=\"state-{st}\">{st}</strong> since {}; Splashtop id: {}</p>",
        esc(&user_name),
        esc(&id),
        esc(&updated),
        esc(&sid),
        st = esc(&st),
    ));
    if let Some(i) = &incident {
        body.push_str(&format!(
            "<p class=\"msg err\" id=\"open-incident\"><a href=\"/console/incidents/{}\">Incident {}</a> ({}): \
             <strong>{}</strong>: {} What to do: {}</p>",
            i.id,
            i.id,
            esc(&i.state),
            esc(&i.cause),
            esc(&i.message),
            esc(&i.what_to_do)
        ));
    }
    if !err.is_empty() {
        body.push_str(&format!(
            "<p>Last error: <span id=\"last-error\">{}</span></p>",
            esc(&splashsync_directory::audit::humane::detail(&err))
        ));
    }
    body.push_str(&timeline_table(&timeline));
    Html(page("Users", None, &body, Some(&csrf))).into_response()
}
