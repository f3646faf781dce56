//! `SPLASHSYNC_AMQP_URL` naming several nodes, against the real broker: a node that
//! refuses and a node that never answers the handshake are passed over for the next, and
//! the node that answered is where the next connection starts.
#![cfg(feature = "amqp")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn amqp_url() -> String {
    std::env::var("SPLASHSYNC_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("its address").port()
}

/// A node that accepts sockets and never says a word; counts the sockets it took.
async fn silent_node() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn dead_and_silent_nodes_are_passed_over_and_the_answering_one_is_kept() {
    let (silent, accepted) = silent_node().await;
    let list = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f, amqp://guest:guest@127.0.0.1:{silent}/%2f, {}",
        closed_port(),
        amqp_url()
    );
    let within = Duration::from_millis(500);
    let conn = splashsync_protocol::amqp::connect_within(&list, "nodes-test", within)
        .await
        .expect("the third node answers");
    assert!(conn.status().connected());
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the silent node was tried once"
    );
    // The next connection starts at the node that answered: the silent one is not tried.
    let again = splashsync_protocol::amqp::connect_within(&list, "nodes-test-2", within)
        .await
        .expect("the third node still answers");
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "no second try of a silent node"
    );
    let _ = again.close(200, "done".into()).await;
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test]
async fn a_list_where_no_node_answers_names_every_node_and_no_password() {
    let list = format!(
        "amqp://guest:hunter2@127.0.0.1:{}/%2f,amqp://guest:hunter2@127.0.0.1:{}/%2f",
        closed_port(),
        closed_port()
    );
    let error =
        splashsync_protocol::amqp::connect_within(&list, "none-test", Duration::from_secs(2))
            .await
            .expect_err("no node answers")
            .to_string();
    assert!(error.contains("no RabbitMQ node answered"), "{error}");
    assert_eq!(error.matches("guest:***@127.0.0.1").count(), 2, "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}
