//! Receiver settings: every one from the environment, with a flag of the same meaning.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use secrecy::SecretString;
use splashsync_directory::model::RenamePolicy;
use splashsync_directory::GroupPolicy;
use splashsync_runtime::telemetry::LogFormat;

/// The receiver's settings.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "splashsync-receiver",
    version,
    about = "splashsync's SCIM 2.0 service provider"
)]
pub struct Settings {
    /// Address the SCIM server listens on.
    #[arg(long, env = "SPLASHSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory store URL: `sqlite://path` (the file is created when missing) or
    /// `postgres://user@host/db` (several receivers may share the database).
    #[arg(
        long,
        env = "SPLASHSYNC_DATABASE_URL",
        default_value = "sqlite://splashsync.db"
    )]
    pub database_url: String,

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

    /// Bearer token the identity provider sends (required, unless a tenants file gives
    /// each tenant's token hash).
    #[arg(
        long,
        env = "SPLASHSYNC_SCIM_TOKEN",
        hide_env_values = true,
        default_value = ""
    )]
    pub scim_token: SecretString,

    /// Tenant name (one Splashtop team) this receiver serves.
    #[arg(long, env = "SPLASHSYNC_TENANT", default_value = "default")]
    pub tenant: String,

    /// Public base URL for `meta.location` (default: http://<listen>).
    #[arg(long, env = "SPLASHSYNC_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Default page size of list responses.
    #[arg(long, env = "SPLASHSYNC_PAGE_SIZE", default_value_t = 100)]
    pub page_size: u64,

    /// Largest page size a client may ask for.
    #[arg(long, env = "SPLASHSYNC_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: u64,

    /// Most resources a list request may evaluate in memory, for a filter or sort SQL
    /// cannot answer (more: 400 tooMany); 0: no limit.
    #[arg(long, env = "SPLASHSYNC_FILTER_SCAN_LIMIT", default_value_t = 10_000)]
    pub filter_scan_limit: u64,

    /// What a second group for one user does: reject (409), move (latest wins) or first.
    #[arg(
        long,
        env = "SPLASHSYNC_GROUP_POLICY",
        default_value = "reject",
        value_parser = group_policy_parser()
    )]
    pub group_policy: GroupPolicy,

    /// What a userName change that changes the Splashtop account does: reject (400
    /// mutability) or reinvite (invite the new account, retire the old one).
    #[arg(
        long,
        env = "SPLASHSYNC_RENAME_POLICY",
        default_value = "reject",
        value_parser = rename_policy_parser()
    )]
    pub rename_policy: RenamePolicy,

    /// Token of the admin API and console (`/admin`, `/console`); both are off when unset.
    #[arg(long, env = "SPLASHSYNC_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,

    /// Seconds between the backlog and throughput samples the console charts.
    #[arg(long, env = "SPLASHSYNC_SAMPLE_INTERVAL_SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sample_interval_secs: u64,

    /// Log format: text or json.
    #[arg(long, env = "SPLASHSYNC_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,

    /// Connection and request limits.
    #[command(flatten)]
    pub limits: LimitSettings,

    /// Drift reconciliation: its Splashtop client, interval and pacing.
    #[command(flatten)]
    pub reconcile: crate::reconcile::settings::ReconcileSettings,
}

/// Connection and request limits of the listener (`Default` is the documented defaults).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct LimitSettings {
    /// Seconds a client has to send a request's headers; an idle kept-alive connection is
    /// closed after as long.
    #[arg(long, env = "SPLASHSYNC_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_secs: u64,

    /// Seconds a client has to send a request's body.
    #[arg(long, env = "SPLASHSYNC_BODY_READ_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout_secs: u64,

    /// Connections served at once; further ones wait in the listen backlog.
    #[arg(long, env = "SPLASHSYNC_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_connections: u32,

    /// Seconds a stop waits for in-flight requests before closing them.
    #[arg(long, env = "SPLASHSYNC_SHUTDOWN_GRACE_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub shutdown_grace_secs: u64,

    /// Failed authentications (SCIM token, admin token, console login) from one address
    /// within the window after which it is refused with 429 for a window.
    #[arg(long, env = "SPLASHSYNC_AUTH_FAILURE_LIMIT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub auth_failure_limit: u32,

    /// The window of SPLASHSYNC_AUTH_FAILURE_LIMIT, in seconds (also how long a refusal lasts).
    #[arg(long, env = "SPLASHSYNC_AUTH_FAILURE_WINDOW_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub auth_failure_window_secs: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            max_connections: 1024,
            shutdown_grace_secs: 30,
            auth_failure_limit: 10,
            auth_failure_window_secs: 60,
        }
    }
}

impl LimitSettings {
    /// The listener's limits.
    pub fn listener(&self) -> splashsync_runtime::http::Limits {
        splashsync_runtime::http::Limits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(self.body_read_timeout_secs),
            max_connections: self.max_connections as usize,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
        }
    }

    /// The failed-authentication throttle these settings describe.
    pub fn auth_guard(&self) -> splashsync_admin::guard::AuthGuard {
        splashsync_admin::guard::AuthGuard::new(
            self.auth_failure_limit,
            Duration::from_secs(self.auth_failure_window_secs),
        )
    }
}

/// The policies by name, listed in `--help` like an enum's values.
fn group_policy_parser() -> impl clap::builder::TypedValueParser<Value = GroupPolicy> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(GroupPolicy::ALL.map(GroupPolicy::as_str))
        .map(|name| name.parse::<GroupPolicy>().unwrap_or_default())
}

/// The rename policies by name, listed in `--help` like an enum's values.
fn rename_policy_parser() -> impl clap::builder::TypedValueParser<Value = RenamePolicy> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(RenamePolicy::ALL.map(RenamePolicy::as_str))
        .map(|name| name.parse::<RenamePolicy>().unwrap_or_default())
}

impl Settings {
    /// Checks what clap cannot, with a message that says how to fix it.
    pub fn validate(&self) -> Result<(), String> {
        use secrecy::ExposeSecret;
        if self.scim_token.expose_secret().is_empty() {
            return Err("SPLASHSYNC_SCIM_TOKEN is required (or SPLASHSYNC_TENANTS_FILE)".into());
        }
        if self.scim_token.expose_secret().len() < 16 {
            return Err("SPLASHSYNC_SCIM_TOKEN must be at least 16 characters".into());
        }
        if let Some(admin) = &self.admin_token {
            let admin = admin.expose_secret();
            if admin.len() < 16 {
                return Err("SPLASHSYNC_ADMIN_TOKEN must be at least 16 characters".into());
            }
            if admin == self.scim_token.expose_secret() {
                return Err(
                    "SPLASHSYNC_ADMIN_TOKEN must differ from SPLASHSYNC_SCIM_TOKEN: an identity provider must never reach the admin API".into(),
                );
            }
        }
        self.validate_rest()
    }

    /// Checks the settings beside a tenants file: the file holds the SCIM tokens' hashes,
    /// and the admin API, console and reconciliation serve one tenant only for now.
    pub fn validate_with_tenants_file(&self) -> Result<(), String> {
        use secrecy::ExposeSecret;
        if !self.scim_token.expose_secret().is_empty() {
            return Err("SPLASHSYNC_SCIM_TOKEN is not used with SPLASHSYNC_TENANTS_FILE (each tenant's token hash is in the file): unset it".into());
        }
        if self.admin_token.is_some() {
            return Err("the admin API and console serve one tenant for now: unset SPLASHSYNC_ADMIN_TOKEN when using SPLASHSYNC_TENANTS_FILE".into());
        }
        if self.reconcile.enabled() {
            return Err("drift reconciliation serves one tenant for now: unset SPLASHTOP_API_URL, SPLASHTOP_API_TOKEN and SPLASHTOP_TEAM_ID when using SPLASHSYNC_TENANTS_FILE".into());
        }
        self.validate_rest()
    }

    /// What both modes check.
    fn validate_rest(&self) -> Result<(), String> {
        if splashsync_directory::engine::Engine::of(&self.database_url).is_none() {
            return Err(format!(
                "SPLASHSYNC_DATABASE_URL must start with sqlite: or postgres:// (got {:?})",
                self.database_url.split(':').next().unwrap_or("")
            ));
        }
        splashsync_protocol::amqp::check_urls(&self.amqp_url)?;
        if self.amqp_prefix.is_empty() || self.amqp_prefix.len() > 100 {
            return Err("SPLASHSYNC_AMQP_PREFIX must be 1 to 100 characters".into());
        }
        if self.tenant.is_empty() || self.tenant.contains('/') {
            return Err("SPLASHSYNC_TENANT must be non-empty and contain no '/'".into());
        }
        if self.page_size == 0 || self.page_size > self.max_page_size {
            return Err(
                "SPLASHSYNC_PAGE_SIZE must be between 1 and SPLASHSYNC_MAX_PAGE_SIZE".into(),
            );
        }
        self.reconcile.validate()
    }

    /// The base URL resources' `meta.location` starts with.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        let base = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"));
        format!("{}/scim/v2", base.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, clap::Error> {
        Settings::try_parse_from(std::iter::once("splashsync-receiver").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_documented_ones() {
        let s = parse(&["--scim-token", "0123456789abcdef"]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://splashsync.db");
        assert_eq!(s.amqp_prefix, "splashsync");
        assert_eq!(s.partitions, 32);
        assert_eq!(s.limits, LimitSettings::default());
        assert!(s.validate().is_ok());
    }

    #[test]
    fn listener_limits_are_settings() {
        let s = parse(&[
            "--scim-token",
            "0123456789abcdef",
            "--header-read-timeout-secs",
            "2",
            "--max-connections",
            "7",
        ])
        .unwrap();
        let limits = s.limits.listener();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        assert_eq!(limits.max_connections, 7);
        assert!(parse(&["--scim-token", "0123456789abcdef", "--max-connections", "0"]).is_err());
    }

    #[test]
    fn a_short_token_is_refused_with_a_clear_message() {
        let s = parse(&["--scim-token", "short"]).unwrap();
        assert!(s.validate().unwrap_err().contains("SPLASHSYNC_SCIM_TOKEN"));
    }

    #[test]
    fn the_admin_token_is_optional_but_never_the_scim_token() {
        let s = parse(&["--scim-token", "0123456789abcdef"]).unwrap();
        assert!(s.admin_token.is_none());
        let s = parse(&[
            "--scim-token",
            "0123456789abcdef",
            "--admin-token",
            "0123456789abcdef",
        ])
        .unwrap();
        assert!(s.validate().unwrap_err().contains("SPLASHSYNC_ADMIN_TOKEN"));
        let s = parse(&["--scim-token", "0123456789abcdef", "--admin-token", "short"]).unwrap();
        assert!(s.validate().is_err());
    }

    #[test]
    fn the_group_policy_is_one_of_three_names() {
        let s = parse(&["--scim-token", "0123456789abcdef", "--group-policy", "move"]).unwrap();
        assert_eq!(s.group_policy, GroupPolicy::Move);
        assert_eq!(
            parse(&["--scim-token", "0123456789abcdef"])
                .unwrap()
                .group_policy,
            GroupPolicy::Reject
        );
        assert!(parse(&["--scim-token", "0123456789abcdef", "--group-policy", "last"]).is_err());
    }

    #[test]
    fn the_rename_policy_is_reject_unless_reinvite_is_asked_for() {
        let token = ["--scim-token", "0123456789abcdef"];
        assert_eq!(parse(&token).unwrap().rename_policy, RenamePolicy::Reject);
        let s = parse(&[token[0], token[1], "--rename-policy", "reinvite"]).unwrap();
        assert_eq!(s.rename_policy, RenamePolicy::Reinvite);
        assert!(parse(&[token[0], token[1], "--rename-policy", "rename"]).is_err());
    }

    #[test]
    fn reconciliation_is_off_by_default_and_on_with_all_three_splashtop_settings() {
        let s = parse(&["--scim-token", "0123456789abcdef"]).unwrap();
        assert!(!s.reconcile.enabled() && s.validate().is_ok());
        assert_eq!(s.reconcile.interval, Duration::from_secs(3600));
        let on = [
            "--scim-token",
            "0123456789abcdef",
            "--splashtop-api-url",
            "http://127.0.0.1:9090",
            "--splashtop-api-token",
            "t",
            "--splashtop-team-id",
            "team-1",
            "--reconcile-interval",
            "15m",
        ];
        let s = parse(&on).unwrap();
        assert!(s.reconcile.enabled() && s.validate().is_ok());
        assert_eq!(s.reconcile.interval, Duration::from_secs(900));
        let s = parse(&on[..4]).unwrap();
        assert!(s.validate().unwrap_err().contains("SPLASHTOP_TEAM_ID"));
    }

    #[test]
    fn zero_partitions_is_refused() {
        assert!(parse(&["--scim-token", "0123456789abcdef", "--partitions", "0"]).is_err());
    }

    #[test]
    fn the_token_is_not_printed_by_debug() {
        let s = parse(&["--scim-token", "0123456789abcdef-secret"]).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
