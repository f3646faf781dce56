//! [`RedisStore`]: the [`StateStore`] every worker process shares, in Redis.
//!
//! # Keys (all under a configurable prefix, so tests never collide)
//! - `{prefix}:ver:{job key}`: the highest version applied for that key. Written with an
//!   atomic compare-and-set script, so it only ever grows.
//! - `{prefix}:acct:{account route}`: the newest SCIM id (a UUIDv7) that acted on that
//!   Splashtop account, written with a compare-and-set script.
//! - `{prefix}:grp:{group key}`: hash `version`, `name`, `deleted`: the newest group job
//!   that *started* (written before it touches Splashtop), so that a member's job running
//!   on another partition meanwhile uses the new name, or the default group, and does not
//!   recreate a group that is being renamed or deleted.
//! - `{prefix}:workers`: sorted set of live worker ids scored by the expiry of their
//!   heartbeat, on Redis's clock (one clock for every process).
//! - `{prefix}:mir:{tenant}` and `{prefix}:mirlease:{tenant}`: the team mirror and the
//!   lease of its fill ([`mirror`]).

mod mirror;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use splashsync_protocol::JobKey;
use tokio::sync::Mutex;

use super::{GroupIntent, StateStore, StoreError};

/// Raises a key's applied version only when the new one is higher; returns 1 if it did.
const RECORD_VERSION: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur == nil or cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0";

/// Records the SCIM id that acted on a Splashtop account unless a newer one (ids are
/// UUIDv7: they sort by creation time) already did; returns 1 if written.
const CLAIM_ACCOUNT: &str = r"
local cur = redis.call('GET', KEYS[1])
if cur and cur > ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
return 1";

/// Records a group job's intent unless a newer one already started; returns 1 if written.
const GROUP_INTENT: &str = r"
local cur = tonumber(redis.call('HGET', KEYS[1], 'version'))
if cur == nil or cur <= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'name', ARGV[2], 'deleted', ARGV[3])
  return 1
end
return 0";

/// Renews this worker's heartbeat, drops expired ones, returns the live ids.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)";

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        Self(e.to_string())
    }
}

/// The shared store in Redis; cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    prefix: Arc<str>,
    conn: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (not connected until first used) with keys under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            prefix: prefix.into(),
            conn: Arc::new(Mutex::new(None)),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// One multiplexed connection shared by every task, reopened after a failure.
    async fn conn(&self) -> Result<MultiplexedConnection, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = tokio::time::timeout(
            Duration::from_secs(3),
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| StoreError("connect timed out".into()))??;
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut c = self.conn().await?;
        let result = tokio::time::timeout(Duration::from_secs(5), cmd.query_async::<T>(&mut c))
            .await
            .map_err(|_| StoreError("command timed out".into()))
            .and_then(|r| r.map_err(StoreError::from));
        if result.is_err() {
            // The connection may be broken; the next call opens a fresh one.
            *self.conn.lock().await = None;
        }
        result
    }

    fn eval(script: &str, keys: &[&str], args: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(keys.len());
        for k in keys {
            cmd.arg(*k);
        }
        for a in args {
            cmd.arg(a);
        }
        cmd
    }

    fn key(&self, kind: &str, rest: impl std::fmt::Display) -> String {
        format!("{}:{kind}:{rest}", self.prefix)
    }

    /// Deletes every key under the prefix (tests clean up with it).
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        let pattern = format!("{}:*", self.prefix);
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            if !keys.is_empty() {
                self.run::<i64>(redis::cmd("DEL").arg(&keys)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

impl StateStore for RedisStore {
    fn applied_version<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<i64>, StoreError>> {
        Box::pin(async move { self.run(redis::cmd("GET").arg(self.key("ver", key))).await })
    }

    fn record_applied<'a>(
        &'a self,
        key: &'a JobKey,
        version: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let k = self.key("ver", key);
            let script = Self::eval(RECORD_VERSION, &[&k], &[version.to_string()]);
            Ok(self.run::<i64>(&script).await? == 1)
        })
    }

    fn account_owner<'a>(
        &'a self,
        route: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            self.run(redis::cmd("GET").arg(self.key("acct", route)))
                .await
        })
    }

    fn claim_account<'a>(
        &'a self,
        route: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let k = self.key("acct", route);
            let script = Self::eval(CLAIM_ACCOUNT, &[&k], &[user_id.to_string()]);
            Ok(self.run::<i64>(&script).await? == 1)
        })
    }

    fn group_intent<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<GroupIntent>, StoreError>> {
        Box::pin(async move {
            let fields: Vec<Option<String>> = self
                .run(
                    redis::cmd("HMGET")
                        .arg(self.key("grp", key))
                        .arg("version")
                        .arg("name")
                        .arg("deleted"),
                )
                .await?;
            Ok(match fields.as_slice() {
                [Some(v), Some(name), Some(deleted)] => Some(GroupIntent {
                    version: v.parse().unwrap_or(0),
                    name: name.clone(),
                    deleted: deleted == "1",
                }),
                _ => None,
            })
        })
    }

    fn start_group_job<'a>(
        &'a self,
        key: &'a JobKey,
        intent: &'a GroupIntent,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let k = self.key("grp", key);
            let args = [
                intent.version.to_string(),
                intent.name.clone(),
                if intent.deleted { "1" } else { "0" }.to_string(),
            ];
            Ok(self
                .run::<i64>(&Self::eval(GROUP_INTENT, &[&k], &args))
                .await?
                == 1)
        })
    }

    fn heartbeat<'a>(
        &'a self,
        worker_id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let k = format!("{}:workers", self.prefix);
            let args = [worker_id.to_string(), ttl.as_millis().to_string()];
            let mut live: Vec<String> = self.run(&Self::eval(HEARTBEAT, &[&k], &args)).await?;
            live.sort();
            Ok(live)
        })
    }

    fn leave<'a>(&'a self, worker_id: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let k = format!("{}:workers", self.prefix);
            self.run::<i64>(redis::cmd("ZREM").arg(k).arg(worker_id))
                .await
                .map(drop)
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { self.run::<String>(&redis::cmd("PING")).await.map(drop) })
    }
}
