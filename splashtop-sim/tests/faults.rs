//! Injected faults: none of them applies a change (except `error_after_apply_rate`).

mod common;

use std::time::{Duration, Instant};

use common::start;
use reqwest::{Method, StatusCode};
use serde_json::json;
use splashtop_sim::{Faults, SimConfig};

fn with(faults: Faults) -> SimConfig {
    SimConfig {
        faults,
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn errors_answer_5xx_and_change_nothing() {
    let sim = start(with(Faults {
        error_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    for n in 0..10 {
        let answer = sim.invite(&format!("u{n}@example.com"), json!({})).await;
        assert!(answer.status.is_server_error(), "{:?}", answer.status);
        assert!([500, 502, 503].contains(&answer.status.as_u16()));
        assert_eq!(answer.code(), "internal_error");
    }
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert!(sim.handle.log().is_empty());
    assert_eq!(sim.handle.stats()["injected_errors"], 10);
    // The control endpoints are never faulted.
    assert_eq!(sim.get("/_sim/state").await.status, StatusCode::OK);
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after() {
    let sim = start(with(Faults {
        throttle_rate: 1.0,
        retry_after_secs: 7,
        ..Faults::default()
    }))
    .await;
    let answer = sim.invite("a@example.com", json!({})).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(answer.retry_after, Some(7));
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert_eq!(sim.handle.stats()["by_status"], json!({"429": 1}));
}

#[tokio::test]
async fn the_rate_limit_refuses_the_request_over_it() {
    let sim = start(with(Faults {
        rate_limit_per_minute: 3,
        ..Faults::default()
    }))
    .await;
    for n in 0..3 {
        let answer = sim.invite(&format!("u{n}@example.com"), json!({})).await;
        assert_eq!(answer.status, StatusCode::CREATED);
    }
    let over = sim.invite("u3@example.com", json!({})).await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(
        over.retry_after
            .is_some_and(|secs| (59..=60).contains(&secs)),
        "{:?}",
        over.retry_after
    );
    assert_eq!(
        sim.handle.snapshot()["users"].as_array().map(Vec::len),
        Some(3)
    );
    let stats = sim.get("/_sim/stats").await.body;
    assert_eq!(stats["rejected_rate_limited"], 1);
    assert_eq!(stats["by_status"], json!({"201": 3, "429": 1}));
}

#[tokio::test]
async fn latency_delays_api_requests() {
    let sim = start(with(Faults {
        latency_ms: 300,
        ..Faults::default()
    }))
    .await;
    let started = Instant::now();
    assert_eq!(sim.get(&sim.team("/users")).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    sim.get("/_sim/state").await;
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_hanging_request_times_the_client_out_and_changes_nothing() {
    let sim = start(with(Faults {
        timeout_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let body = json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
    let request = sim
        .request(Method::POST, &sim.team("/users"))
        .timeout(Duration::from_millis(300))
        .json(&body);
    let error = request.send().await.err();
    assert!(error.is_some_and(|e| e.is_timeout()));
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert_eq!(sim.handle.stats()["timeouts"], 1);
    // Shutdown does not wait for the 120 s hang.
    let started = Instant::now();
    let pending = tokio::spawn(sim.request(Method::GET, &sim.team("/users")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.handle.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let answer = pending.await.ok().and_then(Result::ok).map(|r| r.status());
    assert_eq!(answer, Some(StatusCode::SERVICE_UNAVAILABLE));
}

#[tokio::test]
async fn a_reset_drops_the_connection_without_an_answer() {
    let sim = start(with(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let body = json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
    for _ in 0..3 {
        let result = sim
            .request(Method::POST, &sim.team("/users"))
            .json(&body)
            .send()
            .await;
        let error = result.err();
        assert!(
            error
                .as_ref()
                .is_some_and(|e| !e.is_timeout() && e.status().is_none()),
            "{error:?}"
        );
    }
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert_eq!(sim.handle.stats()["resets"], 3);
    // The server is still fine afterwards.
    sim.handle.set_faults(Faults::default());
    assert_eq!(
        sim.invite("a@example.com", json!({})).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_error_after_applying_makes_a_retried_invite_conflict() {
    let sim = start(with(Faults {
        error_after_apply_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let first = sim.invite("a@example.com", json!({})).await;
    assert_eq!(
        (first.status, first.code()),
        (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
    );
    let log = sim.handle.log();
    assert_eq!((log.len(), log[0].status), (1, 500));
    // Reads are never faulted this way: the client finds the user it invited.
    let found = sim.get(&sim.team("/users?email=a%40example.com")).await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(found.body["users"][0]["email"], "a@example.com");
    sim.handle.set_faults(Faults::default());
    let retry = sim.invite("a@example.com", json!({})).await;
    assert_eq!(
        (retry.status, retry.code()),
        (StatusCode::CONFLICT, "user_exists")
    );
}

#[tokio::test]
async fn faults_change_at_run_time() {
    let sim = start(SimConfig::default()).await;
    assert_eq!(
        sim.get("/_sim/faults").await.body,
        serde_json::to_value(Faults::default()).unwrap_or_default()
    );
    let put = sim
        .call(
            Method::PUT,
            "/_sim/faults",
            Some(json!({"throttle_rate": 1.0, "retry_after_secs": 3})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    assert_eq!(sim.get(&sim.team("/users")).await.retry_after, Some(3));
    let patch = sim
        .call(
            Method::PATCH,
            "/_sim/faults",
            Some(json!({"throttle_rate": 0.0})),
        )
        .await;
    assert_eq!(patch.body["retry_after_secs"], 3);
    assert_eq!(sim.get(&sim.team("/users")).await.status, StatusCode::OK);
    for bad in [json!({"error_rate": 2.0}), json!({"eror_rate": 0.5})] {
        let answer = sim.call(Method::PUT, "/_sim/faults", Some(bad)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    }
    assert_eq!(sim.handle.faults().retry_after_secs, 3);
    // Faults survive a reset.
    sim.call(Method::POST, "/_sim/reset", None).await;
    assert_eq!(sim.handle.faults().retry_after_secs, 3);
}

#[tokio::test]
async fn a_garbled_answer_applies_the_change_but_its_body_does_not_parse() {
    let sim = start(with(Faults {
        garbled_answer_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let body = json!({"email": "a@example.com", "first_name": "A", "last_name": "B"});
    let answer = sim
        .request(Method::POST, &sim.team("/users"))
        .json(&body)
        .send()
        .await
        .expect("an answer comes");
    assert_eq!(answer.status(), StatusCode::CREATED);
    let text = answer.bytes().await.expect("body");
    assert!(!text.is_empty());
    assert!(serde_json::from_slice::<serde_json::Value>(&text).is_err());
    // Applied and logged, as the client was (garbled) told.
    let users = sim.handle.snapshot()["users"].clone();
    assert_eq!(users[0]["email"], "a@example.com");
    let id = users[0]["id"].as_str().unwrap_or_default().to_owned();
    // A 204 cannot carry a body: it comes back as a 200 with a stray `{`.
    let removed = sim
        .request(Method::DELETE, &sim.team(&format!("/users/{id}")))
        .send()
        .await
        .expect("an answer comes");
    assert_eq!(removed.status(), StatusCode::OK);
    assert_eq!(&removed.bytes().await.expect("body")[..], b"{");
    assert_eq!(sim.handle.snapshot()["users"], json!([]));
    assert_eq!(sim.handle.stats()["garbled_answers"], 2);
    // Failures are not garbled: they already say what went wrong.
    let missing = sim
        .call(Method::DELETE, &sim.team(&format!("/users/{id}")), None)
        .await;
    assert_eq!(missing.code(), "user_not_found");
}
