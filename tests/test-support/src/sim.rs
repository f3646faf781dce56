//! Reading the simulated Splashtop team: who is in it, waiting for it to reach a state, and
//! checking the order in which versions were applied.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use splashtop_sim::{LogEntry, SimHandle};

use crate::poll::eventually;

/// The user with `email` (any case) in a simulator state, if the team holds one.
pub fn find_user<'a>(state: &'a Value, email: &str) -> Option<&'a Value> {
    state["users"].as_array()?.iter().find(|u| {
        u["email"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(email))
    })
}

/// Whether the simulator's team holds a user with `email`.
pub fn has_user(state: &Value, email: &str) -> bool {
    find_user(state, email).is_some()
}

/// How many users the simulator's team holds.
pub fn users_in(state: &Value) -> usize {
    state["users"].as_array().map_or(0, Vec::len)
}

/// Waits until the simulator's state satisfies `done` and returns that state; panics with
/// `what` and the last state once `deadline` passes.
pub async fn sim_reaches(
    sim: &SimHandle,
    deadline: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(deadline, what, || async {
        let state = sim.snapshot();
        match done(&state) {
            true => Ok(state),
            false => Err(state),
        }
    })
    .await
}

/// For each user key and account, whether the versions in the simulator's log never decrease.
pub fn versions_never_decrease(log: &[LogEntry]) -> Result<(), String> {
    // Per key and account: after a userName change under `reinvite`, a key's late job on
    // its old account and its jobs on the new one travel on different partitions, and
    // either may be applied first (docs/DESIGN.md, "userName changes"); on each account
    // its versions still only grow.
    let mut last: HashMap<(&str, Option<&str>), i64> = HashMap::new();
    for e in log {
        if let (Some(key), Some(v)) = (e.key.as_deref(), e.version) {
            if !key.contains("/user/") {
                continue;
            }
            let prev = last.entry((key, e.email.as_deref())).or_insert(v);
            if v < *prev {
                return Err(format!(
                    "{key}: version {v} applied after {prev} (seq {})",
                    e.seq
                ));
            }
            *prev = v;
        }
    }
    Ok(())
}
