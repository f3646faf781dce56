//! What every SCIM handler serves from: the [`AppState`] of the tenant a request's token
//! opened (put in the request by [`crate::auth`], read by [`crate::routes`]).

use std::sync::Arc;

use splashsync_directory::{Directory, GroupPolicy, WriteCtx};

/// What every handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The directory.
    pub directory: Arc<dyn Directory>,
    /// The tenant this receiver serves.
    pub tenant: splashsync_protocol::Tenant,
    /// `http(s)://host/scim/v2`, for `meta.location`.
    pub base_url: Arc<str>,
    /// Default page size.
    pub page_size: u64,
    /// Largest page size.
    pub max_page_size: u64,
    /// Most resources a list request may evaluate in memory (a filter or sort SQL cannot
    /// answer); more is a 400 `tooMany`. 0: no limit.
    pub filter_scan_limit: u64,
    /// What a second group for one user does.
    pub group_policy: GroupPolicy,
    /// What a userName change that changes the Splashtop account does.
    pub rename_policy: splashsync_directory::model::RenamePolicy,
    /// Who writes: the SCIM token's fingerprint (`token:` and 8 hex digits of its
    /// SHA-256), recorded with every job so the timeline says which token asked.
    pub caller: Arc<str>,
}

impl AppState {
    /// The write context of a request: its origin names the call and the token.
    pub fn write_ctx(&self, origin: String) -> WriteCtx {
        let origin = format!("{origin} by {}", self.caller);
        WriteCtx {
            tenant: self.tenant.clone(),
            origin,
            policy: self.group_policy,
            verify: false,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("tenant", &self.tenant)
            .field("base_url", &self.base_url)
            .field("group_policy", &self.group_policy)
            .field("rename_policy", &self.rename_policy)
            .finish_non_exhaustive()
    }
}

/// A token's fingerprint for the audit log: never the token, never reversible.
pub fn token_fingerprint(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("token:{hex}")
}
