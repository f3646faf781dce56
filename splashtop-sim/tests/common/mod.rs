//! A tiny client for the simulator, shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use splashtop_sim::{spawn, SimConfig, SimHandle};

/// A running simulator and an HTTP client for it.
#[derive(Debug)]
pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// One answer: status, `Retry-After` and the JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub retry_after: Option<u64>,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub async fn start(config: SimConfig) -> Sim {
    let handle = spawn(config).await.expect("spawn");
    // reqwest is built with `rustls-no-provider`; a provider must exist even for plain http.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().build().expect("client");
    Sim { handle, http }
}

impl Sim {
    pub fn team(&self, rest: &str) -> String {
        format!("/teams/{}{rest}", self.handle.team_id())
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with('/') && !path.starts_with("/_sim") && path != "/healthz" {
            format!("{}{path}", self.handle.api_url())
        } else {
            format!("{}{path}", self.handle.base_url())
        };
        self.http
            .request(method, url)
            .bearer_auth(self.handle.token())
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Answer {
        let response = builder.send().await.expect("send");
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("json body")
        };
        Answer {
            status,
            retry_after,
            body,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut builder = self.request(method, path);
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        self.send(builder).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn invite(&self, email: &str, extra: Value) -> Answer {
        let mut body = json!({"email": email, "first_name": "First", "last_name": "Last"});
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        self.call(Method::POST, &self.team("/users"), Some(body))
            .await
    }

    pub async fn create_group(&self, name: &str) -> Answer {
        self.call(
            Method::POST,
            &self.team("/groups"),
            Some(json!({"name": name})),
        )
        .await
    }

    pub fn default_group_id(&self) -> String {
        let state = self.handle.snapshot();
        let groups = state["groups"].as_array().cloned().unwrap_or_default();
        let default = groups.iter().find(|g| g["is_default"] == json!(true));
        default
            .and_then(|g| g["id"].as_str())
            .expect("default group")
            .to_owned()
    }
}
