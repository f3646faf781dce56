//! Long-running tasks that never die silently.
//!
//! A component (the relay, the intake, a sampler, a worker loop) runs under [`supervise`]:
//! when it returns an error or panics, the failure is logged through tracing, counted, and
//! the component is reported not ready in [`Health`] (with the reason, for `/readyz`) until
//! a new incarnation has been started after an exponential backoff with jitter. A stop
//! signal ends the loop and interrupts the backoff. A task that fails with [`Fatal`] (a
//! configuration error no restart can fix) is not restarted: it stays not ready, with why.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio_util::sync::CancellationToken;

/// What [`Health`] knows about one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentHealth {
    /// `None` when ready, else why not.
    pub problem: Option<String>,
    /// How many times the component failed and was restarted.
    pub restarts: u64,
}

/// The readiness of a process's supervised components, shared with its `/readyz`.
#[derive(Debug, Clone, Default)]
pub struct Health {
    components: Arc<Mutex<BTreeMap<&'static str, ComponentHealth>>>,
}

impl Health {
    /// An empty registry: ready.
    pub fn new() -> Self {
        Self::default()
    }

    fn update(&self, name: &'static str, f: impl FnOnce(&mut ComponentHealth)) {
        let mut map = self.components.lock().unwrap_or_else(|e| e.into_inner());
        f(map.entry(name).or_insert(ComponentHealth {
            problem: None,
            restarts: 0,
        }));
    }

    /// Marks `name` ready.
    pub fn ready(&self, name: &'static str) {
        self.update(name, |c| c.problem = None);
    }

    /// Marks `name` not ready because of `problem`.
    pub fn not_ready(&self, name: &'static str, problem: impl Into<String>) {
        let problem = problem.into();
        self.update(name, |c| c.problem = Some(problem));
    }

    fn restarted(&self, name: &'static str, problem: String) {
        self.update(name, |c| {
            c.problem = Some(problem);
            c.restarts += 1;
        });
    }

    /// Every component that is not ready, with why: empty when the process is ready.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        self.snapshot()
            .into_iter()
            .filter_map(|(name, c)| c.problem.map(|p| (name, p)))
            .collect()
    }

    /// Every component's state, for metrics.
    pub fn snapshot(&self) -> BTreeMap<&'static str, ComponentHealth> {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A failure no restart can fix (another tenant holds the broker prefix, say): the
/// supervisor stops the task and leaves it not ready with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// Backoff between restarts.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// The first delay.
    pub min_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// A run that lasted this long resets the backoff to `min_delay`.
    pub healthy_after: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
            healthy_after: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    fn delays(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// Runs `make(stop)` until `stop` is cancelled, restarting it whenever it fails, panics or
/// returns early, unless it failed with [`Fatal`]. `make` gets a child token: an
/// incarnation should return when it fires.
pub async fn supervise<F, Fut>(
    name: &'static str,
    health: Health,
    policy: RestartPolicy,
    stop: CancellationToken,
    mut make: F,
) where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let mut delays = policy.delays();
    loop {
        health.ready(name);
        let started = Instant::now();
        let result = tokio::spawn(make(stop.child_token())).await;
        if stop.is_cancelled() {
            if let Ok(Err(e)) = &result {
                tracing::warn!(task = name, error = %format!("{e:#}"), "task failed while stopping");
            }
            return;
        }
        if let Ok(Err(e)) = &result {
            if let Some(fatal) = e.downcast_ref::<Fatal>() {
                tracing::error!(task = name, "{name} stopped for good: {fatal}");
                health.not_ready(name, format!("{name} stopped: {fatal}"));
                return;
            }
        }
        let problem = match result {
            Ok(Ok(())) => "stopped on its own".to_string(),
            Ok(Err(e)) => format!("failed: {e:#}"),
            Err(join) if join.is_panic() => format!("panicked: {}", panic_text(join)),
            Err(_) => "was cancelled".to_string(),
        };
        if started.elapsed() >= policy.healthy_after {
            delays = policy.delays();
        }
        let delay = delays.next().unwrap_or(policy.max_delay);
        tracing::error!(
            task = name,
            restart_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "{name} {problem}; restarting it"
        );
        health.restarted(name, format!("{name} {problem}"));
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return,
        }
    }
}

fn panic_text(join: tokio::task::JoinError) -> String {
    let payload = join.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".into())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn fast() -> RestartPolicy {
        RestartPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            healthy_after: Duration::from_secs(60),
        }
    }

    #[tokio::test]
    async fn a_task_that_fails_or_panics_is_restarted_and_reported() {
        let health = Health::new();
        let stop = CancellationToken::new();
        let runs = Arc::new(AtomicU32::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(supervise("relay", health.clone(), fast(), stop.clone(), {
            let runs = runs.clone();
            move |stop: CancellationToken| {
                let n = runs.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                async move {
                    match n {
                        0 => anyhow::bail!("broker gone"),
                        1 => panic!("span already closed"),
                        _ => {
                            let _ = tx.send(());
                            stop.cancelled().await;
                            Ok(())
                        }
                    }
                }
            }
        }));
        rx.recv().await.expect("third incarnation runs");
        let state = health.snapshot()["relay"].clone();
        assert_eq!(state.restarts, 2);
        assert_eq!(state.problem, None, "running again: ready");
        stop.cancel();
        task.await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_fatal_failure_is_not_restarted_and_stays_not_ready() {
        let health = Health::new();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        supervise(
            "relay",
            health.clone(),
            fast(),
            CancellationToken::new(),
            move |_stop| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Err(Fatal("prefix held by tenant \"a\"".into()).into()) }
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        let problems = health.problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].1.contains("held by tenant"), "{problems:?}");
        assert_eq!(health.snapshot()["relay"].restarts, 0);
    }

    #[tokio::test]
    async fn a_failed_task_is_not_ready_with_its_reason_until_it_runs_again() {
        let health = Health::new();
        let stop = CancellationToken::new();
        let policy = RestartPolicy {
            min_delay: Duration::from_secs(3600),
            max_delay: Duration::from_secs(3600),
            healthy_after: Duration::from_secs(60),
        };
        let task = tokio::spawn(supervise(
            "intake",
            health.clone(),
            policy,
            stop.clone(),
            |_stop| async { anyhow::bail!("queue deleted") },
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        while health.problems().is_empty() {
            assert!(Instant::now() < deadline, "never reported");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let problems = health.problems();
        assert_eq!(problems[0].0, "intake");
        assert!(problems[0].1.contains("queue deleted"), "{problems:?}");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the stop interrupts the backoff")
            .unwrap();
    }
}
