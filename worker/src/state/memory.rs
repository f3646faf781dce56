//! [`MemoryStore`]: the [`StateStore`] rules in one process's memory, for unit tests of
//! the logic above it (no Redis needed). Only workers of the same process share it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use splashsync_protocol::JobKey;
use tokio::time::Instant;

use super::{GroupIntent, StateStore, StoreError};

mod mirror;

/// The shared state in memory; it never fails.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    versions: HashMap<String, i64>,
    accounts: HashMap<String, String>,
    groups: HashMap<String, GroupIntent>,
    /// Live worker ids and when their heartbeat expires.
    workers: HashMap<String, Instant>,
    /// The team mirror of each tenant.
    mirrors: HashMap<String, mirror::TeamMirror>,
    /// When the current epoch began (ms since the Unix epoch); 0 until a loss.
    epoch_since: i64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loses everything but the live workers, as a Redis flush would, and begins a new
    /// epoch at `now_ms`.
    pub fn lose_state(&self, now_ms: i64) {
        let mut inner = self.lock();
        inner.versions.clear();
        inner.accounts.clear();
        inner.groups.clear();
        inner.mirrors.clear();
        inner.epoch_since = now_ms;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below is made whole under the lock: a panic cannot tear it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, Result<T, StoreError>> {
    Box::pin(std::future::ready(Ok(value)))
}

impl StateStore for MemoryStore {
    fn applied_version<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        ready(self.lock().versions.get(&key.to_string()).copied())
    }

    fn record_applied<'a>(
        &'a self,
        key: &'a JobKey,
        version: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let current = inner.versions.entry(key.to_string()).or_insert(i64::MIN);
        let raised = *current < version;
        if raised {
            *current = version;
        }
        ready(raised)
    }

    fn account_owner<'a>(
        &'a self,
        route: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        ready(self.lock().accounts.get(route).cloned())
    }

    fn claim_account<'a>(
        &'a self,
        route: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut inner = self.lock();
        if inner
            .accounts
            .get(route)
            .is_some_and(|owner| owner.as_str() > user_id)
        {
            return ready(false);
        }
        inner.accounts.insert(route.to_owned(), user_id.to_owned());
        ready(true)
    }

    fn group_intent<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<GroupIntent>, StoreError>> {
        ready(self.lock().groups.get(&key.to_string()).cloned())
    }

    fn start_group_job<'a>(
        &'a self,
        key: &'a JobKey,
        intent: &'a GroupIntent,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let key = key.to_string();
        if inner
            .groups
            .get(&key)
            .is_some_and(|current| current.version > intent.version)
        {
            return ready(false);
        }
        inner.groups.insert(key, intent.clone());
        ready(true)
    }

    fn heartbeat<'a>(
        &'a self,
        worker_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        let mut inner = self.lock();
        let now = Instant::now();
        inner.workers.insert(worker_id.to_owned(), now + ttl);
        inner.workers.retain(|_, expires| *expires > now);
        let mut live: Vec<String> = inner.workers.keys().cloned().collect();
        live.sort();
        ready(live)
    }

    fn leave<'a>(&'a self, worker_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.lock().workers.remove(worker_id);
        ready(())
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        ready(())
    }

    fn epoch_since(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        ready(self.lock().epoch_since)
    }
}

#[cfg(test)]
mod tests {
    use splashsync_protocol::Tenant;

    use super::*;

    #[tokio::test]
    async fn values_only_move_forward() {
        let store = MemoryStore::new();
        let key = JobKey::user(&Tenant::default(), "u-1");
        assert_eq!(store.applied_version(&key).await.unwrap(), None);
        assert!(store.record_applied(&key, 3).await.unwrap());
        assert!(!store.record_applied(&key, 2).await.unwrap());
        assert_eq!(store.applied_version(&key).await.unwrap(), Some(3));

        assert!(store.claim_account("acct", "0002").await.unwrap());
        assert!(!store.claim_account("acct", "0001").await.unwrap());
        assert_eq!(
            store.account_owner("acct").await.unwrap().as_deref(),
            Some("0002")
        );

        let intent = |version, name: &str| GroupIntent {
            version,
            name: name.into(),
            deleted: false,
        };
        assert!(store
            .start_group_job(&key, &intent(5, "New"))
            .await
            .unwrap());
        assert!(!store
            .start_group_job(&key, &intent(4, "Old"))
            .await
            .unwrap());
        assert_eq!(
            store.group_intent(&key).await.unwrap(),
            Some(intent(5, "New"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeats_expire_and_leaving_is_immediate() {
        let store = MemoryStore::new();
        let ttl = Duration::from_secs(3);
        store.heartbeat("b", ttl).await.unwrap();
        assert_eq!(store.heartbeat("a", ttl).await.unwrap(), ["a", "b"]);
        tokio::time::advance(Duration::from_secs(2)).await;
        store.heartbeat("a", ttl).await.unwrap();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(store.heartbeat("a", ttl).await.unwrap(), ["a"]);
        store.leave("a").await.unwrap();
        assert_eq!(store.heartbeat("c", ttl).await.unwrap(), ["c"]);
    }
}
