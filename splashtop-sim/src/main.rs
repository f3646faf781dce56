//! The `splashtop-sim` binary: parses the configuration, starts logging, binds and
//! serves until SIGTERM or Ctrl-C, then finishes the requests in flight.

use anyhow::{Context, Result};
use clap::Parser;
use splashsync_runtime::telemetry;
use splashtop_sim::{serve, Cli, LogFormat};

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    telemetry::init(match cli.log_format {
        LogFormat::Text => telemetry::LogFormat::Text,
        LogFormat::Json => telemetry::LogFormat::Json,
    });
    let config = cli.to_config().context("invalid configuration")?;
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    serve(listener, config, splashsync_runtime::shutdown::signal()).await
}
