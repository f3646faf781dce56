//! Where the test services are: the environment names them, the defaults are the local
//! services (RabbitMQ and Redis on loopback). No other place spells these URLs.
//!
//! Each test keeps its own SQLite file, so no database URL is needed.

/// The broker every test uses: `SPLASHSYNC_TEST_AMQP_URL`, or RabbitMQ on loopback as guest.
pub fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The Redis every test worker keeps its state in: `SPLASHSYNC_TEST_REDIS_URL`, or Redis on
/// loopback.
pub fn redis_url() -> String {
    std::env::var("SPLASHSYNC_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Installs rustls' ring provider: reqwest is built without one, and needs one even for
/// plain HTTP.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
