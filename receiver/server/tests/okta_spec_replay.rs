//! Replays Okta's published SCIM 2.0 spec test (the Runscope export in
//! `fixtures/Okta-SCIM-20-SPEC-Test.json`, kept verbatim) against the receiver: every
//! request step with its headers, variables and assertions, as Okta's runner would.

mod common;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use tower::ServiceExt;

const SPEC: &str = include_str!("fixtures/Okta-SCIM-20-SPEC-Test.json");

fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}

/// Percent-encodes what Okta's runner would in a query string.
fn encode_query(url: &str) -> String {
    let Some((path, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let mut q = String::new();
    for c in query.chars() {
        match c {
            ' ' => q.push_str("%20"),
            '"' => q.push_str("%22"),
            '@' => q.push_str("%40"),
            c => q.push(c),
        }
    }
    format!("{path}?{q}")
}

/// `Resources[0].name.familyName` → the value there.
fn property<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = body;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check(assertion: &Value, status: u16, body: &Value, vars: &HashMap<String, String>, note: &str) {
    let comparison = assertion["comparison"].as_str().unwrap_or_default();
    let expected = assertion["value"].as_str().map(|v| substitute(v, vars));
    match assertion["source"].as_str().unwrap_or_default() {
        "response_status" => {
            assert_eq!(
                Some(status.to_string()),
                expected,
                "{note}: status (body {body})"
            );
        }
        // Speed is measured by the benchmarks, not asserted here.
        "response_time" => {}
        "response_json" => {
            let prop = assertion["property"].as_str().unwrap_or_default();
            let actual = property(body, prop);
            let ok = match comparison {
                "not_empty" => actual.is_some_and(|v| !(v.is_null() || v == "" || v == &json!([]))),
                "is_a_number" => actual.is_some_and(Value::is_number),
                "has_value" | "contains" => actual.is_some_and(|v| match v {
                    Value::Array(items) => items.iter().any(|i| Some(as_text(i)) == expected),
                    other => expected
                        .as_deref()
                        .is_some_and(|e| as_text(other).contains(e)),
                }),
                "equal" | "equal_number" => actual.map(as_text) == expected,
                other => panic!("{note}: comparison {other} not understood by this replay"),
            };
            assert!(
                ok,
                "{note}: {prop} {comparison} {expected:?}, got {actual:?} in {body}"
            );
        }
        other => panic!("{note}: assertion source {other} not understood by this replay"),
    }
}

#[tokio::test]
async fn okta_scim_spec_test_passes_step_by_step() {
    replay_spec(common::api().await).await;
}

/// The suite also passes under the rename policy `reinvite` (it changes no userName).
#[tokio::test]
async fn okta_scim_spec_test_passes_under_the_reinvite_rename_policy() {
    use splashsync_directory::model::RenamePolicy;
    use splashsync_directory::GroupPolicy;
    replay_spec(common::api_with_policies(GroupPolicy::Reject, RenamePolicy::Reinvite).await).await;
}

async fn replay_spec(api: common::Api) {
    // The spec test expects at least one user in the app before it starts.
    let (s, _, _) = api
        .post("/scim/v2/Users", &json!({"userName": "existing@atko.com", "name": {"givenName": "Existing", "familyName": "User"},
            "emails": [{"primary": true, "value": "existing@atko.com", "type": "work"}], "active": true}))
        .await;
    assert_eq!(s, 201);
    let email = "Runscope123Abcdefgh456@atko.com";
    let mut vars: HashMap<String, String> = [
        ("SCIMBaseURL", "/scim/v2".to_string()),
        ("auth", format!("Bearer {}", common::TOKEN)),
        ("randomGivenName", "Runscope123".into()),
        ("randomFamilyName", "Abcdefgh456".into()),
        ("randomEmail", email.into()),
        ("randomUsername", email.into()),
        ("randomUsernameCaps", email.to_uppercase()),
        ("InvalidUserEmail", "abcdefgh@atko.com".into()),
        (
            "UserIdThatDoesNotExist",
            "010101001010101011001010101011".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let spec: Value = serde_json::from_str(SPEC).unwrap();
    let mut requests = 0;
    for step in spec["steps"].as_array().unwrap() {
        if step["step_type"] != "request" || step["skipped"] == true {
            continue;
        }
        requests += 1;
        let note = step["note"].as_str().unwrap_or("step").to_string();
        let url = encode_query(&substitute(step["url"].as_str().unwrap(), &vars));
        let mut req = Request::builder()
            .method(step["method"].as_str().unwrap())
            .uri(url);
        for (name, values) in step["headers"].as_object().unwrap() {
            for v in values.as_array().unwrap() {
                req = req.header(name.as_str(), substitute(v.as_str().unwrap(), &vars));
            }
        }
        let body = step["body"]
            .as_str()
            .map(|b| substitute(b, &vars))
            .unwrap_or_default();
        let response = api
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        for assertion in step["assertions"].as_array().unwrap() {
            check(assertion, status, &json, &vars, &note);
        }
        for var in step["variables"].as_array().into_iter().flatten() {
            if let (Some(name), Some(value)) = (
                var["name"].as_str(),
                property(&json, var["property"].as_str().unwrap_or("")),
            ) {
                vars.insert(name.to_string(), as_text(value));
            }
        }
    }
    assert_eq!(requests, 12, "every request step of the suite ran");
}
