//! Serving an axum router with limits on every connection.
//!
//! `axum::serve` has no timeouts: a client trickling its headers a byte a second, or a
//! kept-alive connection left idle, holds a socket and a task forever. [`serve`] runs each
//! connection through hyper's HTTP/1 builder with a header read timeout (which also closes
//! idle kept-alive connections: hyper starts it again after each response), a body read
//! timeout, a cap on concurrent connections (further ones wait in the kernel's backlog), the
//! peer address as axum's `ConnectInfo`, and a graceful stop that waits for in-flight
//! requests up to a deadline.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A request's headers must arrive within this, and an idle kept-alive connection is
    /// closed after it.
    pub header_read_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a stop waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves, then waits for
/// in-flight requests (at most `limits.shutdown_grace`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, never spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            req
        });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after the shutdown grace; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    async fn start(limits: Limits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .route("/echo", post(|body: String| async move { body }));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(serve(listener, app, limits, async {
            let _ = rx.await;
        }));
        (addr, tx)
    }

    /// Reads until the server closes the connection; what it sent.
    async fn read_to_close(stream: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
            .await
            .expect("the server closes the connection");
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn short() -> Limits {
        Limits {
            header_read_timeout: Duration::from_millis(300),
            body_read_timeout: Duration::from_millis(300),
            max_connections: 4,
            shutdown_grace: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn requests_get_their_peer_address() {
        let (addr, _stop) = start(short()).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer.contains(&s.local_addr().unwrap().to_string()),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn a_client_trickling_headers_is_cut_off() {
        let (addr, _stop) = start(short()).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nhost").await.unwrap();
        // Never finishes its headers: the server must close, not wait forever.
        read_to_close(&mut s).await;
    }

    #[tokio::test]
    async fn an_idle_kept_alive_connection_is_closed() {
        let (addr, _stop) = start(short()).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut s).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "answered first: {answer}"
        );
    }

    #[tokio::test]
    async fn a_body_that_never_arrives_is_refused() {
        let (addr, _stop) = start(short()).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc")
            .await
            .unwrap();
        let answer = read_to_close(&mut s).await;
        assert!(!answer.contains(" 200 "), "{answer}");
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_wait_their_turn() {
        let limits = Limits {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(5),
            ..short()
        };
        let (addr, _stop) = start(limits).await;
        // The first connection holds the only slot while it sends nothing.
        let mut first = TcpStream::connect(addr).await.unwrap();
        let mut second = TcpStream::connect(addr).await.unwrap();
        second
            .write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        // A cap can only be seen by a request that is not served while the slot is taken:
        // this window is that observation (a broken cap answers within microseconds); the
        // positive signal follows, the same request served once the slot frees.
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut byte)).await;
        assert!(
            early.is_err(),
            "the second connection was served beside the first"
        );
        first
            .write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        assert!(read_to_close(&mut first).await.starts_with("HTTP/1.1 200"));
        let rest = read_to_close(&mut second).await;
        assert!(
            rest.contains("200"),
            "served once the slot was free: {rest}"
        );
    }
}
