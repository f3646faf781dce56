//! A partition's window: the jobs RabbitMQ has delivered to this consumer (up to its
//! prefetch) and that are not handled yet, oldest first; and the coalescing rule that
//! decides whether the oldest one may be acked unapplied because a newer job of its key
//! already sits behind it (docs/DESIGN.md, "Coalescing").
//!
//! The rule ([`superseder`]): the head job is superseded by the newest job of the same key
//! with a higher version that lies behind it in the window *before any job of the same
//! route with another key*. Jobs of other routes (other Splashtop accounts, whose order
//! relative to this one no partition promises) may lie in between; a job of the same route
//! and another key (a user deleted and created again with the same userName, or another
//! group of the tenant) is a barrier, because moving the head's effect past it could
//! change the result. The superseding job keeps its own place: nothing is reordered, the
//! head's effect is only folded into a later desired state of the same key.

use std::collections::VecDeque;
use std::time::Duration;

use lapin::message::Delivery;
use splashsync_protocol::job::{Job, JobMeta};
use splashsync_protocol::JobKey;
use tokio::time::Instant;

/// RabbitMQ's default consumer timeout: a delivery unacked this long closes its channel.
const CONSUMER_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// What one job may take beyond its retry budget: its last attempt's rate-limiter wait
/// (a capped Retry-After) and request.
const LAST_ATTEMPT: Duration = Duration::from_secs(330);

/// How long a window may hold a job before it is handed back to its queue
/// ([`Window::oldest_held`]): with one more job handled after the check (at most its retry
/// budget and its last attempt), no delivery reaches RabbitMQ's consumer timeout. At
/// least a minute.
pub(crate) fn hold_limit(retry_budget: Duration) -> Duration {
    CONSUMER_TIMEOUT
        .saturating_sub(retry_budget)
        .saturating_sub(LAST_ATTEMPT)
        .max(Duration::from_secs(60))
}

/// One delivered job, decoded once.
#[derive(Debug)]
struct Held {
    delivery: Delivery,
    /// The job, or why it could not be decoded (it is dead-lettered when its turn comes).
    job: Result<Job, serde_json::Error>,
    /// The job's route, computed once (a window is scanned once per head).
    route: Option<String>,
    /// When it joined the window (RabbitMQ's consumer timeout runs from about then).
    at: Instant,
}

impl Held {
    fn new(delivery: Delivery) -> Self {
        let job: Result<Job, _> = serde_json::from_slice(&delivery.data);
        let route = job.as_ref().ok().map(Job::route);
        Self {
            delivery,
            job,
            route,
            at: Instant::now(),
        }
    }

    fn slot(&self) -> Option<Slot<'_>> {
        let job = self.job.as_ref().ok()?;
        let meta = job.meta();
        Some(Slot {
            key: &meta.key,
            route: self.route.as_deref()?,
            version: meta.version,
        })
    }
}

/// What the coalescing rule looks at in a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot<'a> {
    pub(crate) key: &'a JobKey,
    pub(crate) route: &'a str,
    pub(crate) version: i64,
}

/// The index in `later` (the jobs behind `head`, oldest first; `None` for one that does
/// not decode) of the job that supersedes `head`: the highest version of `head`'s key
/// above `head`'s own, found before the first job of `head`'s route with another key.
/// `None`: `head` must be handled.
pub(crate) fn superseder<'a>(
    head: Slot<'_>,
    later: impl IntoIterator<Item = Option<Slot<'a>>>,
) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    for (i, slot) in later.into_iter().enumerate() {
        // An undecodable job is dead-lettered without touching Splashtop: no barrier.
        let Some(slot) = slot else { continue };
        if slot.key == head.key {
            if slot.version > head.version && best.is_none_or(|(_, v)| slot.version > v) {
                best = Some((i, slot.version));
            }
        } else if slot.route == head.route {
            break;
        }
    }
    best.map(|(i, _)| i)
}

/// The jobs delivered and not yet handled, oldest first.
#[derive(Debug)]
pub(crate) struct Window {
    held: VecDeque<Held>,
    coalesce: bool,
}

/// The oldest job of the window, and what to do with it.
#[derive(Debug)]
pub(crate) enum Next {
    /// Handle it: apply it (or skip it as stale, or dead-letter it).
    Handle {
        delivery: Delivery,
        job: Result<Job, serde_json::Error>,
    },
    /// Ack it unapplied: the job `by`, still in the window behind it, supersedes it.
    Superseded {
        delivery: Delivery,
        job: Job,
        by: JobMeta,
    },
}

impl Window {
    /// An empty window; without `coalesce` every job is handled.
    pub(crate) fn new(coalesce: bool) -> Self {
        Self {
            held: VecDeque::new(),
            coalesce,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// How long the oldest job of the window has been held unacked.
    pub(crate) fn oldest_held(&self) -> Option<Duration> {
        self.held.front().map(|h| h.at.elapsed())
    }

    /// Appends a delivery, in delivery order.
    pub(crate) fn push(&mut self, delivery: Delivery) {
        self.held.push_back(Held::new(delivery));
    }

    /// Takes the oldest job out, with whether a newer one of its key supersedes it.
    pub(crate) fn next(&mut self) -> Option<Next> {
        let head = self.held.pop_front()?;
        let by = match (self.coalesce, head.slot()) {
            (true, Some(slot)) => superseder(slot, self.held.iter().map(Held::slot))
                .and_then(|i| self.held[i].job.as_ref().ok())
                .map(|job| job.meta().clone()),
            _ => None,
        };
        let Held { delivery, job, .. } = head;
        Some(match (by, job) {
            (Some(by), Ok(job)) => Next::Superseded { delivery, job, by },
            (_, job) => Next::Handle { delivery, job },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{user_job, user_state};

    fn key(s: &str) -> JobKey {
        JobKey::parse(s).unwrap()
    }

    /// (key, route, version) triples as the window's slots.
    fn run(head: (&str, &str, i64), later: &[Option<(&str, &str, i64)>]) -> Option<usize> {
        let keys: Vec<Option<(JobKey, &str, i64)>> = later
            .iter()
            .map(|s| s.map(|(k, r, v)| (key(k), r, v)))
            .collect();
        let head_key = key(head.0);
        let head = Slot {
            key: &head_key,
            route: head.1,
            version: head.2,
        };
        superseder(
            head,
            keys.iter().map(|s| {
                s.as_ref().map(|(key, route, version)| Slot {
                    key,
                    route,
                    version: *version,
                })
            }),
        )
    }

    #[test]
    fn the_hold_limit_leaves_room_for_one_more_job_under_the_consumer_timeout() {
        for budget in [1, 60, 300, 1200] {
            let budget = Duration::from_secs(budget);
            let hold = hold_limit(budget);
            assert!(hold >= Duration::from_secs(60));
            assert!(
                hold + budget + LAST_ATTEMPT <= CONSUMER_TIMEOUT,
                "{budget:?}"
            );
        }
    }

    /// A delivery carrying `job` (or bytes that are no job).
    fn delivery(tag: u64, body: Vec<u8>) -> Delivery {
        Delivery::mock(tag, "".into(), "".into(), false, body)
    }

    fn ada(version: i64) -> Job {
        let state = user_state("ada", "ada@example.com", &format!("Ada{version}"), None);
        user_job(state, version)
    }

    fn fill(window: &mut Window, jobs: &[Option<Job>]) {
        for (tag, job) in jobs.iter().enumerate() {
            let body = match job {
                Some(job) => serde_json::to_vec(job).unwrap(),
                None => b"not a job".to_vec(),
            };
            window.push(delivery(tag as u64 + 1, body));
        }
    }

    /// What the window does with each job in turn: `Ok(tag)` handled, `Err((tag, by
    /// version))` superseded.
    fn drain(window: &mut Window) -> Vec<Result<u64, (u64, i64)>> {
        std::iter::from_fn(|| window.next())
            .map(|next| match next {
                Next::Handle { delivery, .. } => Ok(delivery.delivery_tag),
                Next::Superseded { delivery, by, .. } => Err((delivery.delivery_tag, by.version)),
            })
            .collect()
    }

    #[test]
    fn a_window_supersedes_older_versions_in_order_and_hands_the_rest_over() {
        let bob = user_job(user_state("bob", "bob@example.com", "Bob", None), 1);
        let jobs = [Some(ada(1)), Some(bob), None, Some(ada(2)), Some(ada(3))];
        let mut window = Window::new(true);
        fill(&mut window, &jobs);
        assert_eq!(
            drain(&mut window),
            vec![Err((1, 3)), Ok(2), Ok(3), Err((4, 3)), Ok(5)],
            "ada 1 and 2 superseded by 3; bob and the undecodable job handled in place"
        );
        assert!(window.is_empty());
    }

    #[test]
    fn without_coalescing_every_job_is_handled_in_order() {
        let mut window = Window::new(false);
        fill(&mut window, &[Some(ada(1)), Some(ada(2)), Some(ada(3))]);
        assert_eq!(drain(&mut window), vec![Ok(1), Ok(2), Ok(3)]);
    }

    #[test]
    fn a_re_created_account_keeps_its_predecessors_jobs_in_place() {
        // ada deleted (v2) and created again as ada2 with the same userName.
        let old = |v: i64| user_job(user_state("ada", "ada@example.com", "Old", None), v);
        let new = user_job(user_state("ada2", "ada@example.com", "New", None), 1);
        let mut window = Window::new(true);
        fill(&mut window, &[Some(old(1)), Some(new), Some(old(3))]);
        assert_eq!(drain(&mut window), vec![Ok(1), Ok(2), Ok(3)]);
    }

    const A: &str = "t/user/a";
    const B: &str = "t/user/b";
    const ACCT: &str = "t/account/same@example.com";
    const OTHER: &str = "t/account/other@example.com";

    #[test]
    fn the_newest_version_of_the_same_key_supersedes_the_head() {
        assert_eq!(
            run((A, ACCT, 1), &[Some((A, ACCT, 2)), Some((A, ACCT, 3))]),
            Some(1)
        );
        // The newest by version, not by place: a stale re-publish behind it changes nothing.
        assert_eq!(
            run((A, ACCT, 1), &[Some((A, ACCT, 3)), Some((A, ACCT, 2))]),
            Some(0)
        );
    }

    #[test]
    fn an_equal_or_older_version_never_supersedes() {
        assert_eq!(
            run((A, ACCT, 2), &[Some((A, ACCT, 2)), Some((A, ACCT, 1))]),
            None
        );
        assert_eq!(run((A, ACCT, 2), &[]), None);
    }

    #[test]
    fn jobs_of_other_accounts_in_between_are_passed_over() {
        let later = [
            Some((B, OTHER, 7)),
            None,
            Some(("t/group/g", "t/groups", 1)),
            Some((A, ACCT, 2)),
        ];
        assert_eq!(run((A, ACCT, 1), &later), Some(3));
    }

    #[test]
    fn another_key_of_the_same_account_is_a_barrier() {
        // User a deleted (v2) and b created with the same userName: a's v1 must not be
        // folded into a's v3 past b's invite.
        let later = [Some((B, ACCT, 1)), Some((A, ACCT, 3))];
        assert_eq!(run((A, ACCT, 1), &later), None);
        // Before the barrier it may still be superseded, by what lies before it only.
        let later = [Some((A, ACCT, 2)), Some((B, ACCT, 1)), Some((A, ACCT, 3))];
        assert_eq!(run((A, ACCT, 1), &later), Some(0));
    }

    #[test]
    fn groups_of_one_tenant_share_a_route_so_another_group_is_a_barrier() {
        let g1 = "t/group/g1";
        let later = [
            Some(("t/group/g2", "t/groups", 1)),
            Some((g1, "t/groups", 2)),
        ];
        assert_eq!(run((g1, "t/groups", 1), &later), None);
        assert_eq!(
            run((g1, "t/groups", 1), &[Some((g1, "t/groups", 2))]),
            Some(0)
        );
    }
}
