//! Worker settings: every one from the environment, with a flag of the same meaning.

use std::net::SocketAddr;

use clap::Parser;
use secrecy::SecretString;
use splashsync_protocol::amqp::redact_url;
use splashsync_runtime::telemetry::LogFormat;

/// Default prefetch of each partition consumer: how many jobs of a partition a worker
/// holds at once, the window coalescing looks into (docs/DESIGN.md, "Coalescing").
pub const DEFAULT_PREFETCH: u16 = 32;

/// What deactivating a user does on Splashtop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeactivateMode {
    /// Remove the user from the team; the Splashtop account survives.
    Remove,
    /// Delete the Splashtop account.
    Delete,
}

/// The worker's settings; their Debug output hides the API token and URL passwords.
#[derive(Clone, Parser)]
#[command(
    name = "splashsync-worker",
    version,
    about = "splashsync's Splashtop provisioning worker"
)]
pub struct Settings {
    /// RabbitMQ URL, or the URLs of a cluster's nodes, comma-separated (tried in turn).
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
    #[arg(long, env = "SPLASHSYNC_PARTITIONS", default_value_t = splashsync_protocol::topology::DEFAULT_PARTITIONS,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub partitions: u16,

    /// Base URL of the Splashtop API (e.g. https://my.splashtop.com); required unless a
    /// tenants file gives each tenant's.
    #[arg(long, env = "SPLASHTOP_API_URL", default_value = "")]
    pub splashtop_api_url: String,

    /// Splashtop API token (required, unless a tenants file gives each tenant's).
    #[arg(
        long,
        env = "SPLASHTOP_API_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    pub splashtop_api_token: SecretString,

    /// Splashtop team id (required, unless a tenants file gives each tenant's).
    #[arg(long, env = "SPLASHTOP_TEAM_ID", default_value = "")]
    pub splashtop_team_id: String,

    /// The tenant (Splashtop team) this worker serves; the AMQP prefix must belong to it
    /// (the receiver claims it with the same name).
    #[arg(long, env = "SPLASHSYNC_TENANT", default_value = "default")]
    pub tenant: String,

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

    /// The calls per minute of that limit the receiver's reconciler spends (set it to the
    /// receiver's value; 0 when the receiver does not reconcile): the workers leave them
    /// free, so that the two together stay within the team's limit.
    #[arg(long, env = "SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(0..=6000))]
    pub reconcile_calls_per_minute: u32,

    /// The longest Splashtop Retry-After honoured, in seconds: a longer one is cut down to
    /// this, both for the job's retry and for the rate limiter's pause.
    #[arg(long, env = "SPLASHSYNC_MAX_RETRY_AFTER_SECS", default_value_t = 300)]
    pub max_retry_after_secs: u64,

    /// The largest Splashtop answer read, in bytes; a larger one is a permanent error.
    #[arg(long, env = "SPLASHTOP_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// How long one job's transient failures are retried before it is dead-lettered,
    /// in seconds (at most 1200, well under RabbitMQ's 30-minute consumer timeout).
    #[arg(long, env = "SPLASHSYNC_RETRY_BUDGET_SECS", default_value_t = 300)]
    pub retry_budget_secs: u64,

    /// Jobs each partition consumer holds at once (RabbitMQ prefetch): the window in
    /// which a job superseded by a newer one of its key is acked unapplied.
    #[arg(long, env = "SPLASHSYNC_PREFETCH", default_value_t = DEFAULT_PREFETCH,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub prefetch: u16,

    /// Coalescing: apply only the newest of the jobs of one key delivered together, and
    /// ack the older ones as `superseded`; `false` applies every job.
    #[arg(long, env = "SPLASHSYNC_COALESCE", default_value_t = true, action = clap::ArgAction::Set)]
    pub coalesce: bool,

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

    /// The receiver's base URL (e.g. http://receiver:8080): after a Redis loss, jobs
    /// committed before it are checked against the directory there (`GET /admin/floor`).
    #[arg(long, env = "SPLASHSYNC_RECEIVER_URL")]
    pub receiver_url: Option<String>,

    /// The receiver's admin token, for `SPLASHSYNC_RECEIVER_URL`.
    #[arg(long, env = "SPLASHSYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(
        long,
        env = "SPLASHSYNC_WORKER_LISTEN",
        default_value = "127.0.0.1:9100"
    )]
    pub listen: SocketAddr,

    /// Log format: text or json.
    #[arg(long, env = "SPLASHSYNC_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("amqp_url", &redact_url(&self.amqp_url))
            .field("amqp_prefix", &self.amqp_prefix)
            .field("partitions", &self.partitions)
            .field("splashtop_api_url", &self.splashtop_api_url)
            .field("splashtop_api_token", &self.splashtop_api_token)
            .field("splashtop_team_id", &self.splashtop_team_id)
            .field("tenant", &self.tenant)
            .field("deactivate_mode", &self.deactivate_mode)
            .field("api_timeout_secs", &self.api_timeout_secs)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field(
                "reconcile_calls_per_minute",
                &self.reconcile_calls_per_minute,
            )
            .field("max_retry_after_secs", &self.max_retry_after_secs)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("retry_budget_secs", &self.retry_budget_secs)
            .field("prefetch", &self.prefetch)
            .field("coalesce", &self.coalesce)
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_prefix", &self.redis_prefix)
            .field("receiver_url", &self.receiver_url)
            .field("admin_token", &self.admin_token)
            .field("listen", &self.listen)
            .field("log_format", &self.log_format)
            .finish()
    }
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
        splashsync_protocol::amqp::check_urls(&self.amqp_url)?;
        if self.retry_budget_secs == 0
            || self.retry_budget_secs > crate::retry::MAX_BUDGET.as_secs()
        {
            return Err(format!(
                "SPLASHSYNC_RETRY_BUDGET_SECS must be between 1 and {} (RabbitMQ's consumer timeout is 1800)",
                crate::retry::MAX_BUDGET.as_secs()
            ));
        }
        if splashsync_protocol::Tenant::parse(&self.tenant).is_none() {
            return Err("SPLASHSYNC_TENANT must be non-empty and contain no '/'".into());
        }
        if self.max_retry_after_secs == 0
            || self.max_retry_after_secs > crate::retry::MAX_BUDGET.as_secs()
        {
            return Err(format!(
                "SPLASHSYNC_MAX_RETRY_AFTER_SECS must be between 1 and {} (a longer wait would outlast any retry budget)",
                crate::retry::MAX_BUDGET.as_secs()
            ));
        }
        if self.rate_limit_per_minute > 0
            && self.reconcile_calls_per_minute >= self.rate_limit_per_minute
        {
            return Err(format!(
                "SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE ({}) must be below SPLASHTOP_RATE_LIMIT_PER_MINUTE ({}): the workers share what the reconciler leaves",
                self.reconcile_calls_per_minute, self.rate_limit_per_minute
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err("SPLASHTOP_MAX_BODY_BYTES must be at least 1024".into());
        }
        if !(self.redis_url.starts_with("redis://")
            || self
                .redis_url
                .starts_with(crate::state::redis::connect::SENTINEL_SCHEME))
        {
            return Err(
                "SPLASHSYNC_REDIS_URL must start with redis:// or redis+sentinel://".into(),
            );
        }
        if self.receiver_url.is_some() != self.admin_token.is_some() {
            return Err(
                "SPLASHSYNC_RECEIVER_URL and SPLASHSYNC_ADMIN_TOKEN go together (the floor check after a Redis loss needs both)".into(),
            );
        }
        if self.api_timeout_secs == 0 {
            return Err("SPLASHTOP_API_TIMEOUT_SECS must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_token_and_passwords() {
        let settings = Settings::try_parse_from([
            "splashsync-worker",
            "--splashtop-api-url=http://127.0.0.1:9090",
            "--splashtop-api-token=super-secret-api-token",
            "--splashtop-team-id=team-1",
            "--amqp-url=amqp://guest:amqp-password@rabbitmq:5672/%2f",
            "--redis-url=redis://:redis-password@redis:6379",
        ])
        .unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9100".parse().unwrap());
        let debug = format!("{settings:?}");
        for secret in ["super-secret-api-token", "amqp-password", "redis-password"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("rabbitmq:5672"), "{debug}");
        assert_eq!(settings.tenant, "default");
        assert_eq!(settings.max_retry_after_secs, 300);
        assert_eq!(settings.max_body_bytes, 1 << 20);
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(settings.prefetch, 32);
        assert!(settings.coalesce, "coalescing is on by default");
    }

    #[test]
    fn coalescing_can_be_turned_off_and_the_prefetch_set() {
        let settings = Settings::try_parse_from([
            "splashsync-worker",
            "--splashtop-api-url=http://127.0.0.1:9090",
            "--splashtop-api-token=token",
            "--splashtop-team-id=team-1",
            "--coalesce=false",
            "--prefetch=8",
        ])
        .unwrap();
        assert!(!settings.coalesce);
        assert_eq!(settings.prefetch, 8);
        let zero = Settings::try_parse_from([
            "splashsync-worker",
            "--splashtop-api-url=http://127.0.0.1:9090",
            "--splashtop-api-token=token",
            "--splashtop-team-id=team-1",
            "--prefetch=0",
        ]);
        assert!(zero.is_err(), "a zero prefetch is refused");
    }

    #[test]
    fn a_bad_tenant_or_cap_is_refused_naming_its_variable() {
        let parse = |extra: &str| {
            Settings::try_parse_from([
                "splashsync-worker",
                "--splashtop-api-url=http://127.0.0.1:9090",
                "--splashtop-api-token=token",
                "--splashtop-team-id=team-1",
                extra,
            ])
            .unwrap()
        };
        let bad_tenant = parse("--tenant=emea/west").validate().unwrap_err();
        assert!(bad_tenant.contains("SPLASHSYNC_TENANT"), "{bad_tenant}");
        let no_cap = parse("--max-retry-after-secs=0").validate().unwrap_err();
        assert!(
            no_cap.contains("SPLASHSYNC_MAX_RETRY_AFTER_SECS"),
            "{no_cap}"
        );
        let tiny = parse("--max-body-bytes=10").validate().unwrap_err();
        assert!(tiny.contains("SPLASHTOP_MAX_BODY_BYTES"), "{tiny}");
        assert_eq!(parse("--tenant=emea").validate(), Ok(()));
        // The reconciler's share must leave the workers some of the team's limit.
        let greedy = parse("--reconcile-calls-per-minute=200")
            .validate()
            .unwrap_err();
        assert!(
            greedy.contains("SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE")
                && greedy.contains("SPLASHTOP_RATE_LIMIT_PER_MINUTE"),
            "{greedy}"
        );
        assert_eq!(parse("--tenant=emea").reconcile_calls_per_minute, 10);
        assert_eq!(
            parse("--reconcile-calls-per-minute=0").validate(),
            Ok(()),
            "a receiver that does not reconcile reserves nothing"
        );
    }
}
