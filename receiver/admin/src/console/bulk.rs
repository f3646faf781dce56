//! The console's replay-all and discard-all of an incident filter: a first post answers a
//! page saying how many open incidents match, with a Confirm button carrying the API's
//! token; the confirmed post acts and goes back to the list with what happened.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use splashsync_protocol::admin::BulkRequest;

use super::html::{esc, page, parse_form, Csrf};
use super::incidents::{back, carried, query_of};
use super::ConsoleState;
use crate::incidents::{bulk, Action};

/// `POST /console/incidents/{replay|discard}`: without `confirm`, a page saying how many
/// incidents the filter matches, with a Confirm button carrying the token; with it, the
/// action, then the list with what happened.
pub async fn bulk_form(state: ConsoleState, csrf: Csrf, body: Bytes, action: Action) -> Response {
    let form = parse_form(&body);
    let query = query_of(&form);
    let req = BulkRequest {
        all: query.is_unfiltered() && form.get("all").is_some_and(|v| v == "yes"),
        filter: query.clone(),
        confirm: form.get("confirm").cloned(),
        note: form.get("note").cloned().filter(|n| !n.trim().is_empty()),
        by: form.get("by").cloned().filter(|b| !b.trim().is_empty()),
    };
    let verb = if action == Action::Replay {
        "replay"
    } else {
        "discard"
    };
    let (hidden, qs) = carried(&form);
    let list = format!("/console/incidents?{qs}");
    let wants_all = query.is_unfiltered() && !req.all && req.confirm.is_none();
    let answer = if wants_all {
        // Count first; the confirmation page says it is everything.
        bulk(
            &state.admin,
            BulkRequest {
                all: true,
                ..req.clone()
            },
            action,
            "console",
        )
        .await
    } else {
        bulk(&state.admin, req.clone(), action, "console").await
    };
    let answer = match answer {
        Ok(a) => a,
        Err(e) => return back(&list, Err(e)),
    };
    if answer.done {
        let msg = format!(
            "{} incidents {verb}ed, {} failed{}",
            answer.replayed.len() + answer.discarded.len(),
            answer.failed.len(),
            answer
                .failed
                .first()
                .map(|f| format!(" (first: incident {}: {})", f.incident, f.message))
                .unwrap_or_default()
        );
        return back(&list, Ok(msg));
    }
    let everything = if query.is_unfiltered() {
        "<p class=\"msg err\"><strong>The filter is empty: this is every open incident.</strong></p><input type=\"hidden\" name=\"all\" value=\"yes\">"
    } else {
        ""
    };
    let extra = [("note", &req.note), ("by", &req.by)]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        })
        .collect::<String>();
    let page_body = format!(
        "<p id=\"confirm-count\">This will {verb} <strong>{n}</strong> open incidents{limit}.</p>\
         <form method=\"post\" action=\"/console/incidents/{verb}\">{t}{hidden}{extra}{everything}\
         <input type=\"hidden\" name=\"confirm\" value=\"{token}\">\
         <button id=\"confirm\">Yes, {verb} {n} incidents</button></form> <a href=\"{list}\">Cancel</a>",
        n = answer.count,
        limit = if answer.count > i64::from(crate::api::MAX_REPLAY_BATCH) {
            format!(" (the latest {} this time)", crate::api::MAX_REPLAY_BATCH)
        } else {
            String::new()
        },
        t = csrf.field(),
        token = esc(answer.confirm.as_deref().unwrap_or("")),
        list = esc(&list),
    );
    Html(page(
        &format!("Confirm: {verb} incidents"),
        None,
        &page_body,
        Some(&csrf),
    ))
    .into_response()
}

/// `POST /console/incidents/replay`.
pub async fn replay_all(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    body: Bytes,
) -> Response {
    bulk_form(state, csrf, body, Action::Replay).await
}

/// `POST /console/incidents/discard`.
pub async fn discard_all(
    State(state): State<ConsoleState>,
    Extension(csrf): Extension<Csrf>,
    body: Bytes,
) -> Response {
    bulk_form(state, csrf, body, Action::Discard).await
}
