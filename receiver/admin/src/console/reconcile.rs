//! The console's reconciliation page `/console/reconcile`: the newest runs, one run's
//! items, and three buttons (dry run, reconcile, reconcile and prune), POST forms with the
//! session's CSRF token like the console's other actions.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::Query;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use splashsync_directory::StoreError;
use splashsync_protocol::reconcile::{ReconcileReport, ReconcileRequest};

use super::html::{enc, esc, page, parse_form, Csrf};
use super::ConsoleState;
use crate::reconcile::{control, Control, LIST_DEFAULT};
use crate::AdminError;

/// The page's routes (mounted behind the console session).
pub fn routes() -> Router<ConsoleState> {
    Router::new().route("/console/reconcile", get(console_page).post(console_start))
}

/// The request a console button names.
fn console_request(mode: Option<&str>) -> Option<ReconcileRequest> {
    match mode? {
        "dry_run" => Some(ReconcileRequest {
            dry_run: true,
            prune: false,
        }),
        "fix" => Some(ReconcileRequest::default()),
        "prune" => Some(ReconcileRequest {
            dry_run: false,
            prune: true,
        }),
        _ => None,
    }
}

/// `POST /console/reconcile` (`mode`: `dry_run`, `fix` or `prune`): starts a run and
/// shows it.
async fn console_start(ext: Option<Extension<Control>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let result = async {
        let control = control(ext)?;
        let request = console_request(form.get("mode").map(String::as_str))
            .ok_or_else(|| AdminError::bad_request("mode must be dry_run, fix or prune"))?;
        let id = control.start("console", request).await?;
        tracing::info!(
            run = id,
            ?request,
            "reconciliation started from the console"
        );
        Ok::<_, AdminError>(id)
    }
    .await;
    let to = match result {
        Ok(id) => format!(
            "/console/reconcile?run={id}&msg={}",
            enc(&format!("run {id} started"))
        ),
        Err(e) => format!(
            "/console/reconcile?msg={}",
            enc(&format!("error: {}", e.message))
        ),
    };
    Redirect::to(&to).into_response()
}

fn mode_button(mode: &str, label: &str, csrf: &Csrf) -> String {
    format!(
        "<form class=\"inline\" method=\"post\" action=\"/console/reconcile\">{}\
         <input type=\"hidden\" name=\"mode\" value=\"{mode}\"><button id=\"reconcile-{mode}\">{}</button></form>",
        csrf.field(),
        esc(label)
    )
}

fn runs_table(runs: &[ReconcileReport]) -> String {
    let mut out = String::from(
        "<table id=\"runs\"><tr><th>Run</th><th>Started</th><th>Trigger</th><th>Mode</th><th>State</th>\
         <th>Pages read</th><th>Drift</th><th>Fixed</th><th>Pending</th></tr>",
    );
    for r in runs {
        let mode = match (r.dry_run, r.prune) {
            (true, _) => "dry run",
            (false, true) => "fix + prune",
            (false, false) => "fix",
        };
        out.push_str(&format!(
            "<tr><td><a href=\"/console/reconcile?run={id}\">{id}</a></td><td>{}</td><td>{}</td><td>{mode}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.started),
            esc(&r.trigger),
            esc(&r.state),
            r.pages_read,
            r.found,
            r.fixed,
            r.pending,
            id = r.id,
        ));
    }
    out.push_str("</table>");
    out
}

fn report_section(r: &ReconcileReport) -> String {
    let mut out = format!(
        "<h2>Run {}: {}</h2><p id=\"run-summary\">{} pages read ({} users, {} groups listed); {} drift items, \
         {} jobs written, {} pending.</p>",
        r.id,
        esc(&r.state),
        r.pages_read,
        r.team_users,
        r.team_groups,
        r.found,
        r.fixed,
        r.pending
    );
    if let Some(e) = &r.error {
        out.push_str(&format!("<p class=\"msg err\">{}</p>", esc(e)));
    }
    out.push_str(
        "<table id=\"items\"><tr><th>Kind</th><th>Account or group</th><th>Splashtop has</th>\
         <th>The directory wants</th><th>Action</th></tr>",
    );
    for i in &r.items {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.kind.as_str(),
            esc(&i.subject),
            esc(&i.found),
            esc(&i.wanted),
            i.action.as_str()
        ));
    }
    out.push_str("</table>");
    out
}

/// `GET /console/reconcile[?run=]`: the buttons, the newest runs and one run's items.
async fn console_page(
    ext: Option<Extension<Control>>,
    Extension(csrf): Extension<Csrf>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let title = "Reconciliation";
    let msg = q.get("msg").map(String::as_str);
    let control = match control(ext) {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("error: {}", e.message);
            return (e.status, Html(page(title, Some(&msg), "", Some(&csrf)))).into_response();
        }
    };
    let loaded = async {
        let runs = control.runs(LIST_DEFAULT).await?;
        let wanted = q.get("run").and_then(|r| r.parse::<i64>().ok());
        let shown = match wanted.or_else(|| runs.first().map(|r| r.id)) {
            Some(id) => control.run(id).await?,
            None => None,
        };
        Ok::<(Vec<ReconcileReport>, Option<ReconcileReport>), StoreError>((runs, shown))
    }
    .await;
    let (runs, shown) = match loaded {
        Ok(v) => v,
        Err(e) => {
            let e = AdminError::from(e);
            let msg = format!("error: {}", e.message);
            return (e.status, Html(page(title, Some(&msg), "", Some(&csrf)))).into_response();
        }
    };
    let mut body = String::from(
        "<p>Reads the Splashtop team page by page and compares it with the directory. A dry run \
         only reports; a real run re-sends the directory's state of every drifted account it owns; \
         prune also removes accounts the directory never owned.</p><p>",
    );
    body.push_str(&mode_button("dry_run", "Dry run", &csrf));
    body.push_str(&mode_button("fix", "Reconcile", &csrf));
    body.push_str(&mode_button("prune", "Reconcile and prune", &csrf));
    body.push_str("</p><h2>Newest runs</h2>");
    body.push_str(&runs_table(&runs));
    if let Some(r) = &shown {
        body.push_str(&report_section(r));
    }
    Html(page(title, msg, &body, Some(&csrf))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_buttons_name_three_modes_only() {
        assert_eq!(
            console_request(Some("dry_run")),
            Some(ReconcileRequest {
                dry_run: true,
                prune: false
            })
        );
        assert_eq!(
            console_request(Some("fix")),
            Some(ReconcileRequest::default())
        );
        assert!(console_request(Some("prune")).is_some_and(|r| r.prune && !r.dry_run));
        assert_eq!(console_request(Some("drop")), None);
        assert_eq!(console_request(None), None);
    }
}
