//! The CLI as people and scripts use it, run as the real `splashsync` binary against the
//! whole system in-process (receiver, worker, the Splashtop simulator, real RabbitMQ and
//! Redis): tables with totals, `--output json`, `group status` by name, `replay --all`,
//! and a standard output closed before the answer is written.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use splashsync_test_support::{eventually, get_json, TestApp, ADMIN_TOKEN};

const WAIT: Duration = Duration::from_secs(30);
const EXT: &str = "urn:ietf:params:scim:schemas:extension:Splashtop:2.0:User";

fn splashsync(base: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_splashsync"));
    c.env("SPLASHSYNC_ADMIN_URL", base)
        .env("SPLASHSYNC_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("SPLASHSYNC_OUTPUT");
    c
}

/// Runs `splashsync <args>`; returns (exit ok, stdout, stderr).
fn run(base: &str, args: &[&str]) -> (bool, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = splashsync(base)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        status.success(),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// Runs `splashsync <args>` with a standard output whose reader reads `keep` bytes and
/// goes away; returns (exit code, stderr).
fn run_into_closed_pipe(base: &str, args: &[&str], keep: usize) -> (Option<i32>, String) {
    let mut child = splashsync(base)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdout = child.stdout.take().expect("piped");
    if keep > 0 {
        let mut first = vec![0; keep];
        let _ = stdout.read_exact(&mut first);
    }
    drop(stdout);
    let out = child.wait_with_output().expect("the binary ends");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_json_group_status_replay_all_and_a_closed_pipe() {
    let app = TestApp::spawn().await;
    let base = app.base_url();
    let ok = app
        .create_user(&json!({"userName": "ok@example.com", "active": true}))
        .await;
    assert_eq!(ok.status(), 201);
    let ok_id = ok.json::<Value>().await.unwrap()["id"].clone();
    let lost = app
        .create_user(&json!({"userName": "nosso@example.com", "active": true,
                             EXT: {"ssoName": "No Such SSO"}}))
        .await;
    assert_eq!(lost.status(), 201);
    let group = app
        .scim(reqwest::Method::POST, "/Groups")
        .json(&json!({"displayName": "Sales EU", "members": [{"value": ok_id}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(group.status(), 201);
    eventually(WAIT, "nosso's dead letter", || async {
        let (_, body) = get_json(&app, "/dead-letters").await;
        body["count"].as_u64().is_some_and(|n| n >= 1)
    })
    .await;

    let b = base.clone();
    let results = tokio::task::spawn_blocking(move || {
        let list_table = run(&b, &["-o", "table", "dead-letters", "list"]);
        let list_json = run(&b, &["dead-letters", "list", "--output", "json"]);
        let piped_default = run(&b, &["dead-letters", "list"]);
        let stats = run(&b, &["queue", "stats", "-o", "table"]);
        let stats_all = run(&b, &["queue", "stats", "--all", "-o", "table"]);
        let user = run(&b, &["-o", "table", "user", "status", "nosso@example.com"]);
        let group = run(&b, &["-o", "table", "group", "status", "sales eu"]);
        let closed = run_into_closed_pipe(&b, &["-o", "table", "queue", "stats", "--all"], 0);
        let head = run_into_closed_pipe(&b, &["-o", "json", "queue", "stats"], 16);
        let replay = run(
            &b,
            &[
                "-o",
                "json",
                "dead-letters",
                "replay",
                "--all",
                "--reason",
                "permanent",
            ],
        );
        (
            list_table,
            list_json,
            piped_default,
            stats,
            stats_all,
            user,
            group,
            closed,
            head,
            replay,
        )
    })
    .await
    .unwrap();
    let (list_table, list_json, piped_default, stats, stats_all, user, group, closed, head, replay) =
        results;
    app.shutdown().await;

    // A table: headers, the person's row with Splashtop's code, and how many rows.
    assert!(list_table.0, "{}", list_table.2);
    let t = &list_table.1;
    assert!(t.contains("REASON") && t.contains("CODE"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.contains("sso_method_not_found") && l.contains("open")),
        "{t}"
    );
    assert!(
        t.trim_end().ends_with("shown"),
        "a total closes every list: {t}"
    );
    assert!(
        serde_json::from_str::<Value>(t).is_err(),
        "a table is no JSON"
    );
    // JSON on request, and by default when standard output is not a terminal.
    for (what, out) in [("--output json", &list_json), ("piped", &piped_default)] {
        assert!(out.0, "{}", out.2);
        let v: Value = serde_json::from_str(&out.1).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            v["dead_letters"][0]["error_code"], "sso_method_not_found",
            "{what}"
        );
    }
    // Queue stats: one total row over both partitions, rates rounded; --all lists each.
    assert!(stats.0, "{}", stats.2);
    let total = stats
        .1
        .lines()
        .find(|l| l.trim_start().starts_with("total"));
    assert!(
        total.is_some_and(|l| l.contains("2 partitions")),
        "{}",
        stats.1
    );
    assert!(stats.1.contains("drain rate: "), "{}", stats.1);
    let rate = stats
        .1
        .lines()
        .find(|l| l.starts_with("drain rate: "))
        .unwrap();
    let number = rate["drain rate: ".len()..].split(' ').next().unwrap();
    assert!(
        number.split('.').nth(1).is_none_or(|d| d.len() <= 1),
        "rounded: {rate}"
    );
    assert_eq!(
        stats_all
            .1
            .lines()
            .filter(|l| l.contains(".jobs.p"))
            .count(),
        2,
        "{}",
        stats_all.1
    );
    // Status by userName, group status by displayName (any case).
    assert!(user.0, "{}", user.2);
    assert!(user.1.contains("nosso@example.com") && user.1.contains("timeline entr"));
    assert!(group.0, "{}", group.2);
    assert!(group.1.contains("POST /Groups"), "{}", group.1);
    // A reader that went away is no error and no panic.
    for (what, (code, stderr)) in [("closed at once", closed), ("closed after 16 bytes", head)] {
        assert_eq!(code, Some(0), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    // replay --all answers as the API's replay-matching does.
    assert!(replay.0, "{}", replay.2);
    let r: Value = serde_json::from_str(&replay.1).unwrap();
    assert_eq!(r["replayed"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["failed"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_list_show_replay_and_discard_with_the_api_s_confirmation() {
    let app = TestApp::spawn().await;
    let base = app.base_url();
    for who in ["nosso-a@example.com", "nosso-b@example.com"] {
        let created = app
            .create_user(&json!({"userName": who, "active": true,
                                 EXT: {"ssoName": "No Such SSO"}}))
            .await;
        assert_eq!(created.status(), 201);
    }
    let page = eventually(WAIT, "two open incidents", || async {
        let (_, body) = get_json(&app, "/incidents").await;
        (body["total"] == 2).then_some(body)
    })
    .await;
    let id_of = |email: &str| {
        page["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["email"] == email)
            .map(|i| i["id"].as_i64().unwrap().to_string())
            .unwrap()
    };
    let (a_id, b_id) = (id_of("nosso-a@example.com"), id_of("nosso-b@example.com"));

    let b = base.clone();
    let results = tokio::task::spawn_blocking(move || {
        let table = run(&b, &["-o", "table", "incidents", "list"]);
        let one = run(
            &b,
            &["incidents", "list", "--person", "NOSSO-A", "-o", "json"],
        );
        let stats = run(&b, &["-o", "table", "queue", "stats"]);
        let unconfirmed = run(
            &b,
            &[
                "incidents",
                "replay",
                "--all",
                "--cause",
                "sso_method_not_found",
            ],
        );
        let replayed = run(
            &b,
            &[
                "-o",
                "json",
                "incidents",
                "replay",
                "--all",
                "--person",
                "nosso-a",
                "--yes",
            ],
        );
        let shown = run(&b, &["-o", "table", "incidents", "show", &b_id]);
        let discarded = run(
            &b,
            &[
                "-o",
                "json",
                "incidents",
                "discard",
                &b_id,
                "--note",
                "left the company",
            ],
        );
        (table, one, stats, unconfirmed, replayed, shown, discarded)
    })
    .await
    .unwrap();
    let (table, one, stats, unconfirmed, replayed, shown, discarded) = results;
    app.shutdown().await;

    assert!(table.0, "{}", table.2);
    for email in ["nosso-a@example.com", "nosso-b@example.com"] {
        let row = table.1.lines().find(|l| l.contains(email));
        assert!(
            row.is_some_and(|r| r.contains("sso_method_not_found") && r.contains("ssoName")),
            "one row per person with the cause and what to do: {}",
            table.1
        );
    }
    assert!(
        table.1.trim_end().ends_with("2 incidents of 2 shown"),
        "{}",
        table.1
    );
    let one: Value = serde_json::from_str(&one.1).unwrap();
    assert_eq!(one["total"], 1, "{one}");
    assert_eq!(one["incidents"][0]["email"], "nosso-a@example.com");
    assert!(stats.1.starts_with("open incidents: 2\n"), "{}", stats.1);
    // Without a terminal to ask on, a bulk action needs --yes: nothing is done.
    assert!(!unconfirmed.0, "{}", unconfirmed.1);
    assert!(
        unconfirmed.2.contains("2 incidents match; nothing done"),
        "{}",
        unconfirmed.2
    );
    assert!(replayed.0, "{}", replayed.2);
    let r: Value = serde_json::from_str(&replayed.1).unwrap();
    assert_eq!(r["done"], true, "{r}");
    assert_eq!(r["replayed"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["replayed"][0]["incident"].to_string(), a_id, "{r}");
    assert!(shown.0, "{}", shown.2);
    assert!(shown.1.contains("nosso-b@example.com") && shown.1.contains("1 dead letter"));
    assert!(discarded.0, "{}", discarded.2);
    let d: Value = serde_json::from_str(&discarded.1).unwrap();
    assert_eq!(d["note"], "left the company", "{d}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_print_as_a_table_or_as_the_api_s_json() {
    let app = TestApp::spawn().await;
    let base = app.base_url();
    eventually(
        WAIT,
        "the worker's heartbeat with both partitions",
        || async {
            let (_, body) = get_json(&app, "/workers").await;
            body["partitions_held"] == 2
        },
    )
    .await;
    let b = base.clone();
    let (table, json_out, closed) = tokio::task::spawn_blocking(move || {
        (
            run(&b, &["workers", "-o", "table"]),
            run(&b, &["workers", "--output", "json"]),
            run_into_closed_pipe(&b, &["-o", "table", "workers"], 0),
        )
    })
    .await
    .unwrap();
    app.shutdown().await;

    assert!(table.0, "{}", table.2);
    let t = &table.1;
    assert!(
        t.contains("PARTITIONS") && t.contains("LAST HEARTBEAT"),
        "{t}"
    );
    assert!(
        t.lines().any(|l| l.contains("live") && l.contains("0,1")),
        "{t}"
    );
    assert!(
        t.trim_end()
            .ends_with("1 worker shown; 1 live, holding 2 partitions"),
        "{t}"
    );
    assert!(json_out.0, "{}", json_out.2);
    let answer: Value = serde_json::from_str(&json_out.1).expect("JSON");
    assert_eq!(answer["workers"][0]["state"], "live", "{answer}");
    assert_eq!(answer["workers"][0]["partitions"], json!([0, 1]));
    assert_eq!(answer["workers"][0]["pid"], std::process::id());
    assert_eq!(
        closed.0,
        Some(0),
        "a closed pipe is no failure: {}",
        closed.1
    );
}
