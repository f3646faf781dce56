//! A minimal W3C WebDriver client for the console tests: chromedriver as a child process
//! and just the commands the tests need.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use serde_json::{json, Value};
use splashsync_test_support::eventually;

const WAIT: Duration = Duration::from_secs(60);
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver, killed when dropped.
pub(crate) struct Driver(pub(crate) Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal W3C WebDriver client: just the commands this test needs.
pub(crate) struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Browser {
    pub(crate) async fn start(
        driver_url: &str,
        chromium: &PathBuf,
        profile: &std::path::Path,
    ) -> Self {
        let http = reqwest::Client::new();
        eventually(WAIT, "chromedriver ready", || async {
            let r = http.get(format!("{driver_url}/status")).send().await.ok()?;
            let body: Value = r.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(())
        })
        .await;
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let r: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Self {
            http,
            base: format!("{driver_url}/session/{session}"),
            session,
        }
    }

    pub(crate) async fn cmd(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("json");
        r["value"].clone()
    }

    pub(crate) async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub(crate) async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_string)
    }

    pub(crate) async fn must_find(&self, css: &str) -> String {
        match self.find(css).await {
            Some(e) => e,
            None => {
                let src = self.cmd(reqwest::Method::GET, "/source", None).await;
                panic!("no element {css} on the page:\n{src}")
            }
        }
    }

    pub(crate) async fn click(&self, css: &str) {
        let el = self.must_find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self.must_find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub(crate) async fn text(&self, css: &str) -> Option<String> {
        let el = self.find(css).await?;
        self.cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .map(str::to_string)
    }

    pub(crate) async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
        let _ = self.session;
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// chromedriver, a browser session and its profile, for one test.
pub(crate) struct Console {
    pub(crate) browser: Browser,
    _driver: Driver,
    _profile: tempfile::TempDir,
}

impl Console {
    /// Starts chromedriver and a headless chromium; `None` (skipped) when they are not
    /// installed, which fails under `CI=true`.
    pub(crate) async fn launch() -> Option<Self> {
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "chromium and chromedriver must be installed in CI (apt-get install -y chromium chromium-driver)"
            );
            eprintln!("skipped: chromium or chromedriver not on PATH");
            return None;
        };
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile dir");
        let driver = Driver(
            std::process::Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let browser = Browser::start(
            &format!("http://127.0.0.1:{port}"),
            &chromium,
            profile.path(),
        )
        .await;
        Some(Self {
            browser,
            _driver: driver,
            _profile: profile,
        })
    }

    /// Ends the browser session (chromedriver and the profile go when dropped).
    pub(crate) async fn quit(self) {
        self.browser.quit().await;
    }

    /// Opens `url` (logging in with `token` whenever the login page comes instead: the
    /// login's redirect may race the next navigation) until `css` is on the page; its text.
    pub(crate) async fn show(&self, url: &str, token: &str, css: &str) -> String {
        let b = &self.browser;
        eventually(WAIT, css, || async {
            b.go(url).await;
            if b.find("#token").await.is_some() {
                b.type_into("#token", token).await;
                b.click("#login").await;
                return None;
            }
            b.text(css).await
        })
        .await
    }
}
