//! The Splashtop client as the reconciler's [`PageSource`]: the team's listing pages.

use futures_util::future::BoxFuture;
use splashtop_api::{ApiError, CallContext, GroupsPage, HttpTeamApi, TeamApi, UsersPage};

use super::read::PageSource;

/// The calls' tracing context: no job, the reconciler's own key.
fn context() -> CallContext {
    CallContext {
        job_id: String::new(),
        key: "reconcile".into(),
        version: 0,
    }
}

impl PageSource for HttpTeamApi {
    fn users_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>> {
        Box::pin(async move {
            let cx = context();
            TeamApi::users_page(self, &cx, cursor, limit).await
        })
    }

    fn groups_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>> {
        Box::pin(async move {
            let cx = context();
            TeamApi::groups_page(self, &cx, cursor, limit).await
        })
    }
}
