//! Worker settings: every one from the environment, with a flag of the same meaning.

use clap::Parser;
use secrecy::SecretString;
use splashsync_shared::telemetry::LogFormat;

/// What deactivating a user does on Splashtop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeactivateMode {
    /// Remove the user from the team; the Splashtop account survives.
    Remove,
    /// Delete the Splashtop account.
    Delete,
}

/// The worker's settings.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "splashsync-worker",
    version,
    about = "splashsync's Splashtop provisioning worker"
)]
pub struct Settings {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "SPLASHSYNC_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,

    /// Prefix of every exchange and queue name.
    #[arg(long, env = "SPLASHSYNC_AMQP_PREFIX", default_value = "splashsync")]
    pub amqp_prefix: String,

    /// Number of partition queues; must be the same for receivers and workers.
    #[arg(long, env = "SPLASHSYNC_PARTITIONS", default_value_t = splashsync_shared::topology::DEFAULT_PARTITIONS,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub partitions: u16,

    /// Base URL of the Splashtop API (e.g. https://my.splashtop.com).
    #[arg(long, env = "SPLASHTOP_API_URL")]
    pub splashtop_api_url: String,

    /// Splashtop API token (required).
    #[arg(long, env = "SPLASHTOP_API_TOKEN", hide_env_values = true)]
    pub splashtop_api_token: SecretString,

    /// Splashtop team id.
    #[arg(long, env = "SPLASHTOP_TEAM_ID")]
    pub splashtop_team_id: String,

    /// What deactivation does on Splashtop.
    #[arg(
        long,
        env = "SPLASHSYNC_DEACTIVATE_MODE",
        value_enum,
        default_value = "remove"
    )]
    pub deactivate_mode: DeactivateMode,

    /// Timeout of one Splashtop API request, in seconds.
    #[arg(long, env = "SPLASHTOP_API_TIMEOUT_SECS", default_value_t = 30)]
    pub api_timeout_secs: u64,

    /// The team's Splashtop API calls per minute, shared by all worker processes
    /// (each takes an equal share of it); 0 disables the limiter.
    #[arg(long, env = "SPLASHTOP_RATE_LIMIT_PER_MINUTE", default_value_t = 200)]
    pub rate_limit_per_minute: u32,

    /// How long one job's transient failures are retried before it is dead-lettered,
    /// in seconds (at most 1200, well under RabbitMQ's 30-minute consumer timeout).
    #[arg(long, env = "SPLASHSYNC_RETRY_BUDGET_SECS", default_value_t = 300)]
    pub retry_budget_secs: u64,

    /// Redis URL of the state shared by workers (applied versions, heartbeats).
    #[arg(
        long,
        env = "SPLASHSYNC_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,

    /// Prefix of every Redis key; defaults to the AMQP prefix.
    #[arg(long, env = "SPLASHSYNC_REDIS_PREFIX")]
    pub redis_prefix: Option<String>,

    /// Log format: text or json.
    #[arg(long, env = "SPLASHSYNC_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

impl Settings {
    /// Checks what clap cannot, with a message that says how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        use secrecy::ExposeSecret;
        if !(self.splashtop_api_url.starts_with("http://")
            || self.splashtop_api_url.starts_with("https://"))
        {
            return Err("SPLASHTOP_API_URL must start with http:// or https://".into());
        }
        if self.splashtop_api_token.expose_secret().is_empty() {
            return Err("SPLASHTOP_API_TOKEN must not be empty".into());
        }
        if self.splashtop_team_id.is_empty() || self.splashtop_team_id.contains('/') {
            return Err("SPLASHTOP_TEAM_ID must be non-empty and contain no '/'".into());
        }
        if !(self.amqp_url.starts_with("amqp://") || self.amqp_url.starts_with("amqps://")) {
            return Err("SPLASHSYNC_AMQP_URL must start with amqp:// or amqps://".into());
        }
        if self.retry_budget_secs == 0
            || self.retry_budget_secs > crate::retry::MAX_BUDGET.as_secs()
        {
            return Err(format!(
                "SPLASHSYNC_RETRY_BUDGET_SECS must be between 1 and {} (RabbitMQ's consumer timeout is 1800)",
                crate::retry::MAX_BUDGET.as_secs()
            ));
        }
        if !self.redis_url.starts_with("redis://") {
            return Err("SPLASHSYNC_REDIS_URL must start with redis://".into());
        }
        if self.api_timeout_secs == 0 {
            return Err("SPLASHTOP_API_TIMEOUT_SECS must be at least 1".into());
        }
        Ok(())
    }
}
