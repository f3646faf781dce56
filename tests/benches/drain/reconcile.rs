//! Reconciliations run back to back while a workload drains: the reconciler's listing
//! calls share the team's rate limit with the workers (which reserve its share), so the
//! drain shows whether the two together stay within it.

use std::time::Duration;

use serde_json::{json, Value};
use splashsync_test_support::{TestApp, ADMIN_TOKEN};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Dry-run reconciliations, one after the other, until stopped.
pub(crate) struct Reconciling {
    stop: watch::Sender<bool>,
    tally: watch::Receiver<Tally>,
    task: JoinHandle<()>,
}

/// What the runs read.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Runs finished.
    pub(crate) runs: u64,
    /// Listing pages they read.
    pub(crate) pages: u64,
}

impl Reconciling {
    /// Starts dry runs against `app`'s admin API.
    pub(crate) fn start(app: &TestApp) -> Self {
        let (stop, stopped) = watch::channel(false);
        let (count, tally) = watch::channel(Tally::default());
        let http = app.http.clone();
        let admin = format!("{}/admin", app.base_url());
        let task = tokio::spawn(async move {
            while !*stopped.borrow() {
                match one_run(&http, &admin).await {
                    Some(pages) => count.send_modify(|t| {
                        t.runs += 1;
                        t.pages += pages;
                    }),
                    // Another run is still going (409): wait for it.
                    None => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        Self { stop, tally, task }
    }

    /// Stops following runs (the one going on finishes in the receiver); what the
    /// finished ones read.
    pub(crate) fn stop(self) -> Tally {
        let _ = self.stop.send(true);
        self.task.abort();
        *self.tally.borrow()
    }
}

/// One dry run, followed to its end: the pages it read (`None`: it could not start or
/// did not finish).
async fn one_run(http: &reqwest::Client, admin: &str) -> Option<u64> {
    let start = http
        .post(format!("{admin}/reconcile"))
        .json(&json!({"dry_run": true}));
    let run = answer(start).await?["run"].as_i64()?;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let report = answer(http.get(format!("{admin}/reconcile/{run}"))).await?;
        match report["state"].as_str() {
            Some("running") => continue,
            Some("done") => return report["pages_read"].as_u64(),
            _ => return None,
        }
    }
}

/// The JSON answer of an admin request (with the admin token).
async fn answer(request: reqwest::RequestBuilder) -> Option<Value> {
    let response = request.bearer_auth(ADMIN_TOKEN).send().await.ok()?;
    response.json().await.ok()
}
