//! The limiter on a paused clock: spacing, AIMD, the Retry-After cap, stops.

use super::*;

fn unobserved() -> Histogram {
    Histogram::new(std::iter::empty())
}

#[tokio::test(start_paused = true)]
async fn calls_are_spaced_to_the_share_and_a_429_halves_the_rate() {
    let limiter = RateLimiter::new(600, unobserved());
    assert!((limiter.rate() - 9.7).abs() < 1e-9);
    limiter.set_workers(2);
    assert!((limiter.rate() - 4.85).abs() < 1e-9);
    let start = Instant::now();
    for _ in 0..5 {
        limiter.acquire().await.unwrap();
    }
    // The new share's first interval (a worker joined), then four gaps of 1/4.85 s:
    // no burst.
    let took = start.elapsed().as_secs_f64();
    assert!((took - 5.0 / 4.85).abs() < 0.01, "took {took}");
    limiter.on_throttled(Some(Duration::from_secs(3)));
    assert!((limiter.rate() - 2.425).abs() < 1e-9);
    let before = Instant::now();
    limiter.acquire().await.unwrap();
    assert!(before.elapsed() >= Duration::from_secs(2));
    for _ in 0..100 {
        limiter.on_success();
    }
    assert!((limiter.rate() - 4.85).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn zero_means_unlimited() {
    let limiter = RateLimiter::new(0, unobserved());
    let start = Instant::now();
    for _ in 0..1000 {
        limiter.acquire().await.unwrap();
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_past_the_cap_pauses_only_for_the_cap() {
    let capped = Counter::default();
    let limiter = RateLimiter::new(600, unobserved())
        .with_max_pause(Duration::from_secs(2))
        .with_instruments(Gauge::default(), capped.clone());
    let asked = ApiError::Transient {
        status: Some(429),
        retry_after: Some(Duration::from_secs(999_999_999)),
        detail: "slow down".into(),
    };
    let error = limiter.cap_retry_after(asked);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(capped.get(), 1);
    limiter.on_throttled(error.retry_after());
    assert!(limiter.throttled_for().is_some());
    let before = Instant::now();
    limiter.acquire().await.unwrap();
    let waited = before.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(limiter.throttled_for(), None, "the pause is over");
    // A Retry-After under the cap is honoured as sent.
    let short = ApiError::Transient {
        status: Some(429),
        retry_after: Some(Duration::from_secs(1)),
        detail: String::new(),
    };
    assert_eq!(
        limiter.cap_retry_after(short).retry_after(),
        Some(Duration::from_secs(1))
    );
    assert_eq!(capped.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_wait_for_a_slot_and_the_call_is_not_made() {
    let waiting = Gauge::default();
    let limiter = Arc::new(
        RateLimiter::new(600, unobserved())
            .with_max_pause(Duration::from_secs(600))
            .with_instruments(waiting.clone(), Counter::default()),
    );
    limiter.on_throttled(Some(Duration::from_secs(600)));
    let (tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let policy = crate::retry::RetryPolicy::default();
    let job = crate::retry::retry(
        &policy,
        started,
        &stop,
        |_| {
            let limiter = limiter.clone();
            async move {
                limiter
                    .acquire()
                    .await
                    .map_err(|Stopped| ApiError::transient("stopped"))
            }
        },
        |_, _, _| Box::pin(async {}),
    );
    let stopper = async {
        while waiting.get() == 0 {
            tokio::task::yield_now().await;
        }
        let _ = tx.send(true);
    };
    let ((result, attempts), ()) = tokio::join!(job, stopper);
    assert!(
        matches!(result, Err(crate::retry::GaveUp::Stopped)),
        "{result:?}"
    );
    assert_eq!(attempts, 1);
    assert_eq!(waiting.get(), 0);
    assert!(started.elapsed() < Duration::from_secs(600));
}

#[tokio::test(start_paused = true)]
async fn every_listing_page_takes_one_slot() {
    use crate::testkit::Flaky;
    let client = splashtop_api::HttpTeamApi::new(
        "http://127.0.0.1:9",
        "team-1",
        secrecy::SecretString::from("unused-token".to_owned()),
        Duration::from_secs(1),
    )
    .unwrap();
    // Every call answers 400 without leaving the process: only the slots take time.
    let refused = ApiError::Permanent {
        status: 400,
        code: splashtop_api::ErrorCode::InvalidRequest,
        message: "cursor is not one this listing handed out".into(),
        body: String::new(),
    };
    let flaky = Arc::new(Flaky::always(Arc::new(client), refused));
    let limiter = Arc::new(RateLimiter::new(600, unobserved()));
    let api = RateLimitedApi::new(flaky.clone(), limiter.clone());
    let cx = CallContext::default();
    // The first slot is free; each later one waits one interval of 1/9.7 s.
    let start = Instant::now();
    assert!(api.users_page(&cx, None, 100).await.is_err());
    assert!(api.users_page(&cx, Some("u1"), 100).await.is_err());
    assert!(api.groups_page(&cx, None, 500).await.is_err());
    assert!(api.groups_page(&cx, Some("g1"), 500).await.is_err());
    assert_eq!(flaky.calls(), 4);
    let took = start.elapsed().as_secs_f64();
    assert!((took - 3.0 / 9.7).abs() < 0.01, "took {took}");
}

#[test]
fn the_workers_and_the_reconciler_together_stay_within_the_team_limit() {
    // The defaults: 200/min, 10 of them the reconciler's, one worker.
    assert!((share_per_minute(200, 10, 1) - 184.3).abs() < 1e-9);
    assert!((share_per_minute(200, 10, 2) - 92.15).abs() < 1e-9);
    // Nothing reserved: the whole limit, less the margin.
    assert!((share_per_minute(200, 0, 1) - 194.0).abs() < 1e-9);
    for limit in [1, 60, 200, 6000] {
        for reserved in [0, 1, 10, 300] {
            for live in 1..=5 {
                let workers = share_per_minute(limit, reserved, live) * live as f64;
                let reconciler = f64::from(reserved.min(limit));
                assert!(
                    workers + reconciler <= f64::from(limit),
                    "{limit}/min, {reserved} reserved, {live} workers: {workers} + {reconciler}"
                );
            }
        }
    }
    // A reserve that takes the whole limit leaves the workers nothing (the worker's
    // settings refuse it).
    assert_eq!(share_per_minute(200, 200, 1), 0.0);
}

#[tokio::test(start_paused = true)]
async fn the_reconcilers_reserve_is_taken_off_before_the_limit_is_split() {
    let limiter = RateLimiter::new(600, unobserved()).with_reserved(60);
    assert!((limiter.share() - 540.0 * 0.97 / 60.0).abs() < 1e-9);
    assert!((limiter.rate() - limiter.share()).abs() < 1e-9);
    limiter.set_workers(2);
    assert!((limiter.share() - 540.0 * 0.97 / 120.0).abs() < 1e-9);
    let start = Instant::now();
    for _ in 0..10 {
        limiter.acquire().await.unwrap();
    }
    // The first call waited one interval (a worker joined), then nine more.
    let took = start.elapsed().as_secs_f64();
    assert!((took - 10.0 / limiter.share()).abs() < 0.01, "took {took}");
}
