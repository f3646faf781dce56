//! `splashsync reconcile [--dry-run] [--prune]`: starts a drift reconciliation on the
//! receiver (`POST /admin/reconcile`), waits for it to end (`GET /admin/reconcile/{id}`,
//! once a second), prints its report as JSON and a summary with its cost in Splashtop
//! calls on stderr. Exits 1 when the run failed or could not start.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use splashsync_protocol::admin::{ErrorBody, PREFIX};
use splashsync_protocol::reconcile::{
    route, run_path, run_state, DriftAction, ReconcileReport, ReconcileRequest,
};

/// How often the report is polled while the run goes.
const POLL: Duration = Duration::from_secs(1);

/// `reconcile`'s flags.
#[derive(Debug, PartialEq, Args)]
pub(crate) struct ReconcileArgs {
    /// Report the drift only: write no job.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also remove accounts the directory never owned (invited by hand).
    #[arg(long)]
    pub(crate) prune: bool,
    /// Print the run's id and return at once instead of waiting for its report.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// Give up waiting after this many seconds (the run goes on).
    #[arg(long, default_value_t = 3600)]
    pub(crate) wait_secs: u64,
}

impl ReconcileArgs {
    /// The request these flags make.
    pub(crate) fn request(&self) -> ReconcileRequest {
        ReconcileRequest {
            dry_run: self.dry_run,
            prune: self.prune,
        }
    }
}

/// One line saying what a run read, found and did.
pub(crate) fn summary(r: &ReconcileReport) -> String {
    let would = r
        .items
        .iter()
        .filter(|i| matches!(i.action, DriftAction::WouldFix | DriftAction::WouldPrune))
        .count();
    let mut line = format!(
        "reconciliation run {} {}: {} Splashtop calls (listing pages) for {} users and {} groups; {} drift items",
        r.id, r.state, r.pages_read, r.team_users, r.team_groups, r.found
    );
    if r.dry_run {
        line.push_str(&format!(", {would} would be fixed (dry run)"));
    } else {
        line.push_str(&format!(", {} jobs written", r.fixed));
    }
    line.push_str(&format!(", {} pending", r.pending));
    if let Some(e) = &r.error {
        line.push_str(&format!("; error: {e}"));
    }
    line
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("splashsync: {message}");
    ExitCode::FAILURE
}

async fn answer(response: reqwest::Response) -> Result<Value, String> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = serde_json::from_value::<ErrorBody>(body)
        .map(|e| e.error.message)
        .unwrap_or_else(|_| "no details".into());
    Err(format!("{status}: {message}"))
}

/// Runs the command against the receiver at `base`.
pub(crate) async fn run(base: &str, token: &SecretString, args: ReconcileArgs) -> ExitCode {
    let admin = format!("{}{PREFIX}", base.trim_end_matches('/'));
    let client = reqwest::Client::new();
    let started = client
        .post(format!("{admin}{}", route::RUNS))
        .bearer_auth(token.expose_secret())
        .json(&args.request())
        .send()
        .await;
    let body = match started {
        Ok(r) => match answer(r).await {
            Ok(body) => body,
            Err(e) => return fail(e),
        },
        Err(e) => return fail(format!("cannot reach {base}: {e}")),
    };
    let Some(id) = body["run"].as_i64() else {
        return fail("the receiver's answer named no run");
    };
    if args.no_wait {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.wait_secs);
    loop {
        let polled = client
            .get(format!("{admin}{}", run_path(id)))
            .bearer_auth(token.expose_secret())
            .send()
            .await;
        let body = match polled {
            Ok(r) => match answer(r).await {
                Ok(body) => body,
                Err(e) => return fail(e),
            },
            Err(e) => return fail(format!("cannot reach {base}: {e}")),
        };
        let report: ReconcileReport = match serde_json::from_value(body.clone()) {
            Ok(r) => r,
            Err(e) => return fail(format!("unreadable report: {e}")),
        };
        if report.state != run_state::RUNNING {
            println!(
                "{}",
                serde_json::to_string_pretty(&body).unwrap_or_default()
            );
            eprintln!("{}", summary(&report));
            return match report.state.as_str() {
                run_state::DONE => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            };
        }
        if tokio::time::Instant::now() >= deadline {
            return fail(format!(
                "run {id} is still going after {} s; read it later with GET {PREFIX}{}",
                args.wait_secs,
                run_path(id)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(dry_run: bool) -> ReconcileReport {
        ReconcileReport {
            id: 7,
            trigger: "cli".into(),
            dry_run,
            prune: false,
            state: run_state::DONE.into(),
            started: String::new(),
            finished: None,
            pages_read: 21,
            team_users: 10_000,
            team_groups: 201,
            found: 3,
            fixed: 2,
            pending: 1,
            error: None,
            items: Vec::new(),
        }
    }

    #[test]
    fn the_summary_names_the_cost_and_what_was_done() {
        let line = summary(&report(false));
        assert!(line.contains("21 Splashtop calls (listing pages) for 10000 users and 201 groups"));
        assert!(line.contains("2 jobs written, 1 pending"), "{line}");
        assert!(summary(&report(true)).contains("would be fixed (dry run)"));
    }
}
