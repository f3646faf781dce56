//! The team mirror in Redis: one hash per tenant, `{prefix}:mir:{tenant}`, so that it is
//! lost (flushed, evicted, a Redis without persistence restarted) whole, never in part:
//! its `complete` field goes with the entries it vouches for.
//!
//! Fields: `c` (complete, set when a fill read the listing to the end), `d` (the default
//! group's id), `u:{email lower case}` (a user's JSON, or `?` while unknown),
//! `g:{group id}` (a group's JSON), `n:{name lower case}` (name index → id) and
//! `k:{group id}` (id → its name index key, to move the index on a rename). The fill's
//! lease is `{prefix}:mirlease:{tenant}`, a string that expires.

use std::time::Duration;

use futures_util::future::BoxFuture;
use splashtop_api::{TeamGroup, TeamUser};

use super::RedisStore;
use crate::state::mirror::{email_key, name_key, Mirror, MirrorGroup, Mirrored, FAILED};
use crate::state::StoreError;

/// The value of a user entry whose last write's answer is not known.
const UNKNOWN: &str = "?";

/// Records a group: moves its name index if it was renamed. KEYS[1] the hash; ARGV id,
/// JSON, name key, default flag.
const SET_GROUP: &str = r"
local old = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if old and redis.call('HGET', KEYS[1], 'n:' .. old) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'n:' .. old)
end
redis.call('HSET', KEYS[1], 'g:' .. ARGV[1], ARGV[2], 'n:' .. ARGV[3], ARGV[1], 'k:' .. ARGV[1], ARGV[3])
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'd', ARGV[1]) end
return 1";

/// Removes a group and its name index. KEYS[1] the hash; ARGV id.
const REMOVE_GROUP: &str = r"
local old = redis.call('HGET', KEYS[1], 'k:' .. ARGV[1])
if old and redis.call('HGET', KEYS[1], 'n:' .. old) == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'n:' .. old)
end
redis.call('HDEL', KEYS[1], 'g:' .. ARGV[1], 'k:' .. ARGV[1])
return 1";

/// Adds listed groups unknown by id and by name. ARGV: (id, JSON, name key, default)*.
const FILL_GROUPS: &str = r"
for i = 1, #ARGV, 4 do
  local id, key = ARGV[i], ARGV[i + 2]
  if redis.call('HEXISTS', KEYS[1], 'g:' .. id) == 0 and redis.call('HEXISTS', KEYS[1], 'n:' .. key) == 0 then
    redis.call('HSET', KEYS[1], 'g:' .. id, ARGV[i + 1], 'n:' .. key, id, 'k:' .. id, key)
  end
  if ARGV[i + 3] == '1' then redis.call('HSET', KEYS[1], 'd', id) end
end
return 1";

/// Adds listed users without an entry. ARGV: (email key, JSON)*.
const FILL_USERS: &str = r"
for i = 1, #ARGV, 2 do
  redis.call('HSETNX', KEYS[1], 'u:' .. ARGV[i], ARGV[i + 1])
end
return 1";

/// The group behind a name index or the default pointer. ARGV the index field.
const GROUP_AT: &str = r"
local id = redis.call('HGET', KEYS[1], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[1], 'g:' .. id)";

/// Turns the caller's lease into the failed marker. KEYS[1] the lease; ARGV holder,
/// marker, milliseconds.
const FILL_FAILED: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1";

/// Marks the fill complete and drops the lease, if the caller still holds it.
/// KEYS[1] the hash, KEYS[2] the lease; ARGV holder.
const FILLED: &str = r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'c', '1')
redis.call('DEL', KEYS[2])
return 1";

impl RedisStore {
    fn mirror_key(&self, tenant: &str) -> String {
        self.key("mir", tenant)
    }

    fn lease_key(&self, tenant: &str) -> String {
        self.key("mirlease", tenant)
    }

    async fn group_at(
        &self,
        tenant: &str,
        field: String,
    ) -> Result<Option<MirrorGroup>, StoreError> {
        let key = self.mirror_key(tenant);
        let json: Option<String> = self.run(&Self::eval(GROUP_AT, &[&key], &[field])).await?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError(e.to_string()))
}

fn group_args(group: &MirrorGroup) -> Result<Vec<String>, StoreError> {
    Ok(vec![
        group.id.clone(),
        to_json(group)?,
        name_key(&group.name),
        if group.is_default { "1" } else { "0" }.to_owned(),
    ])
}

impl Mirror for RedisStore {
    fn mirror_complete<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let c: Option<String> = self
                .run(redis::cmd("HGET").arg(self.mirror_key(tenant)).arg("c"))
                .await?;
            Ok(c.is_some())
        })
    }

    fn mirror_lease<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let set: Option<String> = self
                .run(
                    redis::cmd("SET")
                        .arg(self.lease_key(tenant))
                        .arg(holder)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl.as_millis().max(1) as u64),
                )
                .await?;
            Ok(set.is_some())
        })
    }

    fn mirror_fill_failed<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
        backoff: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.lease_key(tenant);
            let args = [
                holder.to_owned(),
                FAILED.to_owned(),
                (backoff.as_millis().max(1) as u64).to_string(),
            ];
            self.run::<i64>(&Self::eval(FILL_FAILED, &[&key], &args))
                .await
                .map(drop)
        })
    }

    fn mirror_filling<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let holder: Option<String> = self
                .run(redis::cmd("GET").arg(self.lease_key(tenant)))
                .await?;
            Ok(holder.is_some_and(|h| h != FAILED))
        })
    }

    fn mirror_filled<'a>(
        &'a self,
        tenant: &'a str,
        holder: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let keys = [self.mirror_key(tenant), self.lease_key(tenant)];
            let script = Self::eval(FILLED, &[&keys[0], &keys[1]], &[holder.to_owned()]);
            Ok(self.run::<i64>(&script).await? == 1)
        })
    }

    fn mirror_forget<'a>(&'a self, tenant: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.run::<i64>(redis::cmd("HDEL").arg(self.mirror_key(tenant)).arg("c"))
                .await
                .map(drop)
        })
    }

    fn mirror_fill_users<'a>(
        &'a self,
        tenant: &'a str,
        users: &'a [TeamUser],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if users.is_empty() {
                return Ok(());
            }
            let mut args = Vec::with_capacity(users.len() * 2);
            for user in users {
                args.push(email_key(&user.email));
                args.push(to_json(user)?);
            }
            let key = self.mirror_key(tenant);
            self.run::<i64>(&Self::eval(FILL_USERS, &[&key], &args))
                .await
                .map(drop)
        })
    }

    fn mirror_fill_groups<'a>(
        &'a self,
        tenant: &'a str,
        groups: &'a [TeamGroup],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            if groups.is_empty() {
                return Ok(());
            }
            let mut args = Vec::with_capacity(groups.len() * 4);
            for group in groups {
                args.extend(group_args(&MirrorGroup::from_team(group, None))?);
            }
            let key = self.mirror_key(tenant);
            self.run::<i64>(&Self::eval(FILL_GROUPS, &[&key], &args))
                .await
                .map(drop)
        })
    }

    fn mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
    ) -> BoxFuture<'a, Result<Mirrored<TeamUser>, StoreError>> {
        Box::pin(async move {
            let field = format!("u:{}", email_key(email));
            let value: Option<String> = self
                .run(redis::cmd("HGET").arg(self.mirror_key(tenant)).arg(field))
                .await?;
            Ok(match value {
                None => Mirrored::Absent,
                Some(v) if v == UNKNOWN => Mirrored::Unknown,
                // An entry that does not parse is not trusted.
                Some(v) => serde_json::from_str(&v).map_or(Mirrored::Unknown, Mirrored::Known),
            })
        })
    }

    fn set_mirror_user<'a>(
        &'a self,
        tenant: &'a str,
        email: &'a str,
        entry: &'a Mirrored<TeamUser>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.mirror_key(tenant);
            let field = format!("u:{}", email_key(email));
            let mut cmd = match entry {
                Mirrored::Absent => redis::cmd("HDEL"),
                _ => redis::cmd("HSET"),
            };
            cmd.arg(key).arg(field);
            match entry {
                Mirrored::Absent => {}
                Mirrored::Unknown => {
                    cmd.arg(UNKNOWN);
                }
                Mirrored::Known(user) => {
                    cmd.arg(to_json(user)?);
                }
            }
            self.run::<i64>(&cmd).await.map(drop)
        })
    }

    fn mirror_group_named<'a>(
        &'a self,
        tenant: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        Box::pin(self.group_at(tenant, format!("n:{}", name_key(name))))
    }

    fn mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        Box::pin(async move {
            let json: Option<String> = self
                .run(
                    redis::cmd("HGET")
                        .arg(self.mirror_key(tenant))
                        .arg(format!("g:{id}")),
                )
                .await?;
            Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
        })
    }

    fn mirror_default_group<'a>(
        &'a self,
        tenant: &'a str,
    ) -> BoxFuture<'a, Result<Option<MirrorGroup>, StoreError>> {
        Box::pin(self.group_at(tenant, "d".to_owned()))
    }

    fn set_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        group: &'a MirrorGroup,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.mirror_key(tenant);
            let args = group_args(group)?;
            self.run::<i64>(&Self::eval(SET_GROUP, &[&key], &args))
                .await
                .map(drop)
        })
    }

    fn remove_mirror_group<'a>(
        &'a self,
        tenant: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = self.mirror_key(tenant);
            self.run::<i64>(&Self::eval(REMOVE_GROUP, &[&key], &[id.to_owned()]))
                .await
                .map(drop)
        })
    }
}
