//! Configuration: [`SimConfig`] for the library, [`Cli`] for the binary (every flag
//! also read from a `SPLASHTOP_SIM_*` environment variable).

use std::fmt;
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

use crate::domain::Rules;
use crate::faults::Faults;

/// The simulated team: its token, id and the Splashtop rules it enforces, plus faults at start.
#[derive(Clone)]
pub struct SimConfig {
    /// The API token clients must send as `Authorization: Bearer <token>`; never logged.
    pub token: String,
    /// The only team id the API knows; any other is answered 404 `team_not_found`.
    pub team_id: String,
    /// The team's SSO method names, matched exactly (case and spaces included).
    pub sso_methods: Vec<String>,
    /// Email domains allowed for users with an SSO method; empty means any domain.
    pub allowed_domains: Vec<String>,
    /// Licence seats: the most users the team may hold.
    pub seats: u64,
    /// The most groups the team may hold, the default group included.
    pub max_groups: usize,
    /// Emails whose Splashtop account belongs to another team (invite → 409).
    pub foreign_emails: Vec<String>,
    /// The team's computer group names; a user group may not take one (409).
    pub computer_groups: Vec<String>,
    /// The faults in force at start; they can be changed at run time.
    pub faults: Faults,
}

/// The token [`SimConfig::default`] uses, for tests.
pub const DEFAULT_TEST_TOKEN: &str = "sim-test-token";

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            token: DEFAULT_TEST_TOKEN.to_owned(),
            team_id: "team-1".to_owned(),
            sso_methods: Vec::new(),
            allowed_domains: Vec::new(),
            seats: 1_000_000,
            max_groups: 2000,
            foreign_emails: Vec::new(),
            computer_groups: Vec::new(),
            faults: Faults::default(),
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("token", &"<redacted>")
            .field("team_id", &self.team_id)
            .field("sso_methods", &self.sso_methods)
            .field("allowed_domains", &self.allowed_domains)
            .field("seats", &self.seats)
            .field("max_groups", &self.max_groups)
            .field("foreign_emails", &self.foreign_emails)
            .field("computer_groups", &self.computer_groups)
            .field("faults", &self.faults)
            .finish()
    }
}

impl SimConfig {
    /// Checks the configuration; the error names the offending setting.
    pub fn validate(&self) -> Result<()> {
        if self.token.trim().is_empty() {
            bail!("SPLASHTOP_SIM_TOKEN must not be empty");
        }
        if self.team_id.is_empty() || self.team_id.contains(['/', '?', '#', ' ']) {
            bail!("SPLASHTOP_SIM_TEAM_ID must be non-empty without '/', '?', '#' or spaces");
        }
        if self.max_groups == 0 {
            bail!("SPLASHTOP_SIM_MAX_GROUPS must be at least 1 (the default group counts)");
        }
        for domain in &self.allowed_domains {
            if domain.contains(['@', ' ']) {
                bail!("SPLASHTOP_SIM_ALLOWED_DOMAINS: {domain:?} is not a domain");
            }
        }
        self.faults.validate()
    }

    /// The Splashtop rules of the configured team.
    pub(crate) fn rules(&self) -> Rules {
        Rules::new(
            &self.sso_methods,
            &self.allowed_domains,
            self.seats,
            self.max_groups,
            &self.foreign_emails,
            &self.computer_groups,
        )
    }
}

/// The output format of the binary's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The binary's command line; every flag can also come from its environment variable.
#[derive(Parser)]
#[command(
    name = "splashtop-sim",
    version,
    about = "Splashtop team API simulator"
)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "SPLASHTOP_SIM_LISTEN", default_value = "127.0.0.1:9090")]
    pub listen: SocketAddr,
    /// Log format.
    #[arg(long, env = "SPLASHTOP_SIM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// API bearer token clients must send (required).
    #[arg(long, env = "SPLASHTOP_SIM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// The team id.
    #[arg(long, env = "SPLASHTOP_SIM_TEAM_ID", default_value = "team-1")]
    pub team_id: String,
    /// Comma-separated SSO method names (spaces inside names are kept).
    #[arg(long, env = "SPLASHTOP_SIM_SSO_METHODS", default_value = "")]
    pub sso_methods: String,
    /// Comma-separated email domains allowed for SSO users; empty = any.
    #[arg(long, env = "SPLASHTOP_SIM_ALLOWED_DOMAINS", default_value = "")]
    pub allowed_domains: String,
    /// Licence seats (users the team may hold).
    #[arg(long, env = "SPLASHTOP_SIM_SEATS", default_value_t = 1_000_000)]
    pub seats: u64,
    /// Most groups per team, the default group included.
    #[arg(long, env = "SPLASHTOP_SIM_MAX_GROUPS", default_value_t = 2000)]
    pub max_groups: usize,
    /// Comma-separated emails whose accounts belong to another team.
    #[arg(long, env = "SPLASHTOP_SIM_FOREIGN_EMAILS", default_value = "")]
    pub foreign_emails: String,
    /// Comma-separated computer group names.
    #[arg(long, env = "SPLASHTOP_SIM_COMPUTER_GROUPS", default_value = "")]
    pub computer_groups: String,
    /// Fraction (0..1) of API requests answered 500/502/503 without applying.
    #[arg(long, env = "SPLASHTOP_SIM_ERROR_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub error_rate: f64,
    /// Fraction (0..1) of state-changing requests applied, then answered 500.
    #[arg(long, env = "SPLASHTOP_SIM_ERROR_AFTER_APPLY_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub error_after_apply_rate: f64,
    /// Fraction (0..1) of API requests answered 429 with Retry-After.
    #[arg(long, env = "SPLASHTOP_SIM_THROTTLE_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub throttle_rate: f64,
    /// Retry-After seconds for throttled (random 429) answers.
    #[arg(long, env = "SPLASHTOP_SIM_RETRY_AFTER_SECS", default_value_t = 1)]
    pub retry_after_secs: u64,
    /// Hard limit of API requests per 60 s sliding window; 0 = none.
    #[arg(long, env = "SPLASHTOP_SIM_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, env = "SPLASHTOP_SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction (0..1) of API requests that hang (without applying).
    #[arg(long, env = "SPLASHTOP_SIM_TIMEOUT_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub timeout_rate: f64,
    /// How long a hanging request hangs before answering 504, in seconds.
    #[arg(long, env = "SPLASHTOP_SIM_TIMEOUT_SECS", default_value_t = 120)]
    pub timeout_secs: u64,
    /// Fraction (0..1) of API requests whose connection is closed without an answer.
    #[arg(long, env = "SPLASHTOP_SIM_RESET_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub reset_rate: f64,
    /// Fraction (0..1) of successful API requests (applied) answered with a body that does not parse.
    #[arg(long, env = "SPLASHTOP_SIM_GARBLED_ANSWER_RATE", default_value_t = 0.0, value_parser = parse_rate)]
    pub garbled_answer_rate: f64,
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("listen", &self.listen)
            .field("log_format", &self.log_format)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Cli {
    /// Turns the command line into a validated [`SimConfig`].
    pub fn to_config(&self) -> Result<SimConfig> {
        let token = self
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .context(
            "SPLASHTOP_SIM_TOKEN (or --token) is required: the bearer token API clients must send",
        )?;
        let config = SimConfig {
            token,
            team_id: self.team_id.clone(),
            sso_methods: split_list(&self.sso_methods),
            allowed_domains: split_list(&self.allowed_domains),
            seats: self.seats,
            max_groups: self.max_groups,
            foreign_emails: split_list(&self.foreign_emails),
            computer_groups: split_list(&self.computer_groups),
            faults: Faults {
                error_rate: self.error_rate,
                error_after_apply_rate: self.error_after_apply_rate,
                throttle_rate: self.throttle_rate,
                retry_after_secs: self.retry_after_secs,
                rate_limit_per_minute: self.rate_limit,
                latency_ms: self.latency_ms,
                timeout_rate: self.timeout_rate,
                timeout_secs: self.timeout_secs,
                reset_rate: self.reset_rate,
                garbled_answer_rate: self.garbled_answer_rate,
            },
        };
        config.validate()?;
        Ok(config)
    }
}

/// Splits a comma-separated list, trimming only around the commas and dropping empty items.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err("must be a number between 0 and 1".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_inner_spaces() {
        assert_eq!(
            split_list(" Okta SSO , Azure AD,,"),
            vec!["Okta SSO".to_owned(), "Azure AD".to_owned()]
        );
        assert!(split_list("").is_empty());
    }

    #[test]
    fn cli_parses_and_validates() {
        let cli = Cli::try_parse_from(["sim", "--token", "t", "--sso-methods", "A B,C"]);
        let config = cli
            .map_err(|e| e.to_string())
            .and_then(|c| c.to_config().map_err(|e| e.to_string()));
        assert_eq!(
            config.map(|c| c.sso_methods),
            Ok(vec!["A B".to_owned(), "C".to_owned()])
        );
        assert!(Cli::try_parse_from(["sim", "--token", "t", "--error-rate", "2"]).is_err());
        let no_token = Cli::try_parse_from(["sim", "--token", " "]).map(|c| c.to_config().is_err());
        assert_eq!(no_token.ok(), Some(true));
        let debug = format!(
            "{:?}",
            SimConfig {
                token: "s3cret".into(),
                ..SimConfig::default()
            }
        );
        assert!(!debug.contains("s3cret"));
    }
}
