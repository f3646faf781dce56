//! The client against real sockets: transport failures, bodies past the limit, redirects.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpStream};

use super::*;

#[derive(Debug, Default)]
struct Calls(Mutex<Vec<(String, Option<u16>)>>);

impl CallObserver for Calls {
    fn observe(&self, method: &str, status: Option<u16>, _elapsed: Duration) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((method.to_owned(), status));
    }
}

#[test]
fn debug_output_never_shows_the_token() {
    let api = HttpTeamApi::new(
        "http://127.0.0.1:1",
        "team-1",
        SecretString::from("super-secret-api-token"),
        Duration::from_secs(1),
    )
    .unwrap();
    let debug = format!("{api:?}");
    assert!(!debug.contains("super-secret-api-token"), "{debug}");
}

#[tokio::test]
async fn a_transport_failure_is_transient_and_observed_without_a_status() {
    let api = HttpTeamApi::new(
        "http://127.0.0.1:1",
        "team-1",
        SecretString::from("token"),
        Duration::from_secs(2),
    )
    .unwrap();
    let calls = Arc::new(Calls::default());
    api.observe_calls(calls.clone());
    let error = api
        .find_user(&CallContext::default(), "a@example.com")
        .await
        .unwrap_err();
    assert!(matches!(error, ApiError::Transient { status: None, .. }));
    let seen = calls.0.lock().unwrap().clone();
    assert_eq!(seen, vec![("GET".to_owned(), None)]);
}

/// Reads one request's head (up to the blank line) from `stream`.
async fn read_head(stream: &TcpStream) -> std::io::Result<()> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        stream.readable().await?;
        match stream.try_read(&mut buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `bytes` to `stream`.
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A server that answers every request with `head` and then, if `chunks` > 0, that many
/// chunks of 64 KiB in chunked encoding, until the client hangs up. Counts connections.
async fn raw_server(head: String, chunks: usize) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let head = head.clone();
            tokio::spawn(async move {
                read_head(&stream).await?;
                write_all(&stream, head.as_bytes()).await?;
                let chunk = format!("10000\r\n{}\r\n", "x".repeat(1 << 16));
                for _ in 0..chunks {
                    write_all(&stream, chunk.as_bytes()).await?;
                }
                if chunks > 0 {
                    write_all(&stream, b"0\r\n\r\n").await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    (addr, connections)
}

fn client(addr: SocketAddr) -> HttpTeamApi {
    HttpTeamApi::new(
        &format!("http://{addr}"),
        "team-1",
        SecretString::from("token"),
        Duration::from_secs(20),
    )
    .unwrap()
}

fn cx() -> CallContext {
    CallContext {
        job_id: "job-1".into(),
        key: "default/user/u1".into(),
        version: 1,
    }
}

#[tokio::test]
async fn an_answer_past_the_limit_is_a_permanent_error_not_a_buffer() {
    // 256 MiB in chunks, no declared length: the client must stop reading by itself.
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let (addr, _) = raw_server(head.into(), 4096).await;
    let error = client(addr)
        .find_user(&cx(), "a@example.com")
        .await
        .unwrap_err();
    match &error {
        ApiError::Permanent {
            status: 200,
            code,
            message,
            ..
        } => {
            assert_eq!(code.as_str(), "response_too_large");
            assert!(
                message.contains("Splashtop answered more than 1 MiB"),
                "{message}"
            );
        }
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_declared_length_past_the_limit_is_refused_before_reading() {
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 268435456\r\n\r\n";
    let (addr, _) = raw_server(head.into(), 0).await;
    let error = client(addr)
        .with_max_body_bytes(4096)
        .find_user(&cx(), "a@example.com")
        .await
        .unwrap_err();
    assert!(
        error.has_code(&crate::error::ErrorCode::Other("response_too_large".into())),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("more than 4096 bytes"),
        "{error}"
    );
}

#[tokio::test]
async fn a_huge_error_answer_is_classified_by_its_status() {
    let head =
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\ntransfer-encoding: chunked\r\n\r\n";
    let (addr, _) = raw_server(head.into(), 64).await;
    let error = client(addr)
        .find_user(&cx(), "a@example.com")
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiError::Transient { status: Some(503), retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_redirect_is_an_error_with_its_status_and_is_never_followed() {
    let (elsewhere, hits) = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n{\"users\":[]}".into(),
        0,
    )
    .await;
    let head = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{elsewhere}/steal\r\ncontent-length: 0\r\n\r\n"
    );
    let (addr, _) = raw_server(head, 0).await;
    let calls = Arc::new(Calls::default());
    let api = client(addr);
    api.observe_calls(calls.clone());
    let error = api.find_user(&cx(), "a@example.com").await.unwrap_err();
    assert!(
        matches!(error, ApiError::Permanent { status: 307, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("redirects are not followed"),
        "{error}"
    );
    // The call has returned: a followed redirect would have connected by now.
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the redirect was followed");
    assert_eq!(
        calls.0.lock().unwrap().clone(),
        vec![("GET".to_owned(), Some(307))]
    );
}
