//! The operators' CLI, run as the real `splashsync` binary against a running receiver.

use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;

const SCIM_TOKEN: &str = "cli-test-scim-token-0123";
const ADMIN_TOKEN: &str = "cli-test-admin-token-0123";

fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Runs `splashsync <args>` against `base`; returns (exit ok, stdout JSON, stderr).
fn cli(base: &str, token: &str, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_splashsync"))
        .env("SPLASHSYNC_ADMIN_URL", base)
        .env("SPLASHSYNC_ADMIN_TOKEN", token)
        .args(args)
        .output()
        .expect("the splashsync binary runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_answers_status_queue_stats_and_dead_letters_and_refuses_a_wrong_token() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("t-cli-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
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
        reconcile: Default::default(),
        rename_policy: Default::default(),
    };
    let app = Application::build(settings).await.unwrap();
    let base = format!("http://{}", app.addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    let created = reqwest::Client::new()
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(SCIM_TOKEN)
        .json(&serde_json::json!({"userName": "cli@example.com", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let base2 = base.clone();
    let results = tokio::task::spawn_blocking(move || {
        let status = cli(&base2, ADMIN_TOKEN, &["user", "status", "CLI@example.com"]);
        // The relay declares the queues once it has connected; give it a moment.
        let mut stats = cli(&base2, ADMIN_TOKEN, &["queue", "stats"]);
        for _ in 0..50 {
            if stats.0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            stats = cli(&base2, ADMIN_TOKEN, &["queue", "stats"]);
        }
        let list = cli(&base2, ADMIN_TOKEN, &["dead-letters", "list"]);
        let missing = cli(&base2, ADMIN_TOKEN, &["dead-letters", "show", "999999"]);
        let wrong = cli(&base2, "not-the-admin-token-0000", &["queue", "stats"]);
        let scim_token = cli(&base2, SCIM_TOKEN, &["dead-letters", "list"]);
        (status, stats, list, missing, wrong, scim_token)
    })
    .await
    .unwrap();
    let (status, stats, list, missing, wrong, scim_token) = results;

    // Clean the broker up before asserting, so a failure leaves no queues behind.
    let _ = stop.send(());
    let _ = server.await;
    if let Ok(conn) = splashsync_protocol::amqp::connect(&amqp_url(), "cli-test-cleanup").await {
        if let Ok(channel) = conn.create_channel().await {
            let _ = Topology::new(prefix, 2).delete(&channel).await;
        }
        let _ = conn.close(200, "done".into()).await;
    }
    assert!(status.0, "user status failed: {}", status.2);
    let text = status.1.to_string();
    assert!(text.contains("pending"), "{text}");
    assert!(
        text.contains("POST /Users"),
        "the timeline names the SCIM call: {text}"
    );
    assert!(stats.0, "queue stats failed: {}", stats.2);
    assert!(list.0, "dead-letters list failed: {}", list.2);
    assert!(!list.1.to_string().contains("cli@example.com"));
    assert!(!missing.0 && missing.2.contains("404"), "{}", missing.2);
    assert!(!wrong.0 && wrong.2.contains("401"), "{}", wrong.2);
    assert!(!scim_token.0, "the SCIM token never opens the admin API");
}
