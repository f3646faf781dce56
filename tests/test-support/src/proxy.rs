//! A TCP proxy on loopback that a test can cut and restore: the way to take the broker away
//! from one component (the receiver) while the others keep it, without restarting anything.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};

/// The proxy's shared state. The lock orders "accept a connection" against "cut", so that
/// no connection slips through once a cut has returned.
#[derive(Debug, Default)]
struct Pipes {
    cut: bool,
    live: JoinSet<()>,
    refused: usize,
}

/// Forwards every connection on its loopback port to `upstream` until cut.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    pipes: Arc<Mutex<Pipes>>,
    accepted: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy to `upstream` on a free loopback port, open.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let pipes = Arc::new(Mutex::new(Pipes::default()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let acceptor = tokio::spawn(accept(listener, upstream, pipes.clone(), accepted.clone()));
        Self {
            addr,
            pipes,
            accepted,
            acceptor,
        }
    }

    /// A proxy to the host and port of the AMQP URL `url`.
    pub async fn to_amqp(url: &str) -> Self {
        let parsed = url::Url::parse(url).expect("an AMQP URL");
        let host = parsed.host_str().expect("an AMQP URL names a host");
        let port = parsed.port().unwrap_or(5672);
        let upstream = tokio::net::lookup_host((host, port))
            .await
            .expect("the broker's host resolves")
            .next()
            .expect("the broker's host has an address");
        Self::start(upstream).await
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` (with its credentials and path) pointed at the proxy instead of its host.
    pub fn url_for(&self, url: &str) -> String {
        let mut parsed = url::Url::parse(url).expect("a URL");
        parsed
            .set_host(Some(&self.addr.ip().to_string()))
            .expect("the URL takes a host");
        parsed
            .set_port(Some(self.addr.port()))
            .expect("the URL takes a port");
        parsed.into()
    }

    /// How many connections the proxy has forwarded so far.
    pub fn forwarded(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// How many connections the proxy has refused while cut.
    pub async fn refused(&self) -> usize {
        self.pipes.lock().await.refused
    }

    /// Closes every live connection and refuses new ones (accepted, then closed at once)
    /// until [`Self::restore`]; returns how many live connections it closed.
    pub async fn cut(&self) -> usize {
        let mut pipes = self.pipes.lock().await;
        pipes.cut = true;
        let live = pipes.live.len();
        pipes.live.abort_all();
        // Dropping a pipe's task drops both of its sockets: both peers see the close.
        while pipes.live.join_next().await.is_some() {}
        live
    }

    /// Forwards new connections again.
    pub async fn restore(&self) {
        self.pipes.lock().await.cut = false;
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // With the acceptor gone, the last reference to the set of pipes drops with `self`,
        // and a dropped `JoinSet` aborts its tasks.
        self.acceptor.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    pipes: Arc<Mutex<Pipes>>,
    accepted: Arc<AtomicUsize>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let mut pipes = pipes.lock().await;
        if pipes.cut {
            pipes.refused += 1;
            drop(client);
            continue;
        }
        accepted.fetch_add(1, Ordering::SeqCst);
        pipes.live.spawn(pipe(client, upstream));
        // Finished pipes are reaped here, so that the set holds only live ones.
        while pipes.live.try_join_next().is_some() {}
    }
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr) {
    if let Ok(mut server) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An upstream that echoes what it reads.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        stream.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        stream.read_exact(&mut buf).await?;
        Ok(buf.to_vec())
    }

    #[tokio::test]
    async fn a_cut_closes_live_connections_refuses_new_ones_and_a_restore_forwards_again() {
        let proxy = TcpProxy::start(echo().await).await;
        let mut live = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut live).await.unwrap(), b"ping");

        assert_eq!(proxy.cut().await, 1, "the live connection was closed");
        let mut buf = [0u8; 1];
        let read = live.read(&mut buf).await;
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        let mut refused = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(round_trip(&mut refused).await.is_err());
        assert_eq!(proxy.refused().await, 1);

        proxy.restore().await;
        let mut again = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut again).await.unwrap(), b"ping");
        assert_eq!(proxy.forwarded(), 2);
    }

    #[tokio::test]
    async fn an_amqp_url_is_pointed_at_the_proxy_with_its_credentials() {
        let proxy = TcpProxy::to_amqp("amqp://guest:secret@localhost/%2f").await;
        let url = proxy.url_for("amqp://guest:secret@localhost/%2f");
        let port = proxy.addr().port();
        assert_eq!(url, format!("amqp://guest:secret@127.0.0.1:{port}/%2f"));
    }
}
