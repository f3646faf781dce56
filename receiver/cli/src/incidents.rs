//! `splashsync incidents list|show|replay|discard`: one incident per person or group, its
//! current cause and what to do. Replay-all and discard-all go through the API's counted
//! confirmation: a first call counts the matching open incidents and answers a token; the
//! CLI asks (on a terminal) or needs `--yes`, then sends the token back to act, with a
//! spinner on standard error meanwhile.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget};
use serde_json::Value;
use splashsync_protocol::admin::{self, BulkRequest, IncidentDiscardBody, IncidentQuery};

use crate::client::{Api, Call, Failure};

/// Which incidents.
#[derive(Debug, Args)]
pub(crate) struct Filter {
    /// Exact cause: a Splashtop code (seat_limit_reached, sso_method_not_found…) or a
    /// reason (retry_budget_exhausted…).
    #[arg(long)]
    cause: Option<String>,
    /// A person: prefix of the userName or email (any case).
    #[arg(long)]
    person: Option<String>,
    /// A group: prefix of its displayName (its incidents and its members').
    #[arg(long)]
    group: Option<String>,
    /// user or group.
    #[arg(long)]
    kind: Option<String>,
    /// First seen at least this long ago (90s, 15m, 2h, 7d).
    #[arg(long)]
    older_than: Option<String>,
    /// Last seen at most this long ago.
    #[arg(long)]
    newer_than: Option<String>,
}

impl Filter {
    fn query(self) -> IncidentQuery {
        IncidentQuery {
            cause: self.cause,
            person: self.person,
            group: self.group,
            kind: self.kind,
            older_than: self.older_than,
            newer_than: self.newer_than,
            ..IncidentQuery::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum Incidents {
    /// List incidents (open ones by default), latest failure first, with the total.
    List {
        #[command(flatten)]
        filter: Filter,
        /// open (default), replaying, resolved, discarded, active or all.
        #[arg(long)]
        state: Option<String>,
        /// Rows per page (1..=1000, default 100).
        #[arg(long)]
        limit: Option<u32>,
        /// Rows skipped (the next page).
        #[arg(long)]
        offset: Option<u32>,
    },
    /// Show one: its cause, what to do, its dead-letter records and timeline.
    Show {
        /// The incident's id.
        id: i64,
    },
    /// Replay one (once, with the person's or group's current state), or every open one
    /// matching `--all` and the filters.
    Replay {
        /// The incident's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every open incident matching the filters (no filter: every open incident).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: Filter,
        /// With --all: act without asking (needed when standard input or error is no
        /// terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Discard one with a note, or every open one matching `--all` and the filters.
    Discard {
        /// The incident's id.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<i64>,
        /// Every open incident matching the filters (no filter: every open incident).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        filter: Filter,
        /// Why (kept with the incident).
        #[arg(long)]
        note: String,
        /// Who decides (default: the API's channel).
        #[arg(long)]
        by: Option<String>,
        /// With --all: act without asking (needed when standard input or error is no
        /// terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// What an incidents command does.
#[derive(Debug, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one plan per CLI run: its size does not matter"
)]
pub(crate) enum Plan {
    /// One call.
    One(Call),
    /// A bulk action at `path`: count, confirm, act.
    Bulk {
        path: &'static str,
        request: Box<BulkRequest>,
        yes: bool,
    },
}

pub(crate) fn plan(command: Incidents) -> Plan {
    let bulk = |path, filter: Filter, note, by, yes| {
        let filter = filter.query();
        Plan::Bulk {
            path,
            request: Box::new(BulkRequest {
                all: filter.is_unfiltered(),
                filter,
                note,
                by,
                ..BulkRequest::default()
            }),
            yes,
        }
    };
    match command {
        Incidents::List {
            filter,
            state,
            limit,
            offset,
        } => Plan::One(Call::get_with(
            admin::route::INCIDENTS.into(),
            &IncidentQuery {
                state,
                limit,
                offset,
                ..filter.query()
            },
        )),
        Incidents::Show { id } => Plan::One(Call::get(admin::incident_path(id))),
        Incidents::Replay { id: Some(id), .. } => Plan::One(Call::post(
            admin::incident_replay_path(id),
            serde_json::json!({}),
        )),
        Incidents::Replay {
            id: None,
            filter,
            yes,
            ..
        } => bulk(admin::route::REPLAY_INCIDENTS, filter, None, None, yes),
        Incidents::Discard {
            id: Some(id),
            note,
            by,
            ..
        } => Plan::One(Call::post(
            admin::incident_discard_path(id),
            IncidentDiscardBody { note, by },
        )),
        Incidents::Discard {
            id: None,
            filter,
            note,
            by,
            yes,
            ..
        } => bulk(admin::route::DISCARD_INCIDENTS, filter, Some(note), by, yes),
    }
}

/// Asks `question` on a terminal; `None` when there is none to ask on.
fn ask(question: &str) -> Option<bool> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return None;
    }
    let _ = write!(std::io::stderr(), "{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    Some(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// Counts, confirms and acts; the answer of the acting call (or of the counting call when
/// nothing matched).
pub(crate) async fn bulk(
    api: &Api,
    path: &str,
    mut request: Box<BulkRequest>,
    yes: bool,
) -> Result<Value, Failure> {
    let counted = api.send(&Call::post(path.into(), &*request)).await?;
    let count = counted.get("count").and_then(Value::as_i64).unwrap_or(0);
    let Some(token) = counted.get("confirm").and_then(Value::as_str) else {
        return Ok(counted);
    };
    if count == 0 {
        return Ok(counted);
    }
    let action = if path == admin::route::REPLAY_INCIDENTS {
        "replay"
    } else {
        "discard"
    };
    let scope = if request.all {
        "every open incident"
    } else {
        "the open incidents matching the filters"
    };
    let question = format!("{action} {count} incidents ({scope})?");
    let go = yes
        || match ask(&question) {
            Some(go) => go,
            None => {
                return Err(Failure::Refused(
                    409,
                    format!("{count} incidents match; nothing done: add --yes to {action} them"),
                ))
            }
        };
    if !go {
        return Err(Failure::Refused(409, "nothing done".into()));
    }
    request.confirm = Some(token.to_string());
    let spinner = if std::io::stderr().is_terminal() {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden())
    };
    spinner.set_message(format!("{action}ing {count} incidents"));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let done = api.send(&Call::post(path.into(), &*request)).await;
    spinner.finish_and_clear();
    done
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        incidents: Incidents,
    }

    fn plan_of(args: &[&str]) -> Plan {
        let mut all = vec!["incidents"];
        all.extend_from_slice(args);
        plan(Cli::try_parse_from(all).unwrap().incidents)
    }

    #[test]
    fn a_list_sends_its_filter_and_paging_as_the_query() {
        let Plan::One(call) =
            plan_of(&["list", "--cause", "seat_limit_reached", "--offset", "100"])
        else {
            panic!("one call");
        };
        assert_eq!(call.path, "/incidents");
        assert_eq!(
            call.query,
            Some(serde_json::json!({"cause": "seat_limit_reached", "offset": 100}))
        );
    }

    #[test]
    fn bulk_actions_say_all_only_without_a_filter() {
        let Plan::Bulk { path, request, yes } = plan_of(&["replay", "--all", "--yes"]) else {
            panic!("bulk");
        };
        assert_eq!(path, "/incidents/replay");
        assert!(request.all && yes && request.confirm.is_none());
        let Plan::Bulk { request, .. } =
            plan_of(&["discard", "--all", "--person", "ali", "--note", "left"])
        else {
            panic!("bulk");
        };
        assert!(!request.all);
        assert_eq!(request.filter.person.as_deref(), Some("ali"));
        assert_eq!(request.note.as_deref(), Some("left"));
        assert!(
            Cli::try_parse_from(["incidents", "discard", "3"]).is_err(),
            "a note"
        );
    }
}
