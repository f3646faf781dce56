//! [`RedisStore`]: the [`StateStore`] every worker process shares, in Redis.
//!
//! # Keys (all under a configurable prefix, so tests never collide)
//! - `{prefix}:epoch`: the current epoch ([`epoch`]); the three kinds below live under
//!   `{prefix}:e:{epoch id}:`, and every script that touches them checks the epoch first.
//! - `…:ver:{job key}`: the highest version applied for that key. Written with an atomic
//!   compare-and-set script, so it only ever grows.
//! - `…:acct:{account route}`: the newest SCIM id (a UUIDv7) that acted on that
//!   Splashtop account, written with a compare-and-set script.
//! - `…:grp:{group key}`: hash `version`, `name`, `deleted`: the newest group job that
//!   *started* (written before it touches Splashtop), so that a member's job running on
//!   another partition meanwhile uses the new name, or the default group, and does not
//!   recreate a group that is being renamed or deleted.
//! - `{prefix}:workers`: sorted set of live worker ids scored by the expiry of their
//!   heartbeat, on Redis's clock (one clock for every process).
//! - `{prefix}:mir:{tenant}` and `{prefix}:mirlease:{tenant}`: the team mirror and the
//!   lease of its fill ([`mirror`]); a new epoch drops the mirror.
//!
//! # Layout
//! - this module: the store and its version, incarnation, intent and heartbeat scripts.
//! - [`connect`]: one Redis, or the master of a Sentinel service.
//! - [`epoch`]: noticing a lost or replaced state, and beginning a new epoch.
//! - [`mirror`]: the team mirror.

pub mod connect;
pub mod epoch;
mod mirror;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::aio::MultiplexedConnection;
use splashsync_protocol::JobKey;
use tokio::sync::Mutex;

use super::{GroupIntent, StateStore, StoreError};
use connect::Target;
use epoch::{guard, is_stale, Epoch};

/// Only checks the epoch.
const CHECK: &str = concat!(guard!(), "return 1");

/// Reads a value recorded in the current epoch.
const GET: &str = concat!(guard!(), "return redis.call('GET', KEYS[2])");

/// Reads a group intent recorded in the current epoch.
const GET_INTENT: &str = concat!(
    guard!(),
    "return redis.call('HMGET', KEYS[2], 'version', 'name', 'deleted')"
);

/// Raises a key's applied version only when the new one is higher; returns 1 if it did.
const RECORD_VERSION: &str = concat!(
    guard!(),
    r"
local cur = tonumber(redis.call('GET', KEYS[2]))
if cur == nil or cur < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0"
);

/// Records the SCIM id that acted on a Splashtop account unless a newer one (ids are
/// UUIDv7: they sort by creation time) already did; returns 1 if written.
const CLAIM_ACCOUNT: &str = concat!(
    guard!(),
    r"
local cur = redis.call('GET', KEYS[2])
if cur and cur > ARGV[2] then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2])
return 1"
);

/// Records a group job's intent unless a newer one already started; returns 1 if written.
const GROUP_INTENT: &str = concat!(
    guard!(),
    r"
local cur = tonumber(redis.call('HGET', KEYS[2], 'version'))
if cur == nil or cur <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[2], 'version', ARGV[2], 'name', ARGV[3], 'deleted', ARGV[4])
  return 1
end
return 0"
);

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
    target: Arc<Target>,
    prefix: Arc<str>,
    live: Arc<Mutex<Option<Live>>>,
}

/// A connection and the epoch it was checked into.
#[derive(Clone)]
struct Live {
    conn: MultiplexedConnection,
    epoch: Epoch,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store at `url` (`redis://…`, or `redis+sentinel://…`: [`connect`]; not
    /// connected until first used) with keys under `prefix`.
    pub fn new(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            target: Arc::new(Target::parse(url)?),
            prefix: prefix.into(),
            live: Arc::new(Mutex::new(None)),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// One multiplexed connection shared by every task, reopened after a failure; each
    /// new one first checks the epoch (a reconnection may reach a promoted replica).
    async fn live(&self) -> Result<Live, StoreError> {
        let mut slot = self.live.lock().await;
        if let Some(live) = slot.as_ref() {
            return Ok(live.clone());
        }
        let opened = async {
            let mut conn = self.target.connect().await?;
            let epoch = self.mint(&mut conn).await?;
            Ok::<_, StoreError>(Live { conn, epoch })
        };
        let live = tokio::time::timeout(Duration::from_secs(3), opened)
            .await
            .map_err(|_| StoreError("connect timed out".into()))??;
        *slot = Some(live.clone());
        Ok(live)
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, StoreError> {
        let mut c = self.live().await?.conn;
        let result = tokio::time::timeout(Duration::from_secs(5), cmd.query_async::<T>(&mut c))
            .await
            .map_err(|_| StoreError("command timed out".into()))
            .and_then(|r| r.map_err(StoreError::from));
        if result.is_err() {
            // The connection may be broken (or reach a demoted master); the next call
            // opens a fresh one, and checks the epoch again.
            *self.live.lock().await = None;
        }
        result
    }

    /// Runs a guarded script `script(epoch)` in the current epoch; if the epoch changed
    /// meanwhile, once more in the new one (whose keys hold nothing yet).
    async fn guarded<T: redis::FromRedisValue>(
        &self,
        script: impl Fn(&Epoch) -> redis::Cmd,
    ) -> Result<T, StoreError> {
        let epoch = self.live().await?.epoch;
        match self.run(&script(&epoch)).await {
            Err(e) if is_stale(&e) => {
                let epoch = self.live().await?.epoch;
                self.run(&script(&epoch)).await
            }
            other => other,
        }
    }

    /// A guarded script on `key` (KEYS\[2\]) with `args` after the epoch id.
    fn in_epoch(
        script: &str,
        epoch: &Epoch,
        marker: &str,
        key: &str,
        args: &[String],
    ) -> redis::Cmd {
        let mut all = vec![epoch.id.clone()];
        all.extend_from_slice(args);
        Self::eval(script, &[marker, key], &all)
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

    /// A key recorded in `epoch`.
    fn epoch_key(&self, epoch: &Epoch, kind: &str, rest: impl std::fmt::Display) -> String {
        format!("{}:e:{}:{kind}:{rest}", self.prefix, epoch.id)
    }

    fn marker(&self) -> String {
        format!("{}:epoch", self.prefix)
    }

    /// Deletes every key under the prefix (tests clean up with it).
    pub async fn delete_all(&self) -> Result<(), StoreError> {
        self.delete_matching(&format!("{}:*", self.prefix), |_| false)
            .await
    }

    /// Deletes the keys matching `pattern` that `keep` does not keep.
    async fn delete_matching(
        &self,
        pattern: &str,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        let mut cursor = 0u64;
        loop {
            let (next, mut keys): (u64, Vec<String>) = self
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(pattern)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            keys.retain(|k| !keep(k));
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
        Box::pin(async move {
            let marker = self.marker();
            self.guarded(|e| Self::in_epoch(GET, e, &marker, &self.epoch_key(e, "ver", key), &[]))
                .await
        })
    }

    fn record_applied<'a>(
        &'a self,
        key: &'a JobKey,
        version: i64,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let (marker, args) = (self.marker(), [version.to_string()]);
            let written: i64 = self
                .guarded(|e| {
                    let k = self.epoch_key(e, "ver", key);
                    Self::in_epoch(RECORD_VERSION, e, &marker, &k, &args)
                })
                .await?;
            Ok(written == 1)
        })
    }

    fn account_owner<'a>(
        &'a self,
        route: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StoreError>> {
        Box::pin(async move {
            let marker = self.marker();
            self.guarded(|e| {
                Self::in_epoch(GET, e, &marker, &self.epoch_key(e, "acct", route), &[])
            })
            .await
        })
    }

    fn claim_account<'a>(
        &'a self,
        route: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let (marker, args) = (self.marker(), [user_id.to_string()]);
            let written: i64 = self
                .guarded(|e| {
                    let k = self.epoch_key(e, "acct", route);
                    Self::in_epoch(CLAIM_ACCOUNT, e, &marker, &k, &args)
                })
                .await?;
            Ok(written == 1)
        })
    }

    fn group_intent<'a>(
        &'a self,
        key: &'a JobKey,
    ) -> BoxFuture<'a, Result<Option<GroupIntent>, StoreError>> {
        Box::pin(async move {
            let marker = self.marker();
            let fields: Vec<Option<String>> = self
                .guarded(|e| {
                    let k = self.epoch_key(e, "grp", key);
                    Self::in_epoch(GET_INTENT, e, &marker, &k, &[])
                })
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
            let marker = self.marker();
            let args = [
                intent.version.to_string(),
                intent.name.clone(),
                if intent.deleted { "1" } else { "0" }.to_string(),
            ];
            let written: i64 = self
                .guarded(|e| {
                    let k = self.epoch_key(e, "grp", key);
                    Self::in_epoch(GROUP_INTENT, e, &marker, &k, &args)
                })
                .await?;
            Ok(written == 1)
        })
    }

    fn epoch_since(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(async move {
            // The marker read through a guarded script: a flush since the last connection
            // begins a new epoch here rather than at the next write.
            let marker = self.marker();
            let _: i64 = self
                .guarded(|e| Self::in_epoch(CHECK, e, &marker, &marker, &[]))
                .await?;
            Ok(self.live().await?.epoch.since_ms)
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
