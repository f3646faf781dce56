//! Reading a team: every page, in order, retries of transient failures, and no team at
//! all when a listing fails halfway.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use splashtop_api::{ErrorCode, TeamUser};

use super::*;

/// A team listed two users per page; `fail` answers the n-th call (0-based) with an error.
#[derive(Debug)]
struct Pages {
    users: Vec<TeamUser>,
    groups: Vec<TeamGroup>,
    calls: AtomicUsize,
    fail: Mutex<HashMap<usize, ApiError>>,
}

fn user(email: &str, group: &str) -> TeamUser {
    TeamUser {
        id: format!("u_{email}"),
        email: email.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        display_name: "F L".into(),
        sso_name: None,
        group_id: Some(group.into()),
        role: "member".into(),
        status: "invited".into(),
    }
}

fn group(id: &str, name: &str, is_default: bool) -> TeamGroup {
    TeamGroup {
        id: id.into(),
        name: name.into(),
        is_default,
        member_count: 0,
    }
}

impl Pages {
    fn new() -> Self {
        Self {
            users: ["a", "b", "c", "d", "e"]
                .iter()
                .map(|n| user(&format!("{n}@x.com"), if *n == "a" { "g_s" } else { "g_d" }))
                .collect(),
            groups: vec![group("g_d", "Default", true), group("g_s", "Sales", false)],
            calls: AtomicUsize::new(0),
            fail: Mutex::new(HashMap::new()),
        }
    }

    fn failure(&self) -> Option<ApiError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        self.fail.lock().unwrap().remove(&n)
    }

    fn page<T: Clone>(all: &[T], cursor: Option<&str>, limit: u32) -> (Vec<T>, Option<String>) {
        let start: usize = cursor.map_or(0, |c| c.parse().unwrap());
        let end = (start + limit as usize).min(all.len());
        let next = (end < all.len()).then(|| end.to_string());
        (all[start..end].to_vec(), next)
    }
}

impl PageSource for Pages {
    fn users_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<UsersPage, ApiError>> {
        Box::pin(async move {
            if let Some(e) = self.failure() {
                return Err(e);
            }
            let (users, next_cursor) = Self::page(&self.users, cursor, limit);
            Ok(UsersPage { users, next_cursor })
        })
    }

    fn groups_page<'a>(
        &'a self,
        cursor: Option<&'a str>,
        limit: u32,
    ) -> BoxFuture<'a, Result<GroupsPage, ApiError>> {
        Box::pin(async move {
            if let Some(e) = self.failure() {
                return Err(e);
            }
            let (groups, next_cursor) = Self::page(&self.groups, cursor, limit);
            Ok(GroupsPage {
                groups,
                next_cursor,
            })
        })
    }
}

#[tokio::test]
async fn every_page_is_read_and_groups_are_named() {
    let pages = Arc::new(Pages::new());
    let mut reading = Reading::default();
    let seen = AtomicU64::new(0);
    let count = || {
        seen.fetch_add(1, Ordering::SeqCst);
    };
    let team = read_team(pages.clone(), 2, Duration::ZERO, &mut reading, &count)
        .await
        .unwrap();
    assert_eq!(team.users.len(), 5);
    assert_eq!(
        team.groups,
        vec!["Sales".to_string()],
        "the default group is left out"
    );
    assert_eq!(team.users[0].group.as_deref(), Some("Sales"));
    assert_eq!(team.users[1].group, None, "the default group is None");
    // 2 groups in 1 page, 5 users in 3 pages.
    assert_eq!(reading.pages, 4);
    assert_eq!(seen.load(Ordering::SeqCst), 4);
    assert_eq!((reading.users, reading.groups), (5, 2));
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_and_costs_no_page() {
    let pages = Arc::new(Pages::new());
    pages.fail.lock().unwrap().insert(
        2,
        ApiError::Transient {
            status: Some(429),
            retry_after: Some(Duration::from_secs(2)),
            detail: "slow down".into(),
        },
    );
    let mut reading = Reading::default();
    let team = read_team(pages.clone(), 2, Duration::ZERO, &mut reading, &|| {})
        .await
        .unwrap();
    assert_eq!(team.users.len(), 5);
    assert_eq!(reading.pages, 4);
    assert_eq!(pages.calls.load(Ordering::SeqCst), 5, "one call retried");
}

#[tokio::test]
async fn a_listing_failing_halfway_gives_no_team() {
    let pages = Arc::new(Pages::new());
    pages.fail.lock().unwrap().insert(
        2,
        ApiError::Permanent {
            status: 403,
            code: ErrorCode::Other("http_403".into()),
            message: "no".into(),
            body: String::new(),
        },
    );
    let mut reading = Reading::default();
    let err = read_team(pages, 2, Duration::ZERO, &mut reading, &|| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ReadError::Api {
                what: "users",
                pages: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        reading.pages, 2,
        "the pages read before the failure are counted"
    );
}

#[tokio::test(start_paused = true)]
async fn calls_are_paced() {
    let pages = Arc::new(Pages::new());
    let mut reading = Reading::default();
    let started = Instant::now();
    read_team(pages, 2, Duration::from_secs(6), &mut reading, &|| {})
        .await
        .unwrap();
    // Four calls: the first at once, then three pauses (virtual time).
    assert_eq!(started.elapsed(), Duration::from_secs(18));
}
