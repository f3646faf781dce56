use super::*;
use backon::BackoffBuilder;

fn transient(retry_after: Option<Duration>) -> ApiError {
    ApiError::Transient {
        status: Some(503),
        retry_after,
        detail: "down".into(),
    }
}

fn no_step(_: &ApiError, _: Duration, _: u32) -> BoxFuture<'static, ()> {
    Box::pin(async {})
}

#[test]
fn waits_grow_under_the_capped_ceiling_and_honour_retry_after() {
    let policy = RetryPolicy::default();
    let mut backoff = policy.backoff().build();
    for n in 1..30u32 {
        let d = backoff.next().unwrap();
        let ceiling = Duration::from_millis(200)
            .saturating_mul(1 << (n - 1).min(20))
            .min(policy.cap);
        // backon computes in f32: allow it a millisecond.
        let slack = Duration::from_millis(1);
        assert!(d <= ceiling + slack, "wait {n}: {d:?} > {ceiling:?}");
        assert!(
            d + slack >= ceiling / 2,
            "wait {n}: {d:?} < half {ceiling:?}"
        );
    }
    let d = policy
        .delay(
            Duration::from_secs(9),
            Some(Duration::from_secs(5)),
            Duration::ZERO,
        )
        .unwrap();
    assert_eq!(d, Duration::from_millis(5200));
}

#[test]
fn the_budget_ends_the_retries() {
    let policy = RetryPolicy {
        budget: Duration::from_secs(10),
        ..RetryPolicy::default()
    };
    let ms = Duration::from_millis;
    let s = Duration::from_secs;
    assert!(policy.delay(ms(100), Some(s(11)), Duration::ZERO).is_none());
    assert!(policy.delay(ms(100), Some(s(2)), s(9)).is_none());
    assert!(policy.delay(ms(100), Some(s(2)), s(1)).is_some());
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_in_place_after_each_step() {
    let (_tx, stop) = watch::channel(false);
    let steps = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let (result, attempts) = retry(
        &RetryPolicy::default(),
        start,
        &stop,
        |n| async move {
            match n {
                1 => Err(transient(Some(Duration::from_secs(3)))),
                2 => Err(transient(None)),
                _ => Ok(n),
            }
        },
        |_, delay, n| {
            let steps = steps.clone();
            Box::pin(async move { steps.lock().unwrap().push((n, delay)) })
        },
    )
    .await;
    assert_eq!((result.ok(), attempts), (Some(3), 3));
    let steps = steps.lock().unwrap().clone();
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert_eq!(steps[0].0, 1);
    assert!(steps[0].1 >= Duration::from_secs(3), "{steps:?}");
    assert!(start.elapsed() >= Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_is_not_retried() {
    let (_tx, stop) = watch::channel(false);
    let permanent =
        splashtop_api::classify(422, None, br#"{"error":{"code":"seat_limit_reached"}}"#);
    let (result, attempts) = retry(
        &RetryPolicy::default(),
        Instant::now(),
        &stop,
        |_| std::future::ready(Err::<(), _>(permanent.clone())),
        no_step,
    )
    .await;
    assert!(matches!(result, Err(GaveUp::Permanent(ref e)) if *e == permanent));
    assert_eq!(attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_budget_gives_up_with_the_last_failure() {
    let (_tx, stop) = watch::channel(false);
    let policy = RetryPolicy {
        budget: Duration::from_secs(10),
        ..RetryPolicy::default()
    };
    let start = Instant::now();
    let (result, attempts) = retry(
        &policy,
        start,
        &stop,
        |_| std::future::ready(Err::<(), _>(transient(Some(Duration::from_secs(4))))),
        no_step,
    )
    .await;
    assert!(matches!(result, Err(GaveUp::Exhausted(_))), "{result:?}");
    // Waits of 4 s and a little: two fit in 10 s, a third would not.
    assert_eq!(attempts, 3);
    assert!(start.elapsed() <= policy.budget);
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_wait_but_never_an_attempt_in_flight() {
    let (tx, stop) = watch::channel(false);
    let started = Instant::now();
    let stopper = tokio::spawn(async move {
        // Comes while the first attempt is still running.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = tx.send(true);
        tx
    });
    let (result, attempts) = retry(
        &RetryPolicy::default(),
        started,
        &stop,
        |_| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Err::<(), _>(transient(Some(Duration::from_secs(60))))
        },
        no_step,
    )
    .await;
    assert!(matches!(result, Err(GaveUp::Stopped)), "{result:?}");
    assert_eq!(attempts, 1, "the attempt in flight ran, no other");
    // The attempt finished (2 s); the 60 s wait did not happen.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(60),
        "{took:?}"
    );
    drop(stopper.await);
}

#[test]
fn a_retry_after_of_any_size_ends_the_retries_instead_of_overflowing() {
    let policy = RetryPolicy::default();
    let forever = Some(Duration::MAX);
    assert!(policy
        .delay(Duration::from_secs(1), forever, Duration::from_secs(1))
        .is_none());
}

#[tokio::test(start_paused = true)]
async fn a_wait_inside_an_attempt_ends_on_the_stop_and_the_job_is_not_retried() {
    let (tx, stop) = watch::channel(false);
    let started = Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let _ = tx.send(true);
        tx
    });
    let steps = Arc::new(Mutex::new(0u32));
    let (result, attempts) = retry(
        &RetryPolicy::default(),
        started,
        &stop,
        |_| async {
            // As the rate limiter waits for its slot: ten minutes, unless stopped.
            match unless_stopped(tokio::time::sleep(Duration::from_secs(600))).await {
                Some(()) => Ok(()),
                None => Err(transient(None)),
            }
        },
        |_, _, _| {
            let steps = steps.clone();
            Box::pin(async move { *steps.lock().unwrap() += 1 })
        },
    )
    .await;
    assert!(matches!(result, Err(GaveUp::Stopped)), "{result:?}");
    assert_eq!(attempts, 1);
    assert_eq!(
        *steps.lock().unwrap(),
        0,
        "no retrying step for a stopped job"
    );
    assert!(started.elapsed() < Duration::from_secs(600));
    drop(stopper.await);
}

#[tokio::test(start_paused = true)]
async fn outside_an_attempt_a_wait_runs_to_its_end() {
    let started = Instant::now();
    let done = unless_stopped(tokio::time::sleep(Duration::from_secs(5))).await;
    assert_eq!(done, Some(()));
    assert!(started.elapsed() >= Duration::from_secs(5));
}
