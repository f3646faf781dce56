//! `splashsync`: the operators' CLI. Every command is one call to the receiver's admin
//! API (`/admin`, authenticated with `SPLASHSYNC_ADMIN_TOKEN`), built from the API's wire
//! types in `splashsync_protocol::admin`; answers print as JSON.

mod reconcile;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use splashsync_protocol::admin::{self, DiscardBody, ErrorBody, FilterParams};

#[derive(Debug, Parser)]
#[command(
    name = "splashsync",
    version,
    about = "splashsync operators' CLI (talks to the receiver's admin API)"
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Dead letters: list, show, replay, discard.
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetters),
    /// Users: provisioning status and timeline.
    #[command(subcommand)]
    User(User),
    /// Queues: backlog per partition, outbox, dead letters by reason, drain rate.
    #[command(subcommand)]
    Queue(Queue),
    /// Drift reconciliation: compare the Splashtop team with the directory and fix it.
    Reconcile(reconcile::ReconcileArgs),
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
    /// Replay one (with the key's current state), or every open one matching `--all` and filters.
    Replay {
        /// The dead letter's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Replay every open dead letter matching the filters.
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
enum Queue {
    /// Queue statistics.
    Stats,
}

/// One request: method, path under `/admin`, query, body.
#[derive(Debug)]
struct Call {
    post: bool,
    path: String,
    query: Option<FilterParams>,
    body: Option<Value>,
}

impl Call {
    fn get(path: String, query: Option<FilterParams>) -> Self {
        Self {
            post: false,
            path,
            query,
            body: None,
        }
    }

    fn post(path: String, body: impl serde::Serialize) -> Self {
        Self {
            post: true,
            path,
            query: None,
            body: Some(serde_json::to_value(body).unwrap_or(Value::Null)),
        }
    }
}

fn call_of(command: Command) -> Call {
    match command {
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
            Call::get(admin::route::DEAD_LETTERS.into(), Some(params))
        }
        Command::DeadLetters(DeadLetters::Show { id }) => {
            Call::get(admin::dead_letter_path(id), None)
        }
        Command::DeadLetters(DeadLetters::Replay { id: Some(id), .. }) => {
            Call::post(admin::replay_path(id), serde_json::json!({}))
        }
        Command::DeadLetters(DeadLetters::Replay {
            id: None, filter, ..
        }) => Call::post(admin::route::REPLAY_MATCHING.into(), filter.params()),
        Command::DeadLetters(DeadLetters::Discard { id, note }) => {
            Call::post(admin::discard_path(id), DiscardBody { note })
        }
        Command::User(User::Status { user_name }) => {
            Call::get(admin::user_status_path(&user_name), None)
        }
        Command::Queue(Queue::Stats) => Call::get(admin::route::QUEUES.into(), None),
        // `main` runs reconcile itself (a start, then polls): never one call.
        Command::Reconcile(_) => {
            Call::get(splashsync_protocol::reconcile::route::RUNS.into(), None)
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Command::Reconcile(args) = cli.command {
        return reconcile::run(&cli.url, &cli.token, args).await;
    }
    let call = call_of(cli.command);
    let url = format!(
        "{}{}{}",
        cli.url.trim_end_matches('/'),
        admin::PREFIX,
        call.path
    );
    let client = reqwest::Client::new();
    let mut req = if call.post {
        client.post(&url)
    } else {
        client.get(&url)
    };
    req = req.bearer_auth(cli.token.expose_secret());
    if let Some(query) = &call.query {
        req = req.query(query);
    }
    if let Some(body) = call.body {
        req = req.json(&body);
    }
    let response = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("splashsync: cannot reach {}: {e}", cli.url);
            return ExitCode::from(2);
        }
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
        ExitCode::SUCCESS
    } else {
        let message = serde_json::from_value::<ErrorBody>(body)
            .map(|e| e.error.message)
            .unwrap_or_else(|_| "no details".into());
        eprintln!("splashsync: {status}: {message}");
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> Call {
        let mut all = vec!["splashsync", "--token", "t0123456789abcdef"];
        all.extend_from_slice(args);
        call_of(Cli::try_parse_from(all).unwrap().command)
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
            Some(FilterParams {
                reason: Some("permanent".into()),
                older_than: Some("1h".into()),
                ..FilterParams::default()
            })
        );
        assert_eq!(
            call(&["dead-letters", "replay", "7"]).path,
            "/dead-letters/7/replay"
        );
        let all = call(&["dead-letters", "replay", "--all", "--reason", "permanent"]);
        assert_eq!(all.path, "/dead-letters/replay");
        assert_eq!(all.body, Some(serde_json::json!({"reason": "permanent"})));
        let d = call(&["dead-letters", "discard", "3", "--note", "left"]);
        assert_eq!(d.body, Some(serde_json::json!({"note": "left"})));
        assert_eq!(
            call(&["user", "status", "a b@x.com"]).path,
            "/users/a%20b@x.com/status"
        );
        assert_eq!(call(&["queue", "stats"]).path, "/queues");
    }

    #[test]
    fn replay_needs_an_id_or_all() {
        let r = Cli::try_parse_from(["splashsync", "--token", "x", "dead-letters", "replay"]);
        assert!(r.is_err());
    }
}
