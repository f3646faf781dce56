//! Drift reconciliation in the receiver (docs/DESIGN.md, "Reconciliation"): the receiver
//! owns the directory and the outbox, so it reconciles, with a Splashtop client of its own
//! that only lists the team (`SPLASHTOP_API_URL`/`_TOKEN`/`SPLASHTOP_TEAM_ID`; off
//! without them).
//!
//! A run reads the team page by page (paced, see [`settings`]), reads the directory's side
//! in one transaction, compares them (`splashsync_directory::reconcile::compare`), then
//! writes the fixes and the report in one transaction. One run at a time: a second
//! request while one runs is refused with the running run's id. Runs start on demand
//! (admin API, console, CLI) and every `SPLASHSYNC_RECONCILE_INTERVAL` ([`Schedule`]).
//!
//! # Layout
//! - [`settings`]: the settings.
//! - [`read`]: reading the team page by page, paced and retried.
//! - [`source`]: the Splashtop client as a [`read::PageSource`].
//! - [`metrics`]: drift found and fixed, pages read, runs.

pub mod metrics;
pub mod read;
pub mod settings;
pub mod source;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use splashsync_admin::reconcile::{ReconcileControl, StartError};
use splashsync_directory::reconcile::compare::compare;
use splashsync_directory::reconcile::{Reading, ReconcileStore};
use splashsync_directory::{StoreError, WriteCtx};
use splashsync_protocol::reconcile::{ReconcileReport, ReconcileRequest};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use metrics::ReconcileMetrics;
use read::{read_team, PageSource};

/// What a run needs.
#[derive(Debug)]
struct Inner {
    store: Arc<dyn ReconcileStore>,
    source: Arc<dyn PageSource>,
    cx: WriteCtx,
    page_size: u32,
    pace: Duration,
    metrics: ReconcileMetrics,
    /// The running run's id, if any.
    running: Mutex<Option<i64>>,
}

/// The receiver's reconciler: starts runs, one at a time.
#[derive(Debug, Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

/// How the reconciler is built.
#[derive(Debug)]
pub struct Parts {
    /// Runs, views and fixes.
    pub store: Arc<dyn ReconcileStore>,
    /// The team's listing.
    pub source: Arc<dyn PageSource>,
    /// The tenant and group policy fixes are written with.
    pub cx: WriteCtx,
    /// Users or groups per page.
    pub page_size: u32,
    /// Pause between two listing calls.
    pub pace: Duration,
    /// The counters.
    pub metrics: ReconcileMetrics,
}

impl Reconciler {
    /// A reconciler of `parts`.
    pub fn new(parts: Parts) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: parts.store,
                source: parts.source,
                cx: parts.cx,
                page_size: parts.page_size,
                pace: parts.pace,
                metrics: parts.metrics,
                running: Mutex::new(None),
            }),
        }
    }

    /// Records a run and starts it in the background; its id, or the running run's.
    pub async fn start(&self, trigger: &str, request: ReconcileRequest) -> Result<i64, StartError> {
        let mut running = self.inner.running.lock().await;
        if let Some(id) = *running {
            return Err(StartError::Busy(id));
        }
        let id = self.inner.store.begin(trigger.to_string(), request).await?;
        *running = Some(id);
        drop(running);
        tracing::info!(
            run = id,
            trigger,
            dry_run = request.dry_run,
            prune = request.prune,
            "reconciliation started"
        );
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let result = run(&inner, id, request).await;
            *inner.running.lock().await = None;
            if let Err(e) = result {
                tracing::error!(run = id, error = %e, "reconciliation could not record its end");
            }
        });
        Ok(id)
    }
}

/// One run: read, view, compare, write; a failed listing writes nothing but the failure.
async fn run(inner: &Inner, id: i64, request: ReconcileRequest) -> Result<(), StoreError> {
    let mut reading = Reading::default();
    let metrics = inner.metrics.clone();
    let on_page = move || metrics.page_read();
    let team = read_team(
        inner.source.clone(),
        inner.page_size,
        inner.pace,
        &mut reading,
        &on_page,
    )
    .await;
    let team = match team {
        Ok(team) => team,
        Err(e) => {
            tracing::warn!(run = id, pages = reading.pages, error = %e, "reconciliation failed: nothing written");
            inner.metrics.failed();
            return inner.store.fail(id, reading, e.to_string()).await;
        }
    };
    let emails = team.users.iter().map(|u| u.email.clone()).collect();
    let cx = WriteCtx {
        origin: format!("reconciliation run {id}"),
        ..inner.cx.clone()
    };
    let finished = async {
        let view = inner.store.view(cx.clone(), emails).await?;
        let plan = compare(&team, &view, request);
        inner.store.finish(cx.clone(), id, reading, plan).await
    }
    .await;
    match finished {
        Ok(report) => {
            log_report(&report);
            inner.metrics.done(&report);
            Ok(())
        }
        Err(e) => {
            inner.metrics.failed();
            inner.store.fail(id, reading, e.to_string()).await
        }
    }
}

fn log_report(r: &ReconcileReport) {
    tracing::info!(
        run = r.id,
        pages = r.pages_read,
        team_users = r.team_users,
        found = r.found,
        fixed = r.fixed,
        pending = r.pending,
        dry_run = r.dry_run,
        "reconciliation done"
    );
}

impl ReconcileControl for Reconciler {
    fn start(
        &self,
        trigger: &'static str,
        request: ReconcileRequest,
    ) -> BoxFuture<'_, Result<i64, StartError>> {
        Box::pin(Reconciler::start(self, trigger, request))
    }

    fn runs(&self, limit: u32) -> BoxFuture<'_, Result<Vec<ReconcileReport>, StoreError>> {
        self.inner.store.runs(limit)
    }

    fn run(&self, id: i64) -> BoxFuture<'_, Result<Option<ReconcileReport>, StoreError>> {
        self.inner.store.run(id)
    }
}

/// The reconciler `settings` describe, with its own Splashtop client; `None` when the
/// receiver was given no Splashtop API settings (reconciliation off).
pub fn from_settings(
    settings: &settings::ReconcileSettings,
    store: Arc<dyn ReconcileStore>,
    cx: WriteCtx,
    registry: &crate::metrics::Metrics,
) -> anyhow::Result<Option<Reconciler>> {
    let (Some(url), Some(token), Some(team)) =
        (&settings.api_url, &settings.api_token, &settings.team_id)
    else {
        tracing::info!("drift reconciliation off: no SPLASHTOP_API_URL, SPLASHTOP_API_TOKEN and SPLASHTOP_TEAM_ID");
        return Ok(None);
    };
    use secrecy::ExposeSecret;
    let api = splashtop_api::HttpTeamApi::new(
        url,
        team,
        secrecy::SecretString::from(token.expose_secret().to_owned()),
        Duration::from_secs(settings.api_timeout_secs),
    )?;
    Ok(Some(Reconciler::new(Parts {
        store,
        source: Arc::new(api),
        cx,
        page_size: settings.page_size,
        pace: settings.pace(),
        metrics: ReconcileMetrics::register(registry),
    })))
}

/// Starts a run every interval until stopped (a run still going is skipped, not queued).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The reconciler.
    pub reconciler: Reconciler,
    /// The interval (never zero: a zero interval has no schedule).
    pub every: Duration,
}

impl Schedule {
    /// Runs until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(self.every) => {}
            }
            match self
                .reconciler
                .start("schedule", ReconcileRequest::default())
                .await
            {
                Ok(_) => {}
                Err(StartError::Busy(id)) => {
                    tracing::info!(run = id, "scheduled reconciliation skipped: a run is going")
                }
                Err(StartError::Store(e)) => {
                    tracing::warn!(error = %e, "scheduled reconciliation could not start")
                }
            }
        }
    }
}
