//! One admin API call: method, path under `/admin`, query, body; the answer as JSON or
//! why it failed, with the exit code the CLI has always used for it.

use std::process::ExitCode;

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use splashsync_protocol::admin::{self, ErrorBody};

/// One request: method, path under `/admin`, query, body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub(crate) post: bool,
    pub(crate) path: String,
    /// The query string's fields (a JSON object of the API's query type).
    pub(crate) query: Option<Value>,
    pub(crate) body: Option<Value>,
}

impl Call {
    pub(crate) fn get(path: String) -> Self {
        Self {
            post: false,
            path,
            query: None,
            body: None,
        }
    }

    /// A GET with `query` (one of the API's query types) as its query string.
    pub(crate) fn get_with(path: String, query: &impl serde::Serialize) -> Self {
        Self {
            query: serde_json::to_value(query).ok(),
            ..Self::get(path)
        }
    }

    pub(crate) fn post(path: String, body: impl serde::Serialize) -> Self {
        Self {
            post: true,
            path,
            query: None,
            body: Some(serde_json::to_value(body).unwrap_or(Value::Null)),
        }
    }
}

/// Why a call gave no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The receiver could not be reached: exit code 2.
    Unreachable(String),
    /// The admin API answered an error (its HTTP status, its message): exit code 1.
    Refused(u16, String),
}

impl Failure {
    /// The message for standard error.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Unreachable(m) => m.clone(),
            Self::Refused(status, m) => {
                let status = reqwest::StatusCode::from_u16(*status)
                    .map_or_else(|_| status.to_string(), |s| s.to_string());
                format!("{status}: {m}")
            }
        }
    }

    /// The process's exit code (unchanged since the first CLI: scripts rely on it).
    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            Self::Unreachable(_) => ExitCode::from(2),
            Self::Refused(..) => ExitCode::FAILURE,
        }
    }
}

/// The admin API of one receiver.
#[derive(Debug)]
pub(crate) struct Api {
    base: String,
    token: SecretString,
    http: reqwest::Client,
}

impl Api {
    pub(crate) fn new(base: &str, token: SecretString) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// Sends `call`; the JSON answer of a 2xx, else why not.
    pub(crate) async fn send(&self, call: &Call) -> Result<Value, Failure> {
        let url = format!("{}{}{}", self.base, admin::PREFIX, call.path);
        let mut req = if call.post {
            self.http.post(&url)
        } else {
            self.http.get(&url)
        };
        req = req.bearer_auth(self.token.expose_secret());
        if let Some(query) = &call.query {
            req = req.query(query);
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let response = req
            .send()
            .await
            .map_err(|e| Failure::Unreachable(format!("cannot reach {}: {e}", self.base)))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let message = serde_json::from_value::<ErrorBody>(body)
            .map(|e| e.error.message)
            .unwrap_or_else(|_| "no details".into());
        Err(Failure::Refused(status.as_u16(), message))
    }
}
