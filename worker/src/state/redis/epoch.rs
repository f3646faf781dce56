//! The **epoch** of the shared state: proof that Redis still holds every version,
//! incarnation and group intent the workers recorded (docs/DESIGN.md, "Redis: what the
//! workers share, and what losing it does").
//!
//! `{prefix}:epoch` is a hash `id`, `since` (Redis's clock, ms) and `replid` (the
//! replication id of the server that minted it). Versions, incarnations and group intents
//! live under `{prefix}:e:{id}:…`, and every script that reads or writes them first checks
//! that the epoch is still `id`. A new epoch begins, with nothing recorded in it,
//! - when the marker is gone: a `FLUSHALL`, an eviction, a Redis restarted without its data;
//! - when the server's replication id differs from the marker's: a failover promoted a
//!   replica, which may have missed the last writes; or a restart that lost some.
//!
//! Minting also drops every tenant's team mirror (it may hold entries older than
//! Splashtop), so the next job refills it from the listing. The workers then ask the
//! directory about each job committed before the epoch began (`crate::floors`).

use redis::aio::MultiplexedConnection;

use super::RedisStore;
use crate::state::StoreError;

/// The error code a guarded script answers when the epoch changed under the caller.
pub(super) const STALE_EPOCH: &str = "STALEEPOCH";

/// Checks the epoch (KEYS\[1\] must hold id ARGV\[1\]); every guarded script starts so.
macro_rules! guard {
    () => {
        "if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then
  return redis.error_reply('STALEEPOCH the shared state was lost or replaced')
end
"
    };
}
pub(super) use guard;

/// Keeps the epoch if it is still the server's, else begins a new one (dropping every
/// team mirror under ARGV\[3\]); returns id, since, and 1 if it minted.
const MINT: &str = r"
local id = redis.call('HGET', KEYS[1], 'id')
if id and redis.call('HGET', KEYS[1], 'replid') == ARGV[2] then
  return {id, redis.call('HGET', KEYS[1], 'since'), 0}
end
local t = redis.call('TIME')
local now = tostring(tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'since', now, 'replid', ARGV[2])
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[3], 'COUNT', 1000)
  cursor = page[1]
  for _, k in ipairs(page[2]) do redis.call('DEL', k) end
until cursor == '0'
return {ARGV[1], now, 1}";

/// The epoch a connection works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    /// Its id, in the names of the keys recorded in it.
    pub id: String,
    /// When it began, in ms since the Unix epoch on Redis's clock.
    pub since_ms: i64,
}

impl RedisStore {
    /// The epoch of a fresh connection: the current one, or a new one if the state was
    /// lost or the server changed.
    pub(super) async fn mint(&self, c: &mut MultiplexedConnection) -> Result<Epoch, StoreError> {
        let replid = replication_id(c).await;
        let new_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        let marker = format!("{}:epoch", self.prefix());
        let mirrors = format!("{}:mir:*", self.prefix());
        let (id, since, minted): (String, String, i64) =
            Self::eval(MINT, &[&marker], &[new_id, replid, mirrors])
                .query_async(c)
                .await?;
        let since_ms = since
            .parse()
            .map_err(|_| StoreError(format!("the epoch marker's time is {since:?}")))?;
        if minted == 1 {
            tracing::warn!(epoch = %id, "new shared-state epoch: Redis lost or replaced its state; jobs committed before now are checked against the directory");
            self.forget_other_epochs(id.clone());
        }
        Ok(Epoch { id, since_ms })
    }

    /// Deletes, in the background, what earlier epochs recorded: never read again.
    fn forget_other_epochs(&self, current: String) {
        let store = self.clone();
        tokio::spawn(async move {
            let keep = format!("{}:e:{current}:", store.prefix());
            let pattern = format!("{}:e:*", store.prefix());
            if let Err(e) = store
                .delete_matching(&pattern, |k| k.starts_with(&keep))
                .await
            {
                tracing::warn!(error = %e, "could not delete an earlier epoch's keys");
            }
        });
    }
}

/// The server's replication id (`INFO replication`), which a promotion or a restart
/// changes; empty where `INFO` is not allowed (then only a lost marker is noticed).
async fn replication_id(c: &mut MultiplexedConnection) -> String {
    let info: Result<String, _> = redis::cmd("INFO").arg("replication").query_async(c).await;
    match info {
        Ok(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("master_replid:"))
            .unwrap_or_default()
            .trim()
            .to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "INFO replication refused: a failover is noticed only if the epoch marker is missing");
            String::new()
        }
    }
}

/// Whether a script refused because the epoch changed.
pub(super) fn is_stale(e: &StoreError) -> bool {
    e.0.contains(STALE_EPOCH)
}
