//! Several Splashtop teams in one receiver (docs/DESIGN.md, "Tenants"): each tenant of a
//! tenants file gets a directory of its own (a SQLite file beside the configured one), an
//! AMQP prefix of its own (`<prefix>.<tenant>`: its partition queues, dead letters and
//! events, claimed for it by the tenant guard), and its own relay and intake. Isolation is
//! structural: no query of one tenant's requests can reach another's rows or queues.
//! Without a tenants file, the environment's one tenant keeps the configured database
//! and prefix, exactly as before.

use std::sync::Arc;

use splashsync_directory::audit::AuditStore;
use splashsync_directory::model::RenamePolicy;
use splashsync_directory::reconcile::ReconcileStore;
use splashsync_directory::workers::WorkerStore;
use splashsync_directory::GroupPolicy;
use splashsync_protocol::tenants::{tenant_prefix, TenantSpec};
use splashsync_protocol::topology::Topology;
use splashsync_protocol::Tenant;

use crate::auth::{BearerToken, TenantKey};
use crate::config::Settings;
use crate::events::{Intake, IntakeMetrics};
use crate::link::Link;
use crate::relay::Relay;
use crate::routes::AppState;

/// Where one tenant lives and what it answers with.
#[derive(Debug, Clone)]
pub struct TenantPlan {
    /// The tenant.
    pub tenant: Tenant,
    /// Its directory.
    pub database_url: String,
    /// Its AMQP prefix.
    pub amqp_prefix: String,
    /// The key its SCIM requests carry.
    pub key: TenantKey,
    /// Its token's fingerprint, for the jobs' origin.
    pub caller: String,
    /// Its group policy.
    pub group_policy: GroupPolicy,
    /// Its rename policy.
    pub rename_policy: RenamePolicy,
}

/// The one tenant of the environment variables, as before tenants files.
pub fn single(settings: &Settings, token: BearerToken) -> anyhow::Result<TenantPlan> {
    use secrecy::ExposeSecret;
    let tenant = Tenant::parse(&settings.tenant)
        .ok_or_else(|| anyhow::anyhow!("SPLASHSYNC_TENANT must be non-empty, without '/'"))?;
    Ok(TenantPlan {
        tenant,
        database_url: settings.database_url.clone(),
        amqp_prefix: settings.amqp_prefix.clone(),
        caller: crate::routes::token_fingerprint(settings.scim_token.expose_secret()),
        key: TenantKey::Token(token),
        group_policy: settings.group_policy,
        rename_policy: settings.rename_policy,
    })
}

/// A tenants file's tenants, their policies defaulting to the settings'.
pub fn from_file(settings: &Settings, specs: &[TenantSpec]) -> anyhow::Result<Vec<TenantPlan>> {
    specs.iter().map(|spec| plan_of(settings, spec)).collect()
}

/// One tenant of the file: a bad policy name is refused with the tenant's name.
fn plan_of(settings: &Settings, spec: &TenantSpec) -> anyhow::Result<TenantPlan> {
    let group_policy = match &spec.entry.group_policy {
        Some(name) => name.parse().map_err(|_| {
            spec.error(format!(
                "group_policy {name:?} is not one of reject, move, first"
            ))
        })?,
        None => settings.group_policy,
    };
    let rename_policy = match &spec.entry.rename_policy {
        Some(name) => name.parse().map_err(|_| {
            spec.error(format!(
                "rename_policy {name:?} is not one of reject, reinvite"
            ))
        })?,
        None => settings.rename_policy,
    };
    Ok(TenantPlan {
        tenant: spec.tenant.clone(),
        database_url: database_url_for(&settings.database_url, &spec.tenant)
            .map_err(anyhow::Error::msg)?,
        amqp_prefix: tenant_prefix(&settings.amqp_prefix, &spec.tenant),
        // The SCIM token's fingerprint is the first bytes of its SHA-256, which the file holds.
        caller: format!("token:{}", &spec.token.to_hex()[..8]),
        key: TenantKey::Hash(spec.token.clone()),
        group_policy,
        rename_policy,
    })
}

/// A tenant's SQLite file beside the configured one: `…/splashsync.db` becomes
/// `…/splashsync.<tenant>.db` (query parameters kept). PostgreSQL is refused for now.
pub fn database_url_for(url: &str, tenant: &Tenant) -> Result<String, String> {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(
            "a tenants file needs a sqlite: SPLASHSYNC_DATABASE_URL for now (a schema per tenant on PostgreSQL is not built yet)"
                .into(),
        );
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.contains(":memory:") || path.trim_start_matches('/').is_empty() {
        return Err("a tenants file needs a SQLite file, not an in-memory database".into());
    }
    let file_start = path.rfind('/').map_or(0, |i| i + 1);
    let (dir, file) = path.split_at(file_start);
    let file = match file.rfind('.') {
        Some(dot) if dot > 0 => format!("{}.{tenant}{}", &file[..dot], &file[dot..]),
        _ => format!("{file}.{tenant}"),
    };
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Ok(format!("sqlite:{dir}{file}{query}"))
}

/// One tenant opened: what its requests get, and its relay and intake.
#[derive(Debug)]
pub struct OpenTenant {
    /// Its key and the state its requests get.
    pub door: (TenantKey, AppState),
    /// Its audit store.
    pub audit: Arc<dyn AuditStore>,
    /// Its reconciliation store (SQLite only).
    pub reconcile: Option<Arc<dyn ReconcileStore>>,
    /// Where its workers' heartbeats are kept.
    pub workers: Arc<dyn WorkerStore>,
    /// Its outbox relay.
    pub relay: Relay,
    /// Its outcome intake.
    pub intake: Intake,
}

/// What every tenant shares when opened.
#[derive(Debug)]
pub struct Shared<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// `meta.location`'s base.
    pub base_url: Arc<str>,
    /// The intake's counters, registered once for all tenants.
    pub intake_metrics: Arc<IntakeMetrics>,
}

/// Opens a tenant's stores (running migrations), claims its AMQP prefix (an error when
/// another tenant holds it) and builds its relay and intake.
pub async fn open(plan: TenantPlan, shared: &Shared<'_>) -> anyhow::Result<OpenTenant> {
    let stores = splashsync_directory::engine::open(&plan.database_url).await?;
    let settings = shared.settings;
    let state = AppState {
        directory: stores.directory.clone(),
        tenant: plan.tenant.clone(),
        base_url: shared.base_url.clone(),
        page_size: settings.page_size,
        max_page_size: settings.max_page_size,
        filter_scan_limit: settings.filter_scan_limit,
        group_policy: plan.group_policy,
        rename_policy: plan.rename_policy,
        caller: plan.caller.into(),
    };
    let topology = Topology::new(plan.amqp_prefix, settings.partitions);
    let link = Link::new(settings.amqp_url.clone(), topology, plan.tenant);
    link.claim_at_start().await?;
    Ok(OpenTenant {
        door: (plan.key, state),
        relay: Relay::new(stores.directory, link.clone()),
        intake: Intake::new(
            stores.audit.clone(),
            stores.workers.clone(),
            link,
            shared.intake_metrics.clone(),
        ),
        audit: stores.audit,
        reconcile: stores.reconcile,
        workers: stores.workers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emea() -> Tenant {
        Tenant::parse("emea").unwrap()
    }

    #[test]
    fn a_tenant_file_sits_beside_the_configured_one() {
        let t = emea();
        let cases = [
            ("sqlite://splashsync.db", "sqlite://splashsync.emea.db"),
            (
                "sqlite:///data/splashsync.db",
                "sqlite:///data/splashsync.emea.db",
            ),
            (
                "sqlite:///data/dir.v2/store?mode=rwc",
                "sqlite:///data/dir.v2/store.emea?mode=rwc",
            ),
            ("sqlite:local.sqlite3", "sqlite:local.emea.sqlite3"),
        ];
        for (url, want) in cases {
            assert_eq!(database_url_for(url, &t).as_deref(), Ok(want), "{url}");
        }
        assert!(database_url_for("sqlite::memory:", &t).is_err());
        assert!(database_url_for("postgres://db/splashsync", &t)
            .unwrap_err()
            .contains("PostgreSQL"));
    }
}
