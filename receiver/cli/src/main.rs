//! `splashsync`: the operators' CLI. Every command is one call to the receiver's admin
//! API (`/admin`, authenticated with `SPLASHSYNC_ADMIN_TOKEN`), built from the API's wire
//! types in `splashsync_protocol::admin` (`dead-letters replay --all` is a list, then one
//! replay per dead letter, behind a progress bar). Answers print as tables on a terminal
//! and as the API's JSON elsewhere, or as `--output` says.
//!
//! # Layout
//! - this module: the command line and what each command calls.
//! - [`client`]: one admin API call and its failure (exit codes 1 and 2).
//! - [`output`]: the output format, and printing to a pipe that may close early.
//! - [`render`]: answers as tables.
//! - [`replay`]: replay of every matching dead letter, with a progress bar.
//! - [`incidents`]: the incident commands, and bulk actions behind the API's confirmation.
//! - [`tenants`]: `splashsync tenants hash-token | check`, offline tenants-file helpers
//!   (parsed before the rest: they need no admin token).

mod client;
mod incidents;
mod output;
mod reconcile;
mod render;
mod replay;
mod tenants;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use splashsync_protocol::admin::{self, DiscardBody, FilterParams};

use client::{Api, Call};
use output::Format;
use render::View;

#[derive(Debug, Parser)]
#[command(
    name = "splashsync",
    version,
    about = "splashsync operators' CLI (talks to the receiver's admin API)",
    after_help = "Tenants file helpers, offline: `splashsync tenants --help`."
)]
struct Cli {
    /// The receiver's base URL.
    #[arg(
        long,
        env = "SPLASHSYNC_ADMIN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    url: String,
    /// The admin token (SPLASHSYNC_ADMIN_TOKEN of the receiver).
    #[arg(long, env = "SPLASHSYNC_ADMIN_TOKEN", hide_env_values = true)]
    token: SecretString,
    /// `table` or `json` [default: table on a terminal, json otherwise].
    #[arg(
        long,
        short = 'o',
        env = "SPLASHSYNC_OUTPUT",
        value_enum,
        global = true
    )]
    output: Option<Format>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Incidents (one per person or group): list, show, replay, discard.
    #[command(subcommand)]
    Incidents(incidents::Incidents),
    /// Dead letters (each failed attempt): list, show, replay, discard.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetters),
    /// Users: provisioning status and timeline.
    #[command(subcommand)]
    User(User),
    /// Groups: provisioning status and timeline.
    #[command(subcommand)]
    Group(Group),
    /// Queues: backlog per partition, outbox, dead letters by reason, drain rate.
    #[command(subcommand)]
    Queue(Queue),
    /// Drift reconciliation: compare the Splashtop team with the directory and fix it.
    Reconcile(reconcile::ReconcileArgs),
    /// Workers: id, host, pid, partitions held, last heartbeat; live, quiet or stopped.
    Workers,
}

#[derive(Debug, Args)]
struct Filter {
    /// Exact reason (permanent, retry_budget_exhausted, delivery_limit…).
    #[arg(long)]
    reason: Option<String>,
    /// Exact tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Received at least this long ago (90s, 15m, 2h, 7d).
    #[arg(long)]
    older_than: Option<String>,
    /// Received at most this long ago.
    #[arg(long)]
    newer_than: Option<String>,
}

impl Filter {
    fn params(self) -> FilterParams {
        FilterParams {
            reason: self.reason,
            tenant: self.tenant,
            older_than: self.older_than,
            newer_than: self.newer_than,
            ..FilterParams::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum DeadLetters {
    /// List dead letters, newest first.
    List {
        #[command(flatten)]
        filter: Filter,
        /// open (default), replayed, discarded or all.
        #[arg(long)]
        state: Option<String>,
        /// Most rows (1..=1000).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one: the job, every attempt, Splashtop's answer.
    Show {
        /// The dead letter's id.
        id: i64,
    },
    /// Replay one (with the key's current state), or every open one matching `--all` and
    /// filters (with a progress bar on a terminal).
    Replay {
        /// The dead letter's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Replay every open dead letter matching the filters (at most 1000 a run).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: Filter,
    },
    /// Discard one with a note.
    Discard {
        /// The dead letter's id.
        id: i64,
        /// Why (kept in the audit log).
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum User {
    /// A user's state, last error, Splashtop id and timeline.
    Status {
        /// The SCIM userName.
        user_name: String,
    },
}

#[derive(Debug, Subcommand)]
enum Group {
    /// A group's state, last error, Splashtop id and timeline.
    Status {
        /// The group's SCIM id or its displayName.
        group: String,
    },
}

#[derive(Debug, Subcommand)]
enum Queue {
    /// Queue statistics: partitions holding messages and a total row, the outbox, open
    /// dead letters, the drain rate.
    Stats {
        /// List every partition, empty ones included.
        #[arg(long)]
        all: bool,
    },
}

/// What a command does.
#[derive(Debug, PartialEq)]
enum Action {
    /// One admin API call, its answer shown as `View`.
    One(Call, View),
    /// Replay every open dead letter matching the filter.
    ReplayAll(FilterParams),
    /// A drift reconciliation: start a run, then poll its report.
    Reconcile(reconcile::ReconcileArgs),
    /// An incident bulk action: count, confirm, act.
    Bulk {
        path: &'static str,
        request: Box<splashsync_protocol::admin::BulkRequest>,
        yes: bool,
    },
}

fn action_of(command: Command) -> Action {
    use Action::One;
    match command {
        Command::Incidents(command) => {
            let view = match &command {
                incidents::Incidents::List { .. } => View::Incidents,
                incidents::Incidents::Show { .. } => View::Incident,
                _ => View::IncidentsActed,
            };
            match incidents::plan(command) {
                incidents::Plan::One(call) => One(call, view),
                incidents::Plan::Bulk { path, request, yes } => Action::Bulk { path, request, yes },
            }
        }
        Command::DeadLetters(DeadLetters::List {
            filter,
            state,
            limit,
        }) => {
            let params = FilterParams {
                state,
                limit,
                ..filter.params()
            };
            One(
                Call::get_with(admin::route::DEAD_LETTERS.into(), &params),
                View::DeadLetters,
            )
        }
        Command::DeadLetters(DeadLetters::Show { id }) => {
            One(Call::get(admin::dead_letter_path(id)), View::DeadLetter)
        }
        Command::DeadLetters(DeadLetters::Replay { id: Some(id), .. }) => One(
            Call::post(admin::replay_path(id), serde_json::json!({})),
            View::Replayed,
        ),
        Command::DeadLetters(DeadLetters::Replay {
            id: None, filter, ..
        }) => Action::ReplayAll(filter.params()),
        Command::DeadLetters(DeadLetters::Discard { id, note }) => One(
            Call::post(admin::discard_path(id), DiscardBody { note }),
            View::Discarded,
        ),
        Command::User(User::Status { user_name }) => {
            One(Call::get(admin::user_status_path(&user_name)), View::Status)
        }
        Command::Group(Group::Status { group }) => {
            One(Call::get(admin::group_status_path(&group)), View::Status)
        }
        Command::Queue(Queue::Stats { all }) => {
            One(Call::get(admin::route::QUEUES.into()), View::Queues { all })
        }
        Command::Reconcile(args) => Action::Reconcile(args),
        Command::Workers => One(Call::get(admin::route::WORKERS.into()), View::Workers),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if tenants::wanted(&args) {
        return tenants::run(&args);
    }
    let cli = Cli::parse_from(args);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let format = Format::resolve(cli.output);
    let api = Api::new(&cli.url, cli.token.clone());
    let (answer, view) = match action_of(cli.command) {
        // A run is started, then its report polled: its own output (JSON) and exit codes.
        Action::Reconcile(args) => return reconcile::run(&cli.url, &cli.token, args).await,
        Action::One(call, view) => (api.send(&call).await, view),
        Action::ReplayAll(filter) => (replay::replay_matching(&api, filter).await, View::Replayed),
        Action::Bulk { path, request, yes } => (
            incidents::bulk(&api, path, request, yes).await,
            View::IncidentsActed,
        ),
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(failure) => {
            output::warn(&failure.message());
            return failure.exit_code();
        }
    };
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&answer).unwrap_or_default(),
        Format::Table => render::render(view, &answer),
    };
    match output::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        // `splashsync queue stats | head`: the reader has what it wanted.
        Err(e) if output::closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            output::warn(&format!("cannot write the answer: {e}"));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        let mut all = vec!["splashsync", "--token", "t0123456789abcdef"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).unwrap()
    }

    fn call(args: &[&str]) -> Call {
        match action_of(parse(args).command) {
            Action::One(call, _) => call,
            other => panic!("not one call: {other:?}"),
        }
    }

    #[test]
    fn each_command_is_one_admin_call() {
        let c = call(&[
            "dead-letters",
            "list",
            "--reason",
            "permanent",
            "--older-than",
            "1h",
        ]);
        assert!(!c.post);
        assert_eq!(c.path, "/dead-letters");
        assert_eq!(
            c.query,
            Some(serde_json::json!({"reason": "permanent", "older_than": "1h"}))
        );
        assert_eq!(
            call(&["dead-letters", "replay", "7"]).path,
            "/dead-letters/7/replay"
        );
        let d = call(&["dead-letters", "discard", "3", "--note", "left"]);
        assert_eq!(d.body, Some(serde_json::json!({"note": "left"})));
        assert_eq!(
            call(&["user", "status", "a b@x.com"]).path,
            "/users/a%20b@x.com/status"
        );
        assert_eq!(
            call(&["group", "status", "Sales EU"]).path,
            "/groups/Sales%20EU/status"
        );
        assert_eq!(call(&["queue", "stats"]).path, "/queues");
        assert_eq!(call(&["workers"]).path, "/workers");
    }

    #[test]
    fn replay_all_keeps_its_filter_and_stats_all_its_view() {
        assert_eq!(
            action_of(parse(&["dead-letters", "replay", "--all", "--reason", "permanent"]).command),
            Action::ReplayAll(FilterParams {
                reason: Some("permanent".into()),
                ..FilterParams::default()
            })
        );
        let Action::One(_, view) = action_of(parse(&["queue", "stats", "--all"]).command) else {
            panic!("queue stats is one call");
        };
        assert_eq!(view, View::Queues { all: true });
    }

    #[test]
    fn the_output_switch_is_json_or_table_anywhere_on_the_line() {
        assert_eq!(
            parse(&["queue", "stats", "-o", "json"]).output,
            Some(Format::Json)
        );
        assert_eq!(
            parse(&["--output", "table", "queue", "stats"]).output,
            Some(Format::Table)
        );
        let bad =
            Cli::try_parse_from(["splashsync", "--token", "x", "-o", "yaml", "queue", "stats"]);
        assert!(bad.is_err());
    }

    #[test]
    fn replay_needs_an_id_or_all() {
        let r = Cli::try_parse_from(["splashsync", "--token", "x", "dead-letters", "replay"]);
        assert!(r.is_err());
    }
}
