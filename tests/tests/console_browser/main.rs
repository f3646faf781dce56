//! The console in a real browser: Debian's headless chromium, driven over WebDriver by
//! chromedriver, logs in, clicks Replay on a dead letter, and sees the user applied.
//!
//! Without chromium and chromedriver on PATH the test is skipped locally but FAILS under
//! `CI=true` (CI installs them: a skipped browser test there would hide a broken console).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use splashsync_protocol::events::OutcomeStatus;
use splashsync_protocol::keys::{account_route, Email};
use splashsync_test_support::{
    eventually, get_json, outcome, user_state, DeadReason, FakeWorker, Options, ScimUser, TestApp,
    ADMIN_TOKEN,
};

const WAIT: Duration = Duration::from_secs(60);
/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver, killed when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal W3C WebDriver client: just the commands this test needs.
struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Browser {
    async fn start(driver_url: &str, chromium: &PathBuf, profile: &std::path::Path) -> Self {
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

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
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

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> Option<String> {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT].as_str().map(str::to_string)
    }

    async fn must_find(&self, css: &str) -> String {
        match self.find(css).await {
            Some(e) => e,
            None => {
                let src = self.cmd(reqwest::Method::GET, "/source", None).await;
                panic!("no element {css} on the page:\n{src}")
            }
        }
    }

    async fn click(&self, css: &str) {
        let el = self.must_find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.must_find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn text(&self, css: &str) -> Option<String> {
        let el = self.find(css).await?;
        self.cmd(reqwest::Method::GET, &format!("/element/{el}/text"), None)
            .await
            .as_str()
            .map(str::to_string)
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
        let _ = self.session;
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn an_operator_replays_a_dead_letter_in_the_browser_and_the_user_becomes_applied() {
    let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
    else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium and chromedriver must be installed in CI (apt-get install -y chromium chromium-driver)"
        );
        eprintln!("skipped: chromium or chromedriver not on PATH");
        return;
    };
    let app = TestApp::spawn_with(Options {
        worker: false,
        ..Options::default()
    })
    .await;
    let worker = FakeWorker::connect(&app.topology).await;
    let grace = ScimUser::new("grace@example.com").name("Grace", "Hopper");
    let r = app.create_user(&grace.json()).await;
    assert_eq!(r.status(), 201);
    assert!(r.json::<Value>().await.unwrap()["id"].is_string());

    let job = worker
        .take_job(
            &account_route(&Default::default(), &Email::new("grace@example.com")),
            WAIT,
        )
        .await
        .expect("job published");
    worker
        .dead_letter(
            &job,
            &DeadReason::permanent(
                422,
                "seat_limit_reached",
                "the licence's 1 seats are all taken",
            ),
            1,
        )
        .await;
    let dl = eventually(WAIT, "the dead letter", || async {
        let (_, body) = get_json(&app, "/dead-letters").await;
        body["dead_letters"][0]["id"].as_i64()
    })
    .await;

    let port = free_port();
    let profile = tempfile::tempdir().expect("profile dir");
    let _driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let browser = Browser::start(
        &format!("http://127.0.0.1:{port}"),
        &chromium,
        profile.path(),
    )
    .await;
    let base = app.base_url();
    browser.go(&format!("{base}/console/dead-letters")).await;
    browser.type_into("#token", ADMIN_TOKEN).await;
    browser.click("#login").await;
    // The login form posts and redirects; the click returns before the browser has the
    // session cookie, so look for the dead letter until the console shows it (logging in
    // again should the login page come back).
    let row = eventually(WAIT, "the dead letter in the console", || async {
        browser.go(&format!("{base}/console/dead-letters")).await;
        if browser.find("#token").await.is_some() {
            browser.type_into("#token", ADMIN_TOKEN).await;
            browser.click("#login").await;
            return None;
        }
        browser.text(&format!("#dl-{dl}")).await
    })
    .await;
    assert!(
        row.contains("seat_limit_reached"),
        "the console lists the dead letter with its reason: {row}"
    );
    browser.click(&format!("#replay-{dl}")).await;
    let flash = eventually(WAIT, "the replay message", || async {
        browser.text("#flash").await
    })
    .await;
    assert!(
        flash.contains(&format!("dead letter {dl} replayed")),
        "{flash}"
    );
    assert!(
        browser.find("#no-dead-letters").await.is_some(),
        "the list is empty after the replay"
    );

    // The worker's part: the replayed job arrives with the current state and is applied.
    let fresh = worker
        .take_job(
            &account_route(&Default::default(), &Email::new("grace@example.com")),
            WAIT,
        )
        .await
        .expect("the replay job");
    assert_ne!(fresh.meta().job_id, job.meta().job_id);
    worker
        .send_event(&outcome(&fresh, 1, OutcomeStatus::Applied, "invited"))
        .await;
    eventually(WAIT, "applied in the admin API", || async {
        user_state(&app, "grace@example.com").await.as_deref() == Some("applied")
    })
    .await;
    browser
        .go(&format!("{base}/console/users?q=grace%40example.com"))
        .await;
    assert_eq!(browser.text("#state").await.as_deref(), Some("applied"));
    let timeline = browser.text("#timeline").await.unwrap_or_default();
    assert!(
        timeline.contains("POST /Users") && timeline.contains("replayed"),
        "{timeline}"
    );
    browser.go(&format!("{base}/console")).await;
    assert!(
        browser.find("#chart").await.is_some(),
        "the overview draws its chart"
    );
    browser.quit().await;
    worker.close().await;
    app.shutdown().await;
}
