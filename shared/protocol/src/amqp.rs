//! Connecting to RabbitMQ.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

/// Connects once, naming the connection so operators can tell processes apart in the
/// RabbitMQ management UI.
pub async fn connect(url: &str, name: &str) -> lapin::Result<Connection> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect(url, props).await
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
    use super::redact_url;

    #[test]
    fn passwords_never_reach_a_log() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
