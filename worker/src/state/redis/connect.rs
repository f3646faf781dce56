//! Where the shared store lives: one Redis (`redis://…`), or the master a set of Redis
//! Sentinels names (`redis+sentinel://…`), asked again at every reconnection so that a
//! failover moves the workers to the promoted replica.
//!
//! A Sentinel URL is `redis+sentinel://[:password@]host:port[,host:port…]/service[/db]`:
//! the sentinels' addresses, the monitored service's name, and the password and database
//! of the Redis servers it names.

use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Client, IntoConnectionInfo};
use tokio::sync::Mutex;

use crate::state::StoreError;

/// The scheme of a Sentinel URL.
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// How connections to the current master are opened.
pub(super) enum Target {
    /// One Redis server.
    Direct(Client),
    /// The master of a Sentinel service (the client asks the sentinels each time).
    Sentinel(Mutex<SentinelClient>),
}

impl Target {
    /// The target a URL names.
    pub(super) fn parse(url: &str) -> Result<Self, StoreError> {
        match url.strip_prefix(SENTINEL_SCHEME) {
            Some(rest) => sentinel(rest).map(|c| Self::Sentinel(Mutex::new(c))),
            None => Ok(Self::Direct(Client::open(url)?)),
        }
    }

    /// A new multiplexed connection to the current master.
    pub(super) async fn connect(&self) -> Result<MultiplexedConnection, StoreError> {
        let client = match self {
            Self::Direct(client) => client.clone(),
            Self::Sentinel(sentinel) => sentinel.lock().await.async_get_client().await?,
        };
        Ok(client.get_multiplexed_async_connection().await?)
    }
}

/// A Sentinel client from the part of the URL after the scheme.
fn sentinel(rest: &str) -> Result<SentinelClient, StoreError> {
    let bad = |why: &str| StoreError(format!("bad {SENTINEL_SCHEME} URL: {why}"));
    let (auth, rest) = match rest.rsplit_once('@') {
        Some((auth, rest)) => (Some(auth), rest),
        None => (None, rest),
    };
    let (hosts, path) = rest
        .split_once('/')
        .ok_or_else(|| bad("no /service after the sentinels"))?;
    let (service, db) = match path.split_once('/') {
        Some((service, db)) => (service, db),
        None => (path, "0"),
    };
    if service.is_empty() || hosts.is_empty() {
        return Err(bad("a sentinel address and a service name are needed"));
    }
    let sentinels: Vec<String> = hosts.split(',').map(|h| format!("redis://{h}")).collect();
    // The password and database apply to the servers the sentinels name, as in a
    // redis:// URL; parsing one reuses the crate's own rules (percent-decoding included).
    let node_url = format!(
        "redis://{}127.0.0.1/{db}",
        auth.map(|a| format!("{a}@")).unwrap_or_default()
    );
    let node = node_url.into_connection_info()?.redis_settings().clone();
    let info = SentinelNodeConnectionInfo::default().set_redis_connection_info(node);
    Ok(SentinelClient::build(
        sentinels,
        service.to_string(),
        Some(info),
        SentinelServerType::Master,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_name_sentinels_and_a_service() {
        assert!(matches!(
            Target::parse("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/splashsync"),
            Ok(Target::Sentinel(_))
        ));
        assert!(matches!(
            Target::parse("redis+sentinel://:secret@s1:26379/splashsync/2"),
            Ok(Target::Sentinel(_))
        ));
        assert!(matches!(
            Target::parse("redis://127.0.0.1:6379"),
            Ok(Target::Direct(_))
        ));
        for bad in ["redis+sentinel://s1:26379", "redis+sentinel:///svc"] {
            let err = Target::parse(bad).err().expect(bad).to_string();
            assert!(err.contains("redis+sentinel://"), "{err}");
        }
    }
}
