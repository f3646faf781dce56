//! What a newman run says about each assertion, and how that compares with the failures
//! a suite is expected to have.

use std::collections::HashMap;
use std::fmt;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::collection::Prepared;
use crate::expected::Expected;

/// How much of a response body a failure shows.
const BODY_EXCERPT: usize = 400;

/// One assertion (`pm.test`) of one request.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The request's label, `Folder / Request` (see [`crate::collection`]).
    pub request: String,
    /// The assertion's name as the collection spells it.
    pub name: String,
    /// The exchange it judged: method, path and query, status, start of the body.
    pub exchange: String,
    /// Why it failed (newman's message); `None` when it passed.
    pub failure: Option<String>,
}

/// Every assertion of a run, and what went wrong besides assertions.
#[derive(Debug, Default)]
pub struct Run {
    /// The assertions in run order.
    pub assertions: Vec<Assertion>,
    /// Requests that got no answer and scripts that threw outside a `pm.test`.
    pub problems: Vec<String>,
}

impl Run {
    /// Reads newman's JSON report of a run of `prepared`.
    pub fn read(report: &Value, prepared: &Prepared) -> anyhow::Result<Self> {
        let executions = report["run"]["executions"]
            .as_array()
            .context("the report has no run.executions")?;
        let mut run = Run::default();
        let label = |item: &Value| -> String {
            let id = item["id"].as_str().unwrap_or_default();
            prepared.label(id).unwrap_or(id).to_string()
        };
        for execution in executions {
            let request = label(&execution["item"]);
            if let Some(error) = execution.get("requestError") {
                run.problems
                    .push(format!("{request}: no answer: {}", error["message"]));
            }
            let exchange = exchange(execution);
            for assertion in execution["assertions"].as_array().into_iter().flatten() {
                if assertion["skipped"] == true {
                    run.problems.push(format!(
                        "{request}: assertion {} skipped",
                        assertion["assertion"]
                    ));
                    continue;
                }
                run.assertions.push(Assertion {
                    request: request.clone(),
                    name: assertion["assertion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    exchange: exchange.clone(),
                    failure: assertion
                        .get("error")
                        .map(|e| e["message"].as_str().unwrap_or_default().to_string()),
                });
            }
        }
        for failure in report["run"]["failures"].as_array().into_iter().flatten() {
            let at = failure["at"].as_str().unwrap_or_default();
            if !at.starts_with("assertion:") {
                run.problems.push(format!(
                    "{}: {at}: {}",
                    label(&failure["source"]),
                    failure["error"]["message"]
                ));
            }
        }
        let mut seen = HashMap::new();
        for a in &run.assertions {
            if seen.insert((&a.request, &a.name), ()).is_some() {
                bail!(
                    "assertion {:?} of {:?} ran twice: labels must be unique",
                    a.name,
                    a.request
                );
            }
        }
        Ok(run)
    }

    /// How many assertions passed.
    pub fn passed(&self) -> usize {
        self.assertions
            .iter()
            .filter(|a| a.failure.is_none())
            .count()
    }

    /// How many assertions failed.
    pub fn failed(&self) -> usize {
        self.assertions.len() - self.passed()
    }

    /// Compares the failed assertions with `expected`.
    pub fn compare<'a>(&'a self, expected: &'a [Expected]) -> Verdict<'a> {
        let by_key: HashMap<(&str, &str), &Assertion> = self
            .assertions
            .iter()
            .map(|a| ((a.request.as_str(), a.name.as_str()), a))
            .collect();
        let is_expected = |a: &Assertion| {
            expected
                .iter()
                .any(|e| e.request == a.request && e.assertion == a.name)
        };
        let mut verdict = Verdict {
            unexpected: self
                .assertions
                .iter()
                .filter(|a| a.failure.is_some() && !is_expected(a))
                .collect(),
            ..Verdict::default()
        };
        for e in expected {
            match by_key.get(&(e.request, e.assertion)) {
                None => verdict.absent.push(e),
                Some(a) if a.failure.is_none() => verdict.now_passing.push(e),
                Some(_) => {}
            }
        }
        verdict
    }
}

/// `GET /scim/v2/users -> 404 {"schemas":…}`.
fn exchange(execution: &Value) -> String {
    let url = &execution["request"]["url"];
    let path: Vec<&str> = url["path"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let query: Vec<String> = url["query"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            format!(
                "{}={}",
                q["key"].as_str().unwrap_or_default(),
                q["value"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let mut target = format!("/{}", path.join("/"));
    if !query.is_empty() {
        target = format!("{target}?{}", query.join("&"));
    }
    let response = &execution["response"];
    let body: Vec<u8> = response["stream"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect();
    let body = String::from_utf8_lossy(&body);
    let excerpt: String = body.chars().take(BODY_EXCERPT).collect();
    format!(
        "{} {target} -> {} {excerpt}",
        execution["request"]["method"].as_str().unwrap_or("?"),
        response["code"]
    )
}

/// The differences between a run's failures and the expected ones.
#[derive(Debug, Default)]
pub struct Verdict<'a> {
    /// Failed, but not expected to.
    pub unexpected: Vec<&'a Assertion>,
    /// Expected to fail, but passed.
    pub now_passing: Vec<&'a Expected>,
    /// Expected to fail, but did not run at all (renamed, or the list is out of date).
    pub absent: Vec<&'a Expected>,
}

impl Verdict<'_> {
    /// Whether the run failed exactly where expected.
    pub fn is_clean(&self) -> bool {
        self.unexpected.is_empty() && self.now_passing.is_empty() && self.absent.is_empty()
    }
}

impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.unexpected.is_empty() {
            writeln!(f, "Failed but not classified (fix the receiver, or classify the failure in tests/conformance/src/expected.rs and docs/conformance.md):")?;
            for a in &self.unexpected {
                writeln!(
                    f,
                    "  - {} :: {}: {}\n      {}",
                    a.request,
                    a.name,
                    a.failure.as_deref().unwrap_or_default(),
                    a.exchange
                )?;
            }
        }
        if !self.now_passing.is_empty() {
            writeln!(f, "Expected to fail but passed (remove the entry from tests/conformance/src/expected.rs and docs/conformance.md):")?;
            for e in &self.now_passing {
                writeln!(f, "  - {} :: {} ({})", e.request, e.assertion, e.category)?;
            }
        }
        if !self.absent.is_empty() {
            writeln!(
                f,
                "Expected to fail but never ran (a renamed request or assertion?):"
            )?;
            for e in &self.absent {
                writeln!(f, "  - {} :: {}", e.request, e.assertion)?;
            }
        }
        Ok(())
    }
}
