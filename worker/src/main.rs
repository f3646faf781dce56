//! `splashsync-worker`: parses settings, starts telemetry, runs the worker.

use clap::Parser;
use splashsync_protocol::topology::TenantClaimError;
use splashsync_worker::config::Settings;
use splashsync_worker::consumer::Worker;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let settings = Settings::parse();
    splashsync_runtime::telemetry::init(settings.log_format);
    let worker = match Worker::from_settings(&settings) {
        Ok(w) => w,
        Err(err) => {
            eprintln!("splashsync-worker: invalid configuration: {err}");
            return std::process::ExitCode::from(2);
        }
    };
    match worker.run(splashsync_runtime::shutdown::signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Found only once connected, but a configuration error all the same.
        Err(err) if err.downcast_ref::<TenantClaimError>().is_some() => {
            tracing::error!(error = %err, "the AMQP prefix belongs to another tenant");
            eprintln!("splashsync-worker: invalid configuration: {err}");
            std::process::ExitCode::from(2)
        }
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "worker failed");
            std::process::ExitCode::FAILURE
        }
    }
}
