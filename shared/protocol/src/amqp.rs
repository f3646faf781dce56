//! Connecting to RabbitMQ.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

/// How long a connection's TCP connect and AMQP handshake may take. A broker that accepts
/// the socket and then says nothing (overloaded, or a half-open proxy) would otherwise
/// hold the caller for minutes; past this the attempt fails and is retried.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects once, naming the connection so operators can tell processes apart in the
/// RabbitMQ management UI; gives up after [`HANDSHAKE_TIMEOUT`].
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    connect_within(url, name, HANDSHAKE_TIMEOUT).await
}

/// Connects once, giving up after `timeout`.
pub async fn connect_within(url: &str, name: &str, timeout: Duration) -> lapin::Result<Connection> {
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

/// Redacts the password of an AMQP URL for logs.
pub fn redact_url(url: &str) -> String {
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
