//! Failed attempts counted per source address: after `limit` failures within `window`, the
//! address is refused for `window`, so a token cannot be guessed at line rate and a
//! misconfigured client cannot flood the log.
//!
//! The map is bounded: at `capacity` addresses, finished windows are dropped first, then
//! the addresses seen least recently (unthrottled ones before throttled ones), so an
//! attacker spraying from many addresses costs memory it cannot grow. IPv6 addresses are
//! counted per /64, the block one host usually holds.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The addresses a throttle keeps by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
    last_seen: Instant,
}

impl Entry {
    fn blocked_at(&self, now: Instant) -> Option<Duration> {
        self.blocked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    fn finished(&self, now: Instant, window: Duration) -> bool {
        self.blocked_at(now).is_none() && now.duration_since(self.window_start) >= window
    }
}

/// Failed attempts per source address, with a cap on the addresses kept.
#[derive(Debug)]
pub struct FailureThrottle {
    limit: u32,
    window: Duration,
    capacity: usize,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key an address is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by /64.
fn key_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

impl FailureThrottle {
    /// `limit` failures (at least 1) within `window` throttle an address for `window`.
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Self {
        Self {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `addr` must still wait, when it is throttled.
    pub fn retry_after(&self, addr: IpAddr) -> Option<Duration> {
        self.retry_after_at(addr, Instant::now())
    }

    /// [`Self::retry_after`] at `now`.
    pub fn retry_after_at(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        self.entries()
            .get(&key_of(addr))
            .and_then(|e| e.blocked_at(now))
    }

    /// Counts a failure of `addr`; answers how long it is throttled when this failure
    /// reached the limit.
    pub fn failed(&self, addr: IpAddr) -> Option<Duration> {
        self.failed_at(addr, Instant::now())
    }

    /// [`Self::failed`] at `now`.
    pub fn failed_at(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let key = key_of(addr);
        let mut entries = self.entries();
        if !entries.contains_key(&key) && entries.len() >= self.capacity {
            self.evict(&mut entries, now);
        }
        let entry = entries.entry(key).or_insert(Entry {
            window_start: now,
            failures: 0,
            blocked_until: None,
            last_seen: now,
        });
        entry.last_seen = now;
        if now.duration_since(entry.window_start) >= self.window {
            entry.window_start = now;
            entry.failures = 0;
        }
        entry.failures += 1;
        if entry.failures < self.limit {
            return None;
        }
        // The block runs one window from the failure that reached the limit; the count
        // starts afresh after it.
        entry.failures = 0;
        entry.window_start = now + self.window;
        entry.blocked_until = Some(now + self.window);
        Some(self.window)
    }

    /// `addr` authenticated: its earlier failures are forgotten.
    pub fn succeeded(&self, addr: IpAddr) {
        let now = Instant::now();
        let mut entries = self.entries();
        let key = key_of(addr);
        if entries
            .get(&key)
            .is_some_and(|e| e.blocked_at(now).is_none())
        {
            entries.remove(&key);
        }
    }

    /// How many addresses are kept.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether no address is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn evict(&self, entries: &mut HashMap<IpAddr, Entry>, now: Instant) {
        entries.retain(|_, e| !e.finished(now, self.window));
        if entries.len() < self.capacity {
            return;
        }
        let oldest = entries
            .iter()
            .min_by_key(|(_, e)| (e.blocked_at(now).is_some(), e.last_seen))
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            entries.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn the_limit_th_failure_throttles_for_one_window() {
        let t = FailureThrottle::new(3, MINUTE, 100);
        let now = Instant::now();
        assert_eq!(t.failed_at(v4(1), now), None);
        assert_eq!(t.failed_at(v4(1), now), None);
        assert_eq!(t.retry_after_at(v4(1), now), None);
        assert_eq!(t.failed_at(v4(1), now), Some(MINUTE));
        let later = now + Duration::from_secs(20);
        assert_eq!(
            t.retry_after_at(v4(1), later),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            t.retry_after_at(v4(2), later),
            None,
            "other addresses are free"
        );
        assert_eq!(
            t.retry_after_at(v4(1), now + MINUTE),
            None,
            "the block ends"
        );
    }

    #[test]
    fn failures_spread_over_more_than_a_window_never_throttle() {
        let t = FailureThrottle::new(2, MINUTE, 100);
        let mut now = Instant::now();
        for _ in 0..10 {
            assert_eq!(t.failed_at(v4(1), now), None);
            now += MINUTE;
        }
    }

    #[test]
    fn a_success_forgets_the_failures() {
        let t = FailureThrottle::new(2, MINUTE, 100);
        assert_eq!(t.failed(v4(1)), None);
        t.succeeded(v4(1));
        assert_eq!(t.failed(v4(1)), None);
        assert!(t.failed(v4(1)).is_some());
    }

    #[test]
    fn the_map_never_grows_past_its_capacity() {
        let t = FailureThrottle::new(5, MINUTE, 4);
        let now = Instant::now();
        for i in 0..=255u8 {
            t.failed_at(v4(i), now + Duration::from_millis(u64::from(i)));
            assert!(t.len() <= 4);
        }
    }

    #[test]
    fn eviction_drops_free_addresses_before_throttled_ones() {
        let t = FailureThrottle::new(2, MINUTE, 2);
        let now = Instant::now();
        assert!(t.failed_at(v4(1), now).is_none());
        assert!(t.failed_at(v4(1), now).is_some());
        assert!(t.failed_at(v4(2), now).is_none());
        assert!(t.failed_at(v4(3), now + Duration::from_secs(1)).is_none());
        assert_eq!(t.len(), 2);
        assert!(t.retry_after_at(v4(1), now).is_some(), "still throttled");
    }

    #[test]
    fn ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let t = FailureThrottle::new(2, MINUTE, 100);
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert!(t.failed(IpAddr::V6(a)).is_none());
        assert!(t.failed(IpAddr::V6(b)).is_some(), "same /64");
        assert!(t
            .failed(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()))
            .is_none());
        assert!(t.failed(v4(7)).is_some(), "same address");
    }
}
