//! A supervised component's connection to RabbitMQ: retried with capped backoff until it
//! succeeds or the component is stopped, the component reported not ready (with the
//! broker's answer) meanwhile.

use std::time::Duration;

use lapin::Connection;
use splashsync_runtime::supervisor::Health;
use tokio_util::sync::CancellationToken;

/// Longest one connection attempt may take (a black-holed host never answers).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects `component` to `url` as `name`; `None` once `stop` fires first.
pub async fn connect(
    url: &str,
    name: &str,
    component: &'static str,
    health: &Health,
    stop: &CancellationToken,
) -> Option<Connection> {
    let mut delay = Duration::from_millis(100);
    loop {
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            splashsync_protocol::amqp::connect(url, name),
        );
        let problem = tokio::select! {
            r = attempt => match r {
                Ok(Ok(conn)) => {
                    tracing::info!(
                        task = component,
                        amqp = %splashsync_protocol::amqp::redact_url(url),
                        "{component} connected to RabbitMQ"
                    );
                    health.ready(component);
                    return Some(conn);
                }
                Ok(Err(e)) => format!("cannot reach RabbitMQ: {e}"),
                Err(_) => "RabbitMQ did not answer in time".to_string(),
            },
            () = stop.cancelled() => return None,
        };
        tracing::warn!(
            task = component,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "{problem}"
        );
        health.not_ready(component, problem);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stop.cancelled() => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}
