//! Reading the team page by page: groups first (users name their group by id), then
//! users, each call after the pacing pause, transient failures retried on backon
//! (honouring Retry-After). A listing that fails halfway fails the run: a partial team
//! would make every unread account look missing, so nothing is compared or written.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::future::BoxFuture;
use splashsync_directory::reconcile::{Reading, SeenUser, Team};
use splashtop_api::{ApiError, GroupsPage, TeamGroup, UsersPage};
use tokio::time::Instant;

/// Listing pages a run reads at most (a cursor that never ends must not loop forever).
pub const MAX_PAGES: u64 = 100_000;

/// Attempts of one listing call before the run gives up.
const ATTEMPTS: usize = 5;

/// The longest Retry-After honoured before the run gives up on the call.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Where the team's listing pages come from (the Splashtop client).
pub trait PageSource: Send + Sync + fmt::Debug + 'static {
    /// One page of users (`cursor` `None`: the first).
    fn users_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>>;
    /// One page of groups, the default group included.
    fn groups_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>>;
}

/// Why a listing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// Splashtop refused or kept failing.
    #[error("listing {what} failed after {pages} pages: {error}")]
    Api {
        /// `users` or `groups`.
        what: &'static str,
        /// Pages read before.
        pages: u64,
        /// The last error.
        error: ApiError,
    },
    /// The cursor did not end.
    #[error("listing {0} did not end after {MAX_PAGES} pages (a cursor repeated?)")]
    Endless(&'static str),
}

/// Spaces the calls `pace` apart.
#[derive(Debug)]
pub struct Pacer {
    pace: Duration,
    next: Option<Instant>,
}

impl Pacer {
    /// A pacer; the first call goes at once.
    pub fn new(pace: Duration) -> Self {
        Self { pace, next: None }
    }

    /// Waits for the next call's turn.
    pub async fn turn(&mut self) {
        if let Some(next) = self.next {
            tokio::time::sleep_until(next).await;
        }
        self.next = Some(Instant::now() + self.pace);
    }
}

/// One call, transient failures retried (Retry-After as a floor under the wait).
async fn call<T, F>(pacer: &mut Pacer, mut once: F) -> Result<T, ApiError>
where
    F: FnMut() -> BoxFuture<'static, Result<T, ApiError>>,
{
    pacer.turn().await;
    let backoff = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_jitter()
        .with_max_times(ATTEMPTS - 1);
    (|| once())
        .retry(backoff)
        .when(|e| matches!(e, ApiError::Transient { .. }))
        .adjust(|e, backoff| match (e.retry_after(), backoff) {
            (Some(after), _) if after > MAX_RETRY_AFTER => None,
            (Some(after), Some(b)) => Some(after.max(b)),
            (_, b) => b,
        })
        .await
}

/// Every page of one listing, through `fetch(cursor)`.
async fn all_pages<T, F>(
    what: &'static str,
    pacer: &mut Pacer,
    reading: &mut Reading,
    on_page: &(dyn Fn() + Send + Sync),
    mut fetch: F,
) -> Result<Vec<T>, ReadError>
where
    F: FnMut(Option<String>) -> BoxFuture<'static, Result<(Vec<T>, Option<String>), ApiError>>,
{
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        if pages >= MAX_PAGES {
            return Err(ReadError::Endless(what));
        }
        let sent = cursor.clone();
        let (items, next) = call(pacer, || fetch(sent.clone()))
            .await
            .map_err(|error| ReadError::Api { what, pages, error })?;
        pages += 1;
        reading.pages += 1;
        on_page();
        out.extend(items);
        match next {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            Some(_) => return Err(ReadError::Endless(what)),
            None => return Ok(out),
        }
    }
}

/// Reads the whole team from `source`, `pace` between calls; `reading` counts the pages
/// (also when the listing fails) and `on_page` is told of each.
pub async fn read_team(
    source: std::sync::Arc<dyn PageSource>,
    page_size: u32,
    pace: Duration,
    reading: &mut Reading,
    on_page: &(dyn Fn() + Send + Sync),
) -> Result<Team, ReadError> {
    let mut pacer = Pacer::new(pace);
    let groups_source = source.clone();
    let groups: Vec<TeamGroup> = all_pages("groups", &mut pacer, reading, on_page, |cursor| {
        let source = groups_source.clone();
        Box::pin(async move {
            let page = source.groups_page(cursor.as_deref(), page_size).await?;
            Ok((page.groups, page.next_cursor))
        })
    })
    .await?;
    let users = all_pages("users", &mut pacer, reading, on_page, |cursor| {
        let source = source.clone();
        Box::pin(async move {
            let page = source.users_page(cursor.as_deref(), page_size).await?;
            Ok((page.users, page.next_cursor))
        })
    })
    .await?;
    reading.groups = groups.len() as u64;
    reading.users = users.len() as u64;
    let names: HashMap<&str, Option<&str>> = groups
        .iter()
        .map(|g| (g.id.as_str(), (!g.is_default).then_some(g.name.as_str())))
        .collect();
    let users = users
        .into_iter()
        .map(|u| SeenUser {
            group: match u.group_id.as_deref() {
                None => None,
                Some(id) => match names.get(id) {
                    Some(name) => name.map(str::to_string),
                    // A group created after the group listing was read.
                    None => Some(format!("(group {id}, not listed)")),
                },
            },
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            display_name: u.display_name,
            sso_name: u.sso_name,
        })
        .collect();
    Ok(Team {
        users,
        groups: groups
            .into_iter()
            .filter(|g| !g.is_default)
            .map(|g| g.name)
            .collect(),
    })
}

#[cfg(test)]
mod tests;
