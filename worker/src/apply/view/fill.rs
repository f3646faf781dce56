//! Filling a tenant's mirror from Splashtop's listing, one call per page.

use splashtop_api::{ApiError, MAX_PAGE_LIMIT};

use crate::apply::Env;

/// Fills the tenant's mirror from the listing, one call per page: groups first, then
/// users. True when it is complete (the lease was still held at the end).
pub(super) async fn fill(env: Env<'_>) -> Result<bool, ApiError> {
    let Env { api, store, cx, .. } = env;
    let tenant = env.tenant.as_str();
    let mut cursor: Option<String> = None;
    loop {
        let page = api
            .groups_page(cx, cursor.as_deref(), MAX_PAGE_LIMIT)
            .await?;
        env.metrics.page();
        store.mirror_fill_groups(tenant, &page.groups).await?;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut cursor: Option<String> = None;
    let mut users = 0;
    loop {
        let page = api
            .users_page(cx, cursor.as_deref(), MAX_PAGE_LIMIT)
            .await?;
        env.metrics.page();
        users += page.users.len();
        store.mirror_fill_users(tenant, &page.users).await?;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let complete = store.mirror_filled(tenant, &cx.job_id).await?;
    if complete {
        env.metrics.fill("complete");
        tracing::info!(users, "the team mirror is filled from the listing");
    }
    Ok(complete)
}
