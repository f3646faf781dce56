use std::sync::Arc;

use super::*;

#[test]
fn names_follow_prometheus_conventions_and_labels_are_set() {
    let health = Health::new();
    health.ready("session");
    health.not_ready("heartbeat", "failed");
    let metrics = Metrics::with_health(health);
    metrics
        .api_calls()
        .observe("POST", Some(422), std::time::Duration::from_millis(10));
    metrics
        .api_calls()
        .observe("BREW", None, std::time::Duration::from_millis(10));
    metrics.limiter_waiting().set(2);
    metrics.retry_after_capped().inc();
    metrics.job("user", "applied");
    metrics.retry("user", &ApiError::transient("connection refused"));
    metrics.retry(
        "user",
        &ApiError::Transient {
            status: Some(429),
            retry_after: None,
            detail: "slow down".into(),
        },
    );
    metrics.dead_letter("group", "permanent", Some("group_limit_reached"), Some(422));
    metrics.dead_letter("user", "permanent", Some("seat_limit_reached"), Some(422));
    metrics.dead_letter("user", "retry_budget_exhausted", None, Some(503));
    metrics.set_partitions_held(2);
    metrics.set_live_workers(3);
    metrics.mirror().miss();
    metrics.mirror().fill("complete");
    metrics.coalesced("user");
    let text = metrics.encode().unwrap();
    for line in [
        r#"splashsync_worker_jobs_total{kind="user",outcome="applied"} 1"#,
        r#"splashsync_worker_jobs_total{kind="group",outcome="dead_lettered"} 1"#,
        r#"splashsync_worker_job_retries_total{kind="user",code="none"} 1"#,
        r#"splashsync_worker_job_retries_total{kind="user",code="rate_limited"} 1"#,
        r#"splashsync_worker_dead_letters_total{kind="group",reason="permanent",code="group_limit_reached"} 1"#,
        r#"splashsync_worker_dead_letters_total{kind="user",reason="permanent",code="seat_limit_reached"} 1"#,
        r#"splashsync_worker_dead_letters_total{kind="user",reason="retry_budget_exhausted",code="internal_error"} 1"#,
        r#"splashsync_worker_splashtop_requests_total{method="POST",status="422"} 1"#,
        r#"splashsync_worker_splashtop_request_duration_seconds_count{method="POST"} 1"#,
        "splashsync_worker_rate_limiter_wait_seconds_count 0",
        "splashsync_worker_partitions_held 2",
        "splashsync_worker_live_workers 3",
        "splashsync_worker_mirror_misses_total 1",
        "splashsync_worker_mirror_reads_total 0",
        r#"splashsync_worker_mirror_fills_total{outcome="complete"} 1"#,
        r#"splashsync_worker_jobs_coalesced_total{kind="user"} 1"#,
        r#"splashsync_worker_jobs_total{kind="user",outcome="superseded"} 1"#,
        r#"splashsync_worker_splashtop_requests_total{method="other",status="error"} 1"#,
        "splashsync_worker_rate_limiter_waiting 2",
        "splashsync_worker_retry_after_capped_total 1",
        r#"splashsync_worker_task_restarts_total{task="session"} 0"#,
        r#"splashsync_worker_task_ready{task="session"} 1"#,
        r#"splashsync_worker_task_ready{task="heartbeat"} 0"#,
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("splashsync_worker_panics_total ")),
        "{text}"
    );
}

#[test]
fn an_error_code_label_takes_only_the_contract_s_codes() {
    assert_eq!(
        code_label(Some("seat_limit_reached"), Some(422)),
        "seat_limit_reached"
    );
    assert_eq!(
        code_label(Some("sso_method_not_found"), None),
        "sso_method_not_found"
    );
    assert_eq!(code_label(Some("http_418"), Some(418)), "other");
    assert_eq!(
        code_label(Some("a-new-code-every-time-1234"), Some(422)),
        "other"
    );
    assert_eq!(code_label(None, Some(429)), "rate_limited");
    assert_eq!(code_label(None, Some(502)), "internal_error");
    assert_eq!(code_label(None, None), "none");
    assert_eq!(code_label(None, Some(408)), "none");
}

#[test]
fn the_build_is_named_and_job_ages_are_observed() {
    let metrics = Metrics::new();
    let an_hour_ago = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let created = an_hour_ago
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    metrics.job_taken("user", &created);
    metrics.job_applied("user", &created);
    metrics.job_taken("user", "not a time");
    let text = metrics.encode().unwrap();
    let version = format!(
        r#"splashsync_build_info{{version="{}""#,
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with(&version) && l.ends_with(" 1")),
        "{text}"
    );
    for (histogram, count) in [
        ("splashsync_worker_job_age_seconds", 1),
        ("splashsync_worker_scim_to_applied_seconds", 1),
    ] {
        let line = format!(r#"{histogram}_count{{kind="user"}} {count}"#);
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        let sum = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!(r#"{histogram}_sum{{kind="user"}} "#)))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap();
        assert!((3599.0..3700.0).contains(&sum), "{histogram}: {sum}");
    }
}

#[test]
fn the_rate_limiter_s_effective_rate_and_why() {
    let metrics = Metrics::new();
    assert!(
        !metrics.encode().unwrap().contains("rate_limit_state"),
        "nothing is read before a limiter is watched"
    );
    let reading = Arc::new(std::sync::Mutex::new(RateReading {
        effective: 3.0,
        share: 3.0,
        paused: 0.0,
    }));
    let source = reading.clone();
    metrics.watch_rate(move || *source.lock().unwrap());
    let state_of = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("splashsync_worker_rate_limit_state{") && l.ends_with(" 1"))
            .map(str::to_string)
            .collect()
    };
    let text = metrics.encode().unwrap();
    assert_eq!(
        state_of(&text),
        [r#"splashsync_worker_rate_limit_state{state="full_share"} 1"#]
    );
    assert!(
        text.lines()
            .any(|l| l == "splashsync_worker_rate_limit_effective_per_minute 180.0"),
        "{text}"
    );
    *reading.lock().unwrap() = RateReading {
        effective: 0.75,
        share: 3.0,
        paused: 0.0,
    };
    let text = metrics.encode().unwrap();
    assert_eq!(
        state_of(&text),
        [r#"splashsync_worker_rate_limit_state{state="reduced_after_429"} 1"#]
    );
    assert!(
        text.lines()
            .any(|l| l == "splashsync_worker_rate_limit_effective_per_minute 45.0"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "splashsync_worker_rate_limit_share_per_minute 180.0"),
        "{text}"
    );
    *reading.lock().unwrap() = RateReading {
        effective: 1.5,
        share: 3.0,
        paused: 12.5,
    };
    let text = metrics.encode().unwrap();
    assert_eq!(
        state_of(&text),
        [r#"splashsync_worker_rate_limit_state{state="paused_after_429"} 1"#]
    );
    assert!(
        text.lines()
            .any(|l| l == "splashsync_worker_rate_limit_paused_seconds 12.5"),
        "{text}"
    );
    *reading.lock().unwrap() = RateReading {
        effective: f64::INFINITY,
        share: f64::INFINITY,
        paused: 0.0,
    };
    let text = metrics.encode().unwrap();
    assert_eq!(
        state_of(&text),
        [r#"splashsync_worker_rate_limit_state{state="unlimited"} 1"#]
    );
    assert!(!text.contains("effective_per_minute"), "{text}");
}
