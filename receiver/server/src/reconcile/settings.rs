//! The reconciler's settings: its own Splashtop client (the receiver reconciles only when
//! given all three of URL, token and team), how often it runs, and its pacing.

use std::time::Duration;

use secrecy::SecretString;

/// Drift reconciliation settings (`Default`: off, the documented defaults otherwise).
#[derive(Debug, Clone, clap::Args)]
pub struct ReconcileSettings {
    /// Splashtop API base URL for reconciliation (with the token and team: reconciliation on).
    #[arg(long = "splashtop-api-url", env = "SPLASHTOP_API_URL")]
    pub api_url: Option<String>,

    /// Splashtop API token for reconciliation's listing calls.
    #[arg(
        long = "splashtop-api-token",
        env = "SPLASHTOP_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<SecretString>,

    /// Splashtop team id.
    #[arg(long = "splashtop-team-id", env = "SPLASHTOP_TEAM_ID")]
    pub team_id: Option<String>,

    /// Timeout of one Splashtop call, in seconds.
    #[arg(long = "splashtop-api-timeout-secs", env = "SPLASHTOP_API_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub api_timeout_secs: u64,

    /// How often a reconciliation runs by itself (`90s`, `15m`, `1h`, `1d`, or seconds);
    /// `0`: only on demand.
    #[arg(long = "reconcile-interval", env = "SPLASHSYNC_RECONCILE_INTERVAL", default_value = "1h",
          value_parser = parse_interval)]
    pub interval: Duration,

    /// Listing calls a run makes per minute at most, so that it leaves the workers their
    /// share of the team's Splashtop budget.
    #[arg(long = "reconcile-calls-per-minute", env = "SPLASHSYNC_RECONCILE_CALLS_PER_MINUTE",
          default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=6000))]
    pub calls_per_minute: u32,

    /// Users or groups asked for per listing page.
    #[arg(id = "reconcile_page_size", long = "reconcile-page-size", env = "SPLASHSYNC_RECONCILE_PAGE_SIZE",
          default_value_t = splashtop_api::MAX_PAGE_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(splashtop_api::MAX_PAGE_LIMIT)))]
    pub page_size: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            api_url: None,
            api_token: None,
            team_id: None,
            api_timeout_secs: 30,
            interval: Duration::from_secs(3600),
            calls_per_minute: 10,
            page_size: splashtop_api::MAX_PAGE_LIMIT,
        }
    }
}

impl ReconcileSettings {
    /// Whether the receiver reconciles: URL, token and team given (checked by
    /// [`ReconcileSettings::validate`]: all three or none).
    pub fn enabled(&self) -> bool {
        self.api_url.is_some() && self.api_token.is_some() && self.team_id.is_some()
    }

    /// All three of URL, token and team, or none.
    pub fn validate(&self) -> Result<(), String> {
        let given = [
            self.api_url.is_some(),
            self.api_token.is_some(),
            self.team_id.is_some(),
        ];
        if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
            return Err("reconciliation needs all of SPLASHTOP_API_URL, SPLASHTOP_API_TOKEN and SPLASHTOP_TEAM_ID, or none of them".into());
        }
        Ok(())
    }

    /// The pause between two listing calls.
    pub fn pace(&self) -> Duration {
        Duration::from_secs(60) / self.calls_per_minute.max(1)
    }
}

/// `0`, seconds, or a number with `s`, `m`, `h` or `d`.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 's'),
    };
    let n: u64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is no interval: write e.g. 0, 90s, 15m, 1h or 1d"))?;
    let unit = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h or d")),
    };
    n.checked_mul(unit)
        .filter(|secs| *secs <= 366 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is longer than a year"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_read_with_units_and_zero_is_off() {
        assert_eq!(parse_interval("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_interval("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert!(parse_interval("1w").is_err());
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("999999d").is_err());
    }

    #[test]
    fn the_api_settings_come_all_three_or_none() {
        let mut s = ReconcileSettings::default();
        assert!(s.validate().is_ok() && !s.enabled());
        s.api_url = Some("http://127.0.0.1:9090".into());
        assert!(s.validate().unwrap_err().contains("SPLASHTOP_API_TOKEN"));
        s.api_token = Some(SecretString::from("t"));
        s.team_id = Some("team-1".into());
        assert!(s.validate().is_ok() && s.enabled());
    }

    #[test]
    fn pacing_spreads_the_calls_over_a_minute() {
        let s = ReconcileSettings::default();
        assert_eq!(s.pace(), Duration::from_secs(6));
    }
}
