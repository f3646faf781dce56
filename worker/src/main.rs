//! `splashsync-worker`: parses settings, starts telemetry, runs the worker (or, with a
//! tenants file, a worker per tenant).

use std::path::PathBuf;

use clap::Parser;
use splashsync_protocol::topology::TenantClaimError;
use splashsync_worker::config::Settings;
use splashsync_worker::consumer::Worker;

/// The worker's command line: its settings, and the tenants file that, when given, runs a
/// worker per tenant with the tenant's Splashtop account, bucket and prefix.
#[derive(Debug, Parser)]
#[command(
    name = "splashsync-worker",
    version,
    about = "splashsync's Splashtop provisioning worker"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,

    /// TOML file naming each tenant (docs/DESIGN.md, "Tenants"); the SPLASHTOP_* account
    /// settings then come from it, per tenant.
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
    let shutdown = splashsync_runtime::shutdown::signal();
    let ran = match tenants_file {
        None => match Worker::from_settings(&settings) {
            Ok(worker) => worker.run(shutdown).await,
            Err(err) => return invalid(&err),
        },
        Some(path) => {
            let per_tenant = splashsync_protocol::tenants::load(&path)
                .map_err(|e| e.to_string())
                .and_then(|specs| {
                    splashsync_worker::tenants::settings_per_tenant(&settings, &specs)
                });
            match per_tenant {
                Ok(all) => splashsync_worker::tenants::run_all(&all, shutdown).await,
                Err(msg) => return invalid(&anyhow::anyhow!(msg)),
            }
        }
    };
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // Found only once connected, but a configuration error all the same.
        Err(err) if err.downcast_ref::<TenantClaimError>().is_some() => {
            tracing::error!(error = %err, "the AMQP prefix belongs to another tenant");
            invalid(&err)
        }
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "worker failed");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Exit code 2, as for any configuration the worker cannot run with.
fn invalid(err: &anyhow::Error) -> std::process::ExitCode {
    eprintln!("splashsync-worker: invalid configuration: {err:#}");
    std::process::ExitCode::from(2)
}
