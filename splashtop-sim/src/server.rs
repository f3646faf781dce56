//! Running the simulator: [`serve`] on a listener, or [`spawn`] in-process for tests.
//! Either way the listener has limits ([`LIMITS`]): a client trickling its headers or
//! holding an idle connection is cut off, and connections beyond the cap wait.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::Value;
use splashsync_runtime::http::Limits;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SimConfig;
use crate::domain::LogEntry;
use crate::faults::Faults;
use crate::http;
use crate::sim::{Shared, Sim};

/// The simulator's listener limits. Generous for a test double, but bounded: the timeouts
/// are far from anything a well-behaved client needs, and the connection cap is above the
/// benchmarks' 64 connections with room to spare. The shutdown grace only covers requests
/// already being answered: hanging fault requests are answered 503 as the stop begins.
const LIMITS: Limits = Limits {
    header_read_timeout: Duration::from_secs(10),
    body_read_timeout: Duration::from_secs(30),
    max_connections: 1024,
    shutdown_grace: Duration::from_secs(10),
};

/// Serves the simulator on `listener` until `shutdown` resolves, then finishes the
/// requests in flight (hanging fault requests are answered 503 at once).
pub async fn serve(
    listener: TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    config
        .validate()
        .context("invalid simulator configuration")?;
    run(listener, Shared::new(config), LIMITS, shutdown).await
}

async fn run(
    listener: TcpListener,
    sim: Sim,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr().ok();
    tracing::info!(
        ?addr,
        team_id = %sim.config.team_id,
        sso_methods = ?sim.config.sso_methods,
        faults = ?sim.config.faults,
        "splashtop-sim listening"
    );
    let signal = {
        let sim = sim.clone();
        async move {
            shutdown.await;
            tracing::info!("splashtop-sim shutting down");
            sim.begin_shutdown();
        }
    };
    splashsync_runtime::http::serve(listener, http::app(sim), limits, signal)
        .await
        .context("the simulator's server failed")
}

/// Starts a simulator on `127.0.0.1:0` in the background; dropping the handle stops it.
pub async fn spawn(config: SimConfig) -> Result<SimHandle> {
    config
        .validate()
        .context("invalid simulator configuration")?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let sim = Shared::new(config);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, sim.clone(), LIMITS, async move {
        // Resolves on an explicit stop and when the handle (the sender) is dropped.
        let _ = stopped.await;
    }));
    Ok(SimHandle {
        addr,
        sim,
        stop,
        task,
    })
}

/// A simulator running in the background; dropping it stops the server.
#[derive(Debug)]
pub struct SimHandle {
    /// The address the simulator listens on.
    pub addr: SocketAddr,
    sim: Sim,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<()>>,
}

impl SimHandle {
    /// `http://<addr>`; the API lives under `/api/open/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://<addr>/api/open/v1`.
    pub fn api_url(&self) -> String {
        format!("{}{}", self.base_url(), splashtop_api::API_PREFIX)
    }

    /// The configured team id.
    pub fn team_id(&self) -> &str {
        &self.sim.config.team_id
    }

    /// The configured API token.
    pub fn token(&self) -> &str {
        &self.sim.config.token
    }

    /// The same body as `GET /_sim/state`.
    pub fn snapshot(&self) -> Value {
        self.sim.lock().team.snapshot()
    }

    /// The same entries as `GET /_sim/log`.
    pub fn log(&self) -> Vec<LogEntry> {
        self.sim.lock().journal.entries.clone()
    }

    /// The same body as `GET /_sim/stats`.
    pub fn stats(&self) -> Value {
        serde_json::to_value(&self.sim.lock().faults.stats).unwrap_or(Value::Null)
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        self.sim.lock().faults.settings.clone()
    }

    /// Replaces the faults (as `PUT /_sim/faults`); rates outside 0..=1 are clamped.
    pub fn set_faults(&self, faults: Faults) {
        let clamp = |rate: f64| {
            if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            }
        };
        let faults = Faults {
            error_rate: clamp(faults.error_rate),
            error_after_apply_rate: clamp(faults.error_after_apply_rate),
            throttle_rate: clamp(faults.throttle_rate),
            timeout_rate: clamp(faults.timeout_rate),
            reset_rate: clamp(faults.reset_rate),
            ..faults
        };
        self.sim.lock().faults.settings = faults;
    }

    /// Clears the team, the log and the counters (as `POST /_sim/reset`).
    pub fn reset(&self) {
        self.sim.reset();
    }

    /// Stops the server gracefully and waits for it.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "splashtop-sim stopped with an error"),
            Err(error) => tracing::warn!(%error, "splashtop-sim task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    #[tokio::test]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            header_read_timeout: Duration::from_millis(200),
            ..LIMITS
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let sim = Shared::new(SimConfig::default());
        let task = tokio::spawn(run(listener, sim, limits, async move {
            let _ = stopped.await;
        }));
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nhost")
            .await
            .unwrap();
        let mut rest = Vec::new();
        // The outer deadline only keeps a listener without limits from hanging the test.
        let closed =
            tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "the listener held a trickling client");
        let _ = stop.send(());
        task.await.unwrap().unwrap();
    }
}
