//! The tenants file (`SPLASHSYNC_TENANTS_FILE`): the Splashtop teams one deployment serves.
//!
//! ```toml
//! [[tenant]]
//! name = "emea"
//! scim_token_sha256 = "…"            # `splashsync tenants hash-token` prints it
//! splashtop_api_url = "https://api.splashtop.example"
//! splashtop_api_token_env = "EMEA_SPLASHTOP_TOKEN"   # or splashtop_api_token = "…"
//! splashtop_team_id = "team-emea"
//! group_policy = "reject"            # receiver: reject | move | first
//! rename_policy = "reject"           # receiver: reject | reinvite
//! rate_limit_per_minute = 200        # worker: this team's bucket
//! deactivate_mode = "disable"        # worker
//! ```
//!
//! Loading checks what both sides share (names, hashes, one token per tenant); each side
//! reads the policy fields it applies and refuses a bad value with the tenant's name.
//!
//! # Layout
//! - [`token`]: token hashes, compared in constant time, and the strength check.

pub mod token;

use std::path::Path;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Tenant;
pub use token::TokenHash;

/// Longest tenant name: it becomes part of queue names, file names and schema names.
pub const MAX_NAME_CHARS: usize = 32;

/// One tenant as the file spells it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// Lowercase letters, digits, `-` and `_`, starting with a letter or a digit.
    pub name: String,
    /// The SHA-256 (hex) of the tenant's SCIM bearer token.
    pub scim_token_sha256: String,
    /// The tenant's Splashtop API base URL.
    pub splashtop_api_url: Option<String>,
    /// The Splashtop API token itself (prefer `splashtop_api_token_env`).
    #[serde(default, deserialize_with = "secret")]
    pub splashtop_api_token: Option<SecretString>,
    /// The environment variable holding the Splashtop API token.
    pub splashtop_api_token_env: Option<String>,
    /// The Splashtop team id.
    pub splashtop_team_id: Option<String>,
    /// The receiver's group policy for this tenant (`SPLASHSYNC_GROUP_POLICY`'s values).
    pub group_policy: Option<String>,
    /// The receiver's rename policy for this tenant (`SPLASHSYNC_RENAME_POLICY`'s values).
    pub rename_policy: Option<String>,
    /// The worker's Splashtop calls per minute for this team (`SPLASHTOP_RATE_LIMIT_PER_MINUTE`).
    pub rate_limit_per_minute: Option<u32>,
    /// The worker's deactivate mode for this team (`SPLASHSYNC_DEACTIVATE_MODE`'s values).
    pub deactivate_mode: Option<String>,
}

/// Reads a secret straight into a [`SecretString`], so no `Debug` of the entry prints it.
fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(SecretString::from))
}

/// A checked tenant: its name and token hash valid, the rest as written.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// The tenant.
    pub tenant: Tenant,
    /// Its SCIM token's hash.
    pub token: TokenHash,
    /// Everything else the file says about it.
    pub entry: TenantEntry,
}

impl TenantSpec {
    /// The Splashtop API token: the file's, or the named environment variable's (an error
    /// naming the variable, never a value, when it is unset or empty).
    pub fn splashtop_api_token(&self) -> Result<Option<SecretString>, TenantsError> {
        match (
            &self.entry.splashtop_api_token,
            &self.entry.splashtop_api_token_env,
        ) {
            (Some(token), None) => Ok(Some(token.clone())),
            (None, Some(var)) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Some(SecretString::from(value))),
                _ => Err(self.error(format!(
                    "splashtop_api_token_env names {var}, which is unset or empty"
                ))),
            },
            // Both at once is refused at load ([`parse`]).
            (Some(token), Some(_)) => Ok(Some(token.clone())),
            (None, None) => Ok(None),
        }
    }

    /// An error about this tenant.
    pub fn error(&self, problem: String) -> TenantsError {
        TenantsError::Tenant {
            name: self.tenant.to_string(),
            problem,
        }
    }
}

/// Why a tenants file is refused.
#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    /// The file cannot be read.
    #[error("cannot read the tenants file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML of the expected shape.
    #[error("the tenants file is not valid: {0}")]
    Syntax(String),
    /// A tenant's entry is wrong.
    #[error("tenant {name:?} in the tenants file: {problem}")]
    Tenant {
        /// The tenant's name as written.
        name: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The file names no tenant.
    #[error("the tenants file names no tenant (add [[tenant]] tables)")]
    Empty,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsToml {
    #[serde(default)]
    tenant: Vec<TenantEntry>,
}

/// Reads and checks the tenants file at `path`.
pub fn load(path: &Path) -> Result<Vec<TenantSpec>, TenantsError> {
    let text = std::fs::read_to_string(path).map_err(|source| TenantsError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text)
}

/// Checks a tenants file's text: valid names, valid token hashes, no name or token twice.
pub fn parse(text: &str) -> Result<Vec<TenantSpec>, TenantsError> {
    let file: TenantsToml =
        toml::from_str(text).map_err(|e| TenantsError::Syntax(e.message().to_string()))?;
    if file.tenant.is_empty() {
        return Err(TenantsError::Empty);
    }
    let mut specs: Vec<TenantSpec> = Vec::with_capacity(file.tenant.len());
    for entry in file.tenant {
        let spec = check(entry)?;
        if specs.iter().any(|s| s.tenant == spec.tenant) {
            return Err(spec.error("the name is used twice".into()));
        }
        if let Some(other) = specs.iter().find(|s| s.token == spec.token) {
            return Err(spec.error(format!(
                "has the same SCIM token as tenant {:?}: the token decides the tenant, so each needs its own",
                other.tenant.as_str()
            )));
        }
        specs.push(spec);
    }
    Ok(specs)
}

/// One entry's name and token hash.
fn check(entry: TenantEntry) -> Result<TenantSpec, TenantsError> {
    let bad = |problem: String| TenantsError::Tenant {
        name: entry.name.clone(),
        problem,
    };
    if !valid_name(&entry.name) {
        return Err(bad(format!(
            "the name must be 1 to {MAX_NAME_CHARS} lowercase letters, digits, '-' or '_', starting with a letter or digit"
        )));
    }
    let Some(token) = TokenHash::parse_hex(&entry.scim_token_sha256) else {
        return Err(bad(
            "scim_token_sha256 must be the 64 hex digits of the SCIM token's SHA-256, never the \
             token itself (`splashsync tenants hash-token` prints it)"
                .into(),
        ));
    };
    if entry.splashtop_api_token.is_some() && entry.splashtop_api_token_env.is_some() {
        return Err(bad(
            "give splashtop_api_token or splashtop_api_token_env, not both".into(),
        ));
    }
    let tenant = Tenant::parse(&entry.name).expect("a valid name is a tenant");
    Ok(TenantSpec {
        tenant,
        token,
        entry,
    })
}

/// A tenant's AMQP prefix under the deployment's: `<prefix>.<tenant>`, its own partition
/// queues, dead letters and events (docs/DESIGN.md, "Tenants": no head-of-line blocking
/// across tenants).
pub fn tenant_prefix(prefix: &str, tenant: &Tenant) -> String {
    format!("{prefix}.{tenant}")
}

/// Whether `name` can be a tenant of the file.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && name.len() <= MAX_NAME_CHARS
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests;
