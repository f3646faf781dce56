//! `SPLASHSYNC_AMQP_URL` naming several RabbitMQ nodes (issue 12): the receiver and the
//! worker pass over a node that is down, run the whole pipe on the first one that answers,
//! and move to the next node when theirs goes away, without a restart. The nodes are
//! proxies to the one test broker: cutting a proxy is losing that node.

use std::time::Duration;

use splashsync_test_support::{
    amqp_url, has_user, sim_reaches, Options, ScimUser, TcpProxy, TestApp, WorkerOptions,
};

const WAIT: Duration = Duration::from_secs(45);

/// An AMQP URL to a loopback port nothing listens on (bound, then released).
fn dead_node() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("its address").port();
    format!("amqp://guest:guest@127.0.0.1:{port}/%2f")
}

/// Two live nodes behind a dead one, as one component's `SPLASHSYNC_AMQP_URL`.
struct Nodes {
    first: TcpProxy,
    second: TcpProxy,
    list: String,
}

impl Nodes {
    async fn new() -> Self {
        let first = TcpProxy::to_amqp(&amqp_url()).await;
        let second = TcpProxy::to_amqp(&amqp_url()).await;
        let list = format!(
            "{},{},{}",
            dead_node(),
            first.url_for(&amqp_url()),
            second.url_for(&amqp_url())
        );
        Self {
            first,
            second,
            list,
        }
    }
}

/// Creates `email` over SCIM and waits for it in the Splashtop team: the pipe works.
async fn through_the_pipe(app: &TestApp, email: &str) {
    let response = app.create_user(&ScimUser::okta(email).json()).await;
    assert_eq!(response.status(), 201, "{email}");
    sim_reaches(&app.sim, WAIT, email, |s| has_user(s, email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipe_runs_past_a_dead_node_and_moves_to_the_next_when_its_node_is_cut() {
    // The receiver and the worker each get nodes of their own, to tell who went where.
    let (receiver, worker) = (Nodes::new().await, Nodes::new().await);
    let app = TestApp::spawn_with(Options {
        receiver_amqp_url: receiver.list.clone(),
        worker: false,
        ..Options::default()
    })
    .await;
    let running = app
        .start_worker_with(WorkerOptions {
            amqp_url: Some(worker.list.clone()),
            ..WorkerOptions::default()
        })
        .await;

    through_the_pipe(&app, "before@example.com").await;
    for (who, nodes) in [("receiver", &receiver), ("worker", &worker)] {
        assert!(
            nodes.first.forwarded() >= 1,
            "the {who} is on the first live node"
        );
        assert_eq!(
            nodes.second.forwarded(),
            0,
            "the {who} skipped no live node"
        );
    }

    // Both nodes go away: every connection through them closes, new ones are refused.
    for (who, nodes) in [("receiver", &receiver), ("worker", &worker)] {
        let closed = nodes.first.cut().await;
        assert!(
            closed >= 1,
            "the {who} was connected through its first live node"
        );
    }
    through_the_pipe(&app, "after@example.com").await;
    for (who, nodes) in [("receiver", &receiver), ("worker", &worker)] {
        assert!(
            nodes.second.forwarded() >= 1,
            "the {who} moved to the next node"
        );
    }

    running.stop().await;
    app.shutdown().await;
}
