//! Login rate limiting: failed attempts are counted per account (whatever name was typed, so an
//! unknown name is limited exactly like a known one) and per client address, in a sliding window.
//! Kept in memory: a restart forgets the counts, which only ever helps a legitimate user.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Failed logins allowed per account within `WINDOW_SECS`.
pub const PER_ACCOUNT: usize = 5;
/// Failed logins allowed per client address within `WINDOW_SECS`.
pub const PER_CLIENT: usize = 20;
pub const WINDOW_SECS: i64 = 15 * 60;
/// Entries kept at most; the oldest are forgotten first when full.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct RateLimiter {
    failures: Mutex<HashMap<Key, Vec<i64>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Client(IpAddr),
}

impl RateLimiter {
    /// When the caller may try again (seconds from `now`), or `None` when he may try now.
    pub fn blocked(&self, account: &str, client: Option<IpAddr>, now: i64) -> Option<i64> {
        let mut map = self.failures.lock().expect("not poisoned");
        let mut wait = None;
        for (key, limit) in keys(account, client) {
            if let Some(times) = map.get_mut(&key) {
                times.retain(|t| now - t < WINDOW_SECS);
                if times.len() >= limit {
                    let until = times[times.len() - limit] + WINDOW_SECS - now;
                    wait = Some(wait.map_or(until, |w: i64| w.max(until)));
                }
            }
        }
        wait
    }

    pub fn failed(&self, account: &str, client: Option<IpAddr>, now: i64) {
        let mut map = self.failures.lock().expect("not poisoned");
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| times.iter().any(|t| now - t < WINDOW_SECS));
        }
        for (key, _) in keys(account, client) {
            if map.len() < MAX_KEYS || map.contains_key(&key) {
                map.entry(key).or_default().push(now);
            }
        }
    }

    /// A successful login clears the account's count (not the client's).
    pub fn succeeded(&self, account: &str) {
        self.failures.lock().expect("not poisoned").remove(&Key::Account(normalise(account)));
    }
}

fn normalise(account: &str) -> String {
    account.trim().to_lowercase()
}

fn keys(account: &str, client: Option<IpAddr>) -> Vec<(Key, usize)> {
    let mut k = vec![(Key::Account(normalise(account)), PER_ACCOUNT)];
    if let Some(ip) = client {
        k.push((Key::Client(ip), PER_CLIENT));
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_account_and_per_client() {
        let r = RateLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..PER_ACCOUNT {
            assert_eq!(r.blocked("Ivanov", Some(ip), 1000), None);
            r.failed("ivanov", Some(ip), 1000);
        }
        assert_eq!(r.blocked("IVANOV ", Some(ip), 1000), Some(WINDOW_SECS));
        assert_eq!(r.blocked("ivanov", Some(ip), 1000 + WINDOW_SECS), None);
        // Another account from the same client still may, until the client's limit.
        assert_eq!(r.blocked("petrov", Some(ip), 1001), None);
        for i in 0..PER_CLIENT {
            r.failed(&format!("user{i}"), Some(ip), 1001);
        }
        assert!(r.blocked("sidorov", Some(ip), 1002).is_some());
        assert_eq!(r.blocked("sidorov", Some("192.0.2.2".parse().unwrap()), 1002), None);
        r.succeeded("ivanov");
    }
}
