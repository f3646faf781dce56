//! `splashsync-receiver`: parses settings, starts telemetry, runs the receiver.

use clap::Parser;
use splashsync_receiver::app::Application;
use splashsync_receiver::config::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = Settings::parse();
    splashsync_runtime::telemetry::init(settings.log_format);
    if let Err(msg) = settings.validate() {
        eprintln!("splashsync-receiver: invalid configuration: {msg}");
        return std::process::ExitCode::from(2);
    }
    let app = match Application::build(settings).await {
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
