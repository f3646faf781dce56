//! A receiver over a real socket (the listener's limits, the peer address and the
//! supervised tasks only exist there), on its own SQLite file and AMQP prefix.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use clap::Parser;
use serde_json::Value;
use splashsync_protocol::topology::Topology;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;
use splashsync_test_support::{amqp_url, delete_topology, install_crypto};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SCIM_TOKEN: &str = "hardening-scim-token-0123";
pub const ADMIN_TOKEN: &str = "hardening-admin-token-0123";
pub const WAIT: Duration = Duration::from_secs(30);

/// A fresh prefix for one test.
pub fn prefix() -> String {
    format!("t-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Settings of a receiver on port 0 with a database in `dir`, the test broker, a fresh
/// prefix and both tokens.
pub fn settings(dir: &tempfile::TempDir) -> Settings {
    let db = dir.path().join("directory.db");
    let mut s = Settings::try_parse_from([
        "splashsync-receiver",
        "--scim-token",
        SCIM_TOKEN,
        "--admin-token",
        ADMIN_TOKEN,
    ])
    .expect("settings");
    s.listen = "127.0.0.1:0".parse().expect("addr");
    s.database_url = format!("sqlite://{}", db.display());
    s.amqp_url = amqp_url();
    s.amqp_prefix = prefix();
    s.partitions = 2;
    s.sample_interval_secs = 1;
    s
}

/// A running receiver; stop it with [`Receiver::stop`] (which deletes its topology).
pub struct Receiver {
    pub base: String,
    pub http: reqwest::Client,
    pub topology: Topology,
    running: Option<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
    _dir: tempfile::TempDir,
}

/// Starts a receiver with default test settings changed by `configure`.
pub async fn start(configure: impl FnOnce(&mut Settings)) -> Receiver {
    install_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = settings(&dir);
    configure(&mut s);
    let topology = Topology::new(s.amqp_prefix.clone(), s.partitions);
    let app = Application::build(s).await.expect("the receiver builds");
    let base = format!("http://{}", app.addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    Receiver {
        base,
        http: reqwest::Client::new(),
        topology,
        running: Some((stop, task)),
        _dir: dir,
    }
}

impl Receiver {
    /// A SCIM request with the token.
    pub fn scim(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/scim/v2{path}", self.base))
            .bearer_auth(SCIM_TOKEN)
    }

    /// An admin request with the token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/admin{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// `POST /Users` for `email`; the status.
    pub async fn create_user(&self, email: &str) -> u16 {
        self.scim(reqwest::Method::POST, "/Users")
            .json(&serde_json::json!({"userName": email, "active": true}))
            .send()
            .await
            .expect("POST /Users")
            .status()
            .as_u16()
    }

    /// `/metrics`, as text.
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// `/readyz`: status and body.
    pub async fn readyz(&self) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .expect("GET /readyz");
        let status = r.status().as_u16();
        (status, r.json().await.expect("readyz JSON"))
    }

    /// Stops the receiver and deletes its queues and exchanges.
    pub async fn stop(mut self) {
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
        delete_topology(&self.topology).await;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // A test that panicked never reached `stop`: still leave no queues behind.
        if self.running.take().is_some() {
            let topology = self.topology.clone();
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(delete_topology(&topology));
                }
            })
            .join();
        }
    }
}

/// The problem `/readyz` reports for `component`, if any.
pub fn problem_of(readyz: &Value, component: &str) -> Option<String> {
    readyz["problems"]
        .as_array()?
        .iter()
        .find(|p| p["component"] == component)
        .and_then(|p| p["problem"].as_str())
        .map(str::to_string)
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is loopback), so a
/// test can play several source addresses; it never follows redirects.
pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(ip))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The `name=value` part of the `Set-Cookie` of `name` in `r`, and its attributes.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| match v.split_once(';') {
            Some((pair, attrs)) => (pair.to_string(), attrs.to_string()),
            None => (v.to_string(), String::new()),
        })
}

/// The value of the first hidden `csrf` field of a page.
pub fn csrf_field(html: &str) -> Option<String> {
    let start = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let len = html[start..].find('"')?;
    Some(html[start..start + len].to_string())
}

/// Logs into the console with `token` as a browser at `origin` does: reads the login
/// form (its one-off token and cookie), then posts it.
pub async fn console_login_from(
    client: &reqwest::Client,
    base: &str,
    origin: &str,
    token: &str,
) -> reqwest::Response {
    let form = client
        .get(format!("{base}/console/login"))
        .send()
        .await
        .expect("GET /console/login");
    let (cookie, _) = set_cookie(&form, "splashsync_console_login").expect("the login cookie");
    let csrf = csrf_field(&form.text().await.expect("page")).expect("the login form's token");
    client
        .post(format!("{base}/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .header("origin", origin)
        .body(format!("csrf={csrf}&token={token}"))
        .send()
        .await
        .expect("POST /console/login")
}

/// [`console_login_from`] the receiver's own origin.
pub async fn console_login(client: &reqwest::Client, base: &str, token: &str) -> reqwest::Response {
    console_login_from(client, base, base, token).await
}

/// The `Retry-After` of a response, in seconds.
pub fn retry_after(r: &reqwest::Response) -> Option<u64> {
    r.headers().get("retry-after")?.to_str().ok()?.parse().ok()
}

/// Builds (without running) a receiver with default test settings changed by
/// `configure`; the directory must outlive the receiver.
pub async fn build(
    configure: impl FnOnce(&mut Settings),
) -> (anyhow::Result<Application>, tempfile::TempDir) {
    install_crypto();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s = settings(&dir);
    configure(&mut s);
    (Application::build(s).await, dir)
}

/// Sends `head` (a request line and headers, no body) on a fresh connection and reads the
/// answer until the receiver closes it: status and body.
pub async fn raw(base: &str, head: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the receiver answers and closes")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Asserts `r` is a SCIM error with `status`; its body.
pub async fn scim_error(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "{r:?}");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(ct.starts_with("application/scim+json"), "{status}: {ct}");
    let body: Value = r.json().await.expect("a JSON body");
    assert_scim_error(&body, status);
    body
}

/// Asserts `body` is an RFC 7644 §3.12 error body with `status`.
pub fn assert_scim_error(body: &Value, status: u16) {
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// Asserts `r` is an admin JSON error with `status`.
pub async fn admin_error(r: reqwest::Response, status: u16) {
    assert_eq!(r.status().as_u16(), status, "{r:?}");
    let body: Value = r.json().await.expect("a JSON body");
    assert_eq!(body["error"]["status"], status, "{body}");
}
