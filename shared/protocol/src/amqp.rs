//! Connecting to RabbitMQ, at one URL or at the first answering node of a cluster.
//!
//! `SPLASHSYNC_AMQP_URL` may name several nodes, comma-separated (a comma inside a
//! password is written `%2C`). [`connect`] tries them in turn, each attempt bounded by
//! [`HANDSHAKE_TIMEOUT`] and logged with its reason, starting at the node this process
//! last connected to: a reconnection after a node loss tries the lost node once, then
//! moves to the next, and a healthy node is not left for an earlier one in the list.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

/// How long a connection's TCP connect and AMQP handshake may take. A broker that accepts
/// the socket and then says nothing (overloaded, or a half-open proxy) would otherwise
/// hold the caller for minutes; past this the attempt fails and is retried.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The URLs of a comma-separated list, in order, blanks around them dropped.
pub fn urls(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect()
}

/// Checks a `SPLASHSYNC_AMQP_URL` value: at least one URL, each `amqp://` or `amqps://`.
pub fn check_urls(list: &str) -> Result<(), String> {
    let all = urls(list);
    if all.is_empty() {
        return Err("SPLASHSYNC_AMQP_URL names no URL".into());
    }
    match all
        .iter()
        .position(|u| !(u.starts_with("amqp://") || u.starts_with("amqps://")))
    {
        Some(i) => Err(format!(
            "SPLASHSYNC_AMQP_URL: URL {} of {} must start with amqp:// or amqps://",
            i + 1,
            all.len()
        )),
        None => Ok(()),
    }
}

/// Connects to the first node of `list` that answers, naming the connection so operators
/// can tell processes apart in the RabbitMQ management UI; each attempt gives up after
/// [`HANDSHAKE_TIMEOUT`].
pub async fn connect(list: &str, name: &str) -> lapin::Result<Connection> {
    connect_within(list, name, HANDSHAKE_TIMEOUT).await
}

/// Connects to the first node of `list` that answers, each attempt given `timeout`; the
/// error of a round where none answered names every node's reason.
pub async fn connect_within(
    list: &str,
    name: &str,
    timeout: Duration,
) -> lapin::Result<Connection> {
    let all = urls(list);
    if all.len() <= 1 {
        return connect_one(all.first().copied().unwrap_or(list), name, timeout).await;
    }
    let start = last_good(list);
    let mut reasons = Vec::new();
    for i in (0..all.len()).map(|k| (start + k) % all.len()) {
        let url = redact_url(all[i]);
        match connect_one(all[i], name, timeout).await {
            Ok(conn) => {
                remember(list, i);
                tracing::info!(amqp = %url, node = i + 1, of = all.len(), "connected to RabbitMQ");
                return Ok(conn);
            }
            Err(err) => {
                tracing::warn!(amqp = %url, node = i + 1, of = all.len(), error = %err, "RabbitMQ node not reached; trying the next");
                reasons.push(format!("{url}: {err}"));
            }
        }
    }
    Err(std::io::Error::other(format!(
        "no RabbitMQ node answered ({})",
        reasons.join("; ")
    ))
    .into())
}

/// Connects once to one URL, giving up after `timeout`.
async fn connect_one(url: &str, name: &str, timeout: Duration) -> lapin::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    match tokio::time::timeout(timeout, Connection::connect(url, props)).await {
        Ok(result) => result,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "the RabbitMQ handshake did not finish within {} s",
                timeout.as_secs_f64()
            ),
        )
        .into()),
    }
}

/// The node each list last connected to, process-wide: the receiver's relay, intake and
/// probe (and a worker's sessions) each hold the list as a string, and one of them
/// finding a node dead spares the others the attempt (a black-holed node costs a whole
/// [`HANDSHAKE_TIMEOUT`]).
fn last_good_nodes() -> &'static Mutex<HashMap<String, usize>> {
    static NODES: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    NODES.get_or_init(Mutex::default)
}

fn last_good(list: &str) -> usize {
    let nodes = last_good_nodes()
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    nodes.get(list).copied().unwrap_or(0)
}

fn remember(list: &str, node: usize) {
    let mut nodes = last_good_nodes()
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    nodes.insert(list.to_string(), node);
}

/// Connects, retrying with capped exponential backoff until it succeeds or
/// `shutdown` resolves (then `None`).
pub async fn connect_with_retry(
    url: &str,
    name: &str,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> Option<Connection> {
    let mut delay = Duration::from_millis(100);
    loop {
        match connect(url, name).await {
            Ok(conn) => return Some(conn),
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = delay.as_millis() as u64, "cannot reach RabbitMQ");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = &mut *shutdown => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Redacts the passwords of an AMQP URL, or of each URL of a list, for logs.
pub fn redact_url(list: &str) -> String {
    list.split(',')
        .map(|url| redact_one(url.trim()))
        .collect::<Vec<_>>()
        .join(",")
}

fn redact_one(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1"), "amqp://127.0.0.1");
        assert_eq!(
            redact_url("amqp://a:s1@n1/%2f, amqp://a:s2@n2/%2f"),
            "amqp://a:***@n1/%2f,amqp://a:***@n2/%2f"
        );
    }

    #[test]
    fn a_list_names_its_nodes_in_order_and_each_must_be_amqp() {
        assert_eq!(urls(" amqp://n1 ,amqp://n2,, "), ["amqp://n1", "amqp://n2"]);
        assert!(check_urls("amqp://n1,amqps://n2").is_ok());
        assert_eq!(
            check_urls("amqp://n1,http://n2").unwrap_err(),
            "SPLASHSYNC_AMQP_URL: URL 2 of 2 must start with amqp:// or amqps://"
        );
        assert!(check_urls(" , ").is_err());
    }

    #[tokio::test]
    async fn a_broker_that_never_answers_the_handshake_is_given_up_on() {
        // Accepts the socket, then says nothing: the AMQP handshake never completes.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let mut sockets = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                sockets.push(socket);
            }
        });
        let url = format!("amqp://guest:guest@{addr}/%2f");
        let attempt = connect_within(&url, "handshake-test", Duration::from_millis(300));
        // The outer deadline only keeps a broken timeout from hanging the test run.
        let result = tokio::time::timeout(Duration::from_secs(30), attempt)
            .await
            .expect("the attempt ends on its own");
        let error = result.expect_err("no connection without a handshake");
        assert!(error.to_string().contains("handshake"), "{error}");
        held.abort();
    }
}
