//! Microsoft's "SCIM Tests" Postman collection, run by newman 6 against a fresh receiver.
//!
//! The receiver must fail exactly the classified assertions of `expected::MICROSOFT`: a new
//! failure fails this test, and so does a classified failure that now passes, so that list
//! and `docs/conformance.md` (whose figures are checked too) stay true.

use splashsync_conformance::collection::Prepared;
use splashsync_conformance::expected::{Category, MICROSOFT};
use splashsync_conformance::newman::Newman;
use splashsync_conformance::outcome::Run;
use splashsync_conformance::receiver::{TestReceiver, SCIM_TOKEN};
use splashsync_conformance::{conformance_doc, microsoft_dir};

/// The folder that calls the reference server's own `/Token` endpoint.
const TOKEN_FOLDER: &str = "Get Token";

fn doc() -> String {
    std::fs::read_to_string(conformance_doc()).expect("docs/conformance.md is readable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_scim_tests_fail_only_where_classified() {
    // Before anything starts: a missing newman fails with how to install it, never skips.
    let newman = Newman::locate().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("temp dir");
    let prepared = Prepared::from_file(
        &microsoft_dir().join("PostmanCollection.json"),
        &[TOKEN_FOLDER],
    )
    .expect("the collection is readable");
    let collection = dir.path().join("collection.json");
    let report = dir.path().join("report.json");
    prepared.write(&collection).expect("collection written");

    let receiver = TestReceiver::start().await.expect("receiver starts");
    let env = [
        ("Protocol", "http".to_string()),
        ("Server", "127.0.0.1".to_string()),
        ("Port", format!(":{}", receiver.port())),
        ("Api", "scim/v2".to_string()),
        ("token", SCIM_TOKEN.to_string()),
    ];
    let runner = newman.clone();
    let result = tokio::task::spawn_blocking(move || runner.run(&collection, &env, &report)).await;
    // Clean the broker up before any assertion can fail.
    receiver.shutdown().await;
    let report = result
        .expect("the newman task finished")
        .expect("newman ran the collection");

    let run = Run::read(&report, &prepared).expect("newman's report is readable");
    let summary = format!(
        "{} assertions: {} passed, {} failed",
        run.assertions.len(),
        run.passed(),
        run.failed()
    );
    println!(
        "Microsoft SCIM Tests (newman {}, {} requests): {summary}",
        newman.version(),
        prepared.requests()
    );
    for a in run.assertions.iter().filter(|a| a.failure.is_some()) {
        println!("  failed: {} :: {}", a.request, a.name);
    }
    assert!(
        run.problems.is_empty(),
        "the run had problems besides assertions:\n{}",
        run.problems.join("\n")
    );
    let verdict = run.compare(MICROSOFT);
    assert!(verdict.is_clean(), "{verdict}");
    assert!(
        doc().contains(&summary),
        "docs/conformance.md must give today's figures: \"{summary}\""
    );
}

/// Every classified failure is in the doc, in its category's section, with its RFC
/// section or issue number. Needs no newman.
#[test]
fn the_doc_explains_every_classified_failure() {
    let doc = doc();
    let mut section = "";
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = heading;
        } else if line.starts_with('|') {
            rows.push((section, line));
        }
    }
    for e in MICROSOFT {
        let (wanted, mark) = match e.category {
            Category::Deviation { rfc } => ("Deviations", rfc.to_string()),
            Category::Open { issue } => ("Open defects", format!("#{issue}")),
        };
        let found = rows.iter().any(|(s, row)| {
            s.starts_with(wanted)
                && row.contains(&format!("| {} |", e.request))
                && row.contains(&format!("| {} |", e.assertion))
                && row.contains(&mark)
        });
        assert!(
            found,
            "docs/conformance.md needs a row under \"## {wanted}\" with | {} | {} | and {mark}",
            e.request, e.assertion
        );
    }
}
