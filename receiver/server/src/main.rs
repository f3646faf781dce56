//! `splashsync-receiver`: parses settings, starts telemetry, runs the receiver.

use std::path::PathBuf;

use clap::Parser;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;

/// The receiver's command line: its settings, and the tenants file that, when given,
/// replaces the one tenant of the environment variables.
#[derive(Debug, Parser)]
#[command(
    name = "splashsync-receiver",
    version,
    about = "splashsync's SCIM 2.0 service provider"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,

    /// TOML file naming each tenant (Splashtop team) this deployment serves, with its SCIM
    /// token's SHA-256 (docs/DESIGN.md, "Tenants"). Without it, one tenant as configured.
    #[arg(long, env = "SPLASHSYNC_TENANTS_FILE")]
    tenants_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Cli {
        settings,
        tenants_file,
    } = Cli::parse();
    splashsync_runtime::telemetry::init(settings.log_format);
    let checked = match &tenants_file {
        None => settings.validate(),
        Some(_) => settings.validate_with_tenants_file(),
    };
    let specs = match tenants_file
        .as_deref()
        .map(splashsync_protocol::tenants::load)
    {
        Some(Err(err)) => Err(err.to_string()),
        Some(Ok(specs)) => checked.map(|()| Some(specs)),
        None => checked.map(|()| None),
    };
    let specs = match specs {
        Ok(specs) => specs,
        Err(msg) => {
            eprintln!("splashsync-receiver: invalid configuration: {msg}");
            return std::process::ExitCode::from(2);
        }
    };
    let built = match &specs {
        None => Application::build(settings).await,
        Some(specs) => Application::build_tenants(settings, specs).await,
    };
    let app = match built {
        Ok(app) => app,
        Err(err) => {
            tracing::error!(error = %err, "cannot start the receiver");
            return std::process::ExitCode::FAILURE;
        }
    };
    match app
        .run_until_stopped(splashsync_runtime::shutdown::signal())
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "receiver failed");
            std::process::ExitCode::FAILURE
        }
    }
}
