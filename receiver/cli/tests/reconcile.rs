//! `splashsync reconcile`, run as the real binary against a receiver reconciling with the
//! Splashtop simulator. No worker runs: the user the directory provisions stays pending,
//! so its drift is reported as pending, never fixed; a hand-made account is reported, and
//! removed (a job written) only with `--prune`.

use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use splashsync_protocol::reconcile::{DriftAction, DriftKind, ReconcileReport};
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;
use splashsync_receiver::reconcile::settings::ReconcileSettings;

const SCIM_TOKEN: &str = "cli-recon-scim-token-0123";
const ADMIN_TOKEN: &str = "cli-recon-admin-token-0123";

fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Runs `splashsync reconcile <args>`; returns (exit ok, the report, stderr).
fn reconcile(base: &str, args: &[&str]) -> (bool, Option<ReconcileReport>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_splashsync"))
        .env("SPLASHSYNC_ADMIN_URL", base)
        .env("SPLASHSYNC_ADMIN_TOKEN", ADMIN_TOKEN)
        .arg("reconcile")
        .args(args)
        .output()
        .expect("the splashsync binary runs");
    (
        out.status.success(),
        serde_json::from_slice(&out.stdout).ok(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn action(report: &ReconcileReport, kind: DriftKind, subject: &str) -> Option<DriftAction> {
    report
        .of_kind(kind)
        .find(|i| i.subject == subject)
        .map(|i| i.action)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reconciles_reports_and_prunes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = splashtop_sim::spawn(splashtop_sim::SimConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!(
        "t-clirec-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: format!("sqlite://{}", dir.path().join("cli.db").display()),
        amqp_url: amqp_url(),
        amqp_prefix: prefix.clone(),
        partitions: 2,
        scim_token: SecretString::from(SCIM_TOKEN),
        tenant: "default".into(),
        public_url: None,
        page_size: 100,
        max_page_size: 1000,
        filter_scan_limit: 10_000,
        group_policy: Default::default(),
        admin_token: Some(SecretString::from(ADMIN_TOKEN)),
        sample_interval_secs: 15,
        log_format: Default::default(),
        limits: Default::default(),
        rename_policy: Default::default(),
        reconcile: ReconcileSettings {
            api_url: Some(sim.base_url()),
            api_token: Some(SecretString::from(sim.token().to_string())),
            team_id: Some(sim.team_id().to_string()),
            interval: Duration::ZERO,
            calls_per_minute: 6000,
            ..Default::default()
        },
    };
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(SCIM_TOKEN)
        .json(&json!({"userName": "ada@example.com", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let invited = http
        .post(format!("{}/teams/{}/users", sim.api_url(), sim.team_id()))
        .bearer_auth(sim.token())
        .json(&json!({"email": "stranger@example.com", "first_name": "S", "last_name": "T"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201);

    let base2 = base.clone();
    let (dry, pruned) = tokio::task::spawn_blocking(move || {
        (
            reconcile(&base2, &["--dry-run"]),
            reconcile(&base2, &["--prune"]),
        )
    })
    .await
    .unwrap();

    let _ = stop.send(());
    let _ = server.await;
    if let Ok(conn) = splashsync_protocol::amqp::connect(&amqp_url(), "cli-recon-cleanup").await {
        if let Ok(channel) = conn.create_channel().await {
            let _ = Topology::new(prefix, 2).delete(&channel).await;
        }
        let _ = conn.close(200, "done".into()).await;
    }
    sim.shutdown().await;

    let (ok, report, stderr) = dry;
    assert!(ok, "{stderr}");
    let report: ReconcileReport = report.expect("the report on stdout");
    assert!(report.dry_run);
    assert_eq!(
        action(&report, DriftKind::Unmanaged, "stranger@example.com"),
        Some(DriftAction::Reported)
    );
    assert_eq!(
        action(&report, DriftKind::Missing, "ada@example.com"),
        Some(DriftAction::Pending),
        "a job not yet applied makes the drift expected: {report:#?}"
    );
    // One page of groups (the default group) and one of users.
    assert_eq!(report.pages_read, 2);
    assert!(
        stderr.contains("2 Splashtop calls (listing pages)"),
        "the cost is printed: {stderr}"
    );
    let (ok, report, stderr) = pruned;
    assert!(ok, "{stderr}");
    let report = report.expect("the report on stdout");
    assert_eq!(
        action(&report, DriftKind::Unmanaged, "stranger@example.com"),
        Some(DriftAction::Pruned)
    );
    assert_eq!(report.fixed, 1, "only the prune: {report:#?}");
    assert!(stderr.contains("1 jobs written"), "{stderr}");
}
