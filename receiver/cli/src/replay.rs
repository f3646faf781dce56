//! `dead-letters replay --all`: every open dead letter matching a filter, replayed one by
//! one (oldest first, as the API's own replay-matching does) so that a progress bar on
//! standard error can follow it. The answer has the shape of the API's replay-matching
//! answer, `{"replayed": […], "failed": [{"id", "status", "message"}]}`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use splashsync_protocol::admin::{self, FilterParams};

use crate::client::{Api, Call, Failure};

/// Most dead letters one run replays (the API's list limit).
const MAX: u32 = 1000;

/// A bar on standard error when it is a terminal; hidden otherwise (logs stay clean).
fn bar(len: u64) -> ProgressBar {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40} {pos}/{len} dead letters replayed ({per_sec}, {eta} left) {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Replays every open dead letter matching `filter`; one refusal does not stop the rest,
/// an unreachable receiver does.
pub(crate) async fn replay_matching(api: &Api, filter: FilterParams) -> Result<Value, Failure> {
    if filter.state.as_deref().is_some_and(|s| s != "open") {
        return Err(Failure::Refused(
            400,
            "only open dead letters can be replayed".into(),
        ));
    }
    let query = FilterParams {
        state: Some("open".into()),
        limit: Some(MAX),
        ..filter
    };
    let list = api
        .send(&Call::get_with(admin::route::DEAD_LETTERS.into(), &query))
        .await?;
    let mut ids: Vec<i64> = list
        .get("dead_letters")
        .and_then(Value::as_array)
        .map(|rows| rows.iter().filter_map(|r| r.get("id")?.as_i64()).collect())
        .unwrap_or_default();
    // Newest first from the API; the oldest failure of a key goes first.
    ids.reverse();
    let progress = bar(ids.len() as u64);
    let (mut replayed, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        progress.set_message(format!("#{id}"));
        match api
            .send(&Call::post(admin::replay_path(id), json!({})))
            .await
        {
            Ok(answer) => replayed.push(answer.get("replayed").cloned().unwrap_or(answer)),
            Err(Failure::Refused(status, message)) => {
                failed.push(json!({"id": id, "status": status, "message": message}));
            }
            Err(unreachable) => {
                progress.abandon();
                return Err(unreachable);
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(json!({"replayed": replayed, "failed": failed}))
}
