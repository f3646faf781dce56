//! One worker process for every tenant of a tenants file (docs/DESIGN.md, "Tenants"): a
//! worker per tenant, each with the tenant's AMQP prefix (its own partition queues, so one
//! tenant's outage or 429s never hold back another's jobs), its own Splashtop client, rate
//! bucket, deactivate mode and Redis prefix (its mirror and applied versions), and its
//! operations listener on the configured port plus the tenant's place in the file.

use std::future::Future;
use std::net::SocketAddr;

use clap::ValueEnum as _;
use secrecy::SecretString;
use splashsync_protocol::tenants::{tenant_prefix, TenantSpec};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{DeactivateMode, Settings};
use crate::consumer::Worker;

/// The settings of each tenant's worker: the process's, with what the file says of the
/// tenant; each checked like a single worker's, the error naming the tenant.
pub fn settings_per_tenant(base: &Settings, specs: &[TenantSpec]) -> Result<Vec<Settings>, String> {
    specs
        .iter()
        .enumerate()
        .map(|(place, spec)| tenant_settings(base, spec, place))
        .collect()
}

fn tenant_settings(base: &Settings, spec: &TenantSpec, place: usize) -> Result<Settings, String> {
    let named = |problem: String| spec.error(problem).to_string();
    let entry = &spec.entry;
    let mut s = base.clone();
    s.tenant = spec.tenant.to_string();
    s.amqp_prefix = tenant_prefix(&base.amqp_prefix, &spec.tenant);
    // The tenant's keys under the configured Redis prefix (or its own AMQP prefix).
    s.redis_prefix = Some(match &base.redis_prefix {
        Some(prefix) => tenant_prefix(prefix, &spec.tenant),
        None => s.amqp_prefix.clone(),
    });
    s.splashtop_api_url = entry
        .splashtop_api_url
        .clone()
        .ok_or_else(|| named("splashtop_api_url is required by the worker".into()))?;
    s.splashtop_team_id = entry
        .splashtop_team_id
        .clone()
        .ok_or_else(|| named("splashtop_team_id is required by the worker".into()))?;
    s.splashtop_api_token = spec
        .splashtop_api_token()
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            named("splashtop_api_token or splashtop_api_token_env is required by the worker".into())
        })
        .map(|t: SecretString| t)?;
    if let Some(rate) = entry.rate_limit_per_minute {
        s.rate_limit_per_minute = rate;
    }
    if let Some(mode) = &entry.deactivate_mode {
        s.deactivate_mode = DeactivateMode::from_str(mode, true).map_err(|_| {
            named(format!(
                "deactivate_mode {mode:?} is not one of remove, delete"
            ))
        })?;
    }
    s.listen = listen_at(base.listen, place)
        .ok_or_else(|| named("no port left for its operations listener".into()))?;
    s.validate().map_err(named)?;
    Ok(s)
}

/// Runs a worker per tenant until `shutdown` resolves, or until one of them fails (then
/// stops the others and returns its error: a failure here is a configuration error, such
/// as a prefix claimed by another tenant, not a passing fault, which workers ride out).
pub async fn run_all(
    settings: &[Settings],
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let workers = settings
        .iter()
        .map(|s| Worker::from_settings(s).map_err(|e| e.context(format!("tenant {:?}", s.tenant))))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let stop = CancellationToken::new();
    let mut running = JoinSet::new();
    for worker in workers {
        running.spawn(worker.run(stop.clone().cancelled_owned()));
    }
    let mut failure = None;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown, if !stop.is_cancelled() => stop.cancel(),
            done = running.join_next() => match done {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(err))) => {
                    failure.get_or_insert(err);
                    stop.cancel();
                }
                Some(Err(panicked)) => {
                    failure.get_or_insert(anyhow::anyhow!("a tenant's worker panicked: {panicked}"));
                    stop.cancel();
                }
            },
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The `place`-th tenant's operations listener: the configured port plus its place (port 0
/// stays 0: the system picks one for each).
fn listen_at(base: SocketAddr, place: usize) -> Option<SocketAddr> {
    if base.port() == 0 {
        return Some(base);
    }
    let port = u16::try_from(usize::from(base.port()) + place).ok()?;
    Some(SocketAddr::new(base.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use secrecy::ExposeSecret;
    use splashsync_protocol::tenants::{self, TokenHash};

    fn base() -> Settings {
        Settings::try_parse_from(["splashsync-worker", "--amqp-prefix=prod"]).unwrap()
    }

    fn file(extra: &str) -> Vec<TenantSpec> {
        let hash = |t: &str| TokenHash::of(t).to_hex();
        tenants::parse(&format!(
            "[[tenant]]\nname = \"emea\"\nscim_token_sha256 = \"{}\"\n\
             splashtop_api_url = \"http://st-emea\"\nsplashtop_team_id = \"team-emea\"\n\
             splashtop_api_token = \"emea-api-token\"\nrate_limit_per_minute = 60\n{extra}\
             [[tenant]]\nname = \"apac\"\nscim_token_sha256 = \"{}\"\n\
             splashtop_api_url = \"http://st-apac\"\nsplashtop_team_id = \"team-apac\"\n\
             splashtop_api_token = \"apac-api-token\"\n",
            hash("emea-token"),
            hash("apac-token")
        ))
        .unwrap()
    }

    #[test]
    fn each_tenant_gets_its_prefix_account_bucket_and_port() {
        let all = settings_per_tenant(&base(), &file("deactivate_mode = \"delete\"\n")).unwrap();
        let (emea, apac) = (&all[0], &all[1]);
        assert_eq!(
            (emea.tenant.as_str(), emea.amqp_prefix.as_str()),
            ("emea", "prod.emea")
        );
        assert_eq!(emea.redis_prefix.as_deref(), Some("prod.emea"));
        assert_eq!(apac.amqp_prefix, "prod.apac");
        assert_eq!(emea.splashtop_team_id, "team-emea");
        assert_eq!(apac.splashtop_api_token.expose_secret(), "apac-api-token");
        assert_eq!(
            (emea.rate_limit_per_minute, apac.rate_limit_per_minute),
            (60, 200)
        );
        assert_eq!(
            (emea.deactivate_mode, apac.deactivate_mode),
            (DeactivateMode::Delete, DeactivateMode::Remove)
        );
        assert_eq!((emea.listen.port(), apac.listen.port()), (9100, 9101));
    }

    #[test]
    fn a_tenant_without_its_splashtop_account_or_with_a_bad_mode_is_named() {
        let specs = tenants::parse(&format!(
            "[[tenant]]\nname = \"emea\"\nscim_token_sha256 = \"{}\"\n",
            TokenHash::of("x").to_hex()
        ))
        .unwrap();
        let err = settings_per_tenant(&base(), &specs).unwrap_err();
        assert!(
            err.contains("emea") && err.contains("splashtop_api_url"),
            "{err}"
        );
        let err = settings_per_tenant(&base(), &file("deactivate_mode = \"purge\"\n")).unwrap_err();
        assert!(err.contains("deactivate_mode"), "{err}");
    }
}
