//! Password guessing, slowed per account across every client. Failures for one account are
//! counted wherever they come from; past a few, each further attempt must wait a delay that
//! doubles with every failure, up to a ceiling, so a guesser spread over many addresses gets a
//! handful of tries an hour instead of thousands. The owner is not locked out by it: an address
//! the account logged in from successfully (recently) is never made to wait, so a stranger can
//! slow only strangers. Every login path of a process (SMTP AUTH, Dovecot's IMAP/POP3 logins,
//! the web login) asks one `LoginThrottle` before it checks a password and tells it the outcome.
//!
//! No I/O and no clock of its own: callers pass `Instant`s, so tests can move time. Kept in
//! memory: a restart forgets the counts, which only ever helps a legitimate user.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization;

/// The numbers of the policy.
#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Failures for an account before any attempt has to wait.
    pub free_failures: u32,
    /// The wait after the first failure past the free ones; it doubles with each further one.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// An account whose last failure is this old starts from zero again.
    pub forget_after: Duration,
    /// How long a successful login keeps its client address exempt for that account.
    pub known_for: Duration,
    /// Accounts tracked at most; the stalest are dropped first when full.
    pub max_accounts: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 5,
            first_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
            known_for: Duration::from_secs(30 * 24 * 60 * 60),
            max_accounts: 100_000,
        }
    }
}

/// What a login attempt may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refuse without checking the password; the client may try again after this long.
    Wait(Duration),
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

/// An account under a pause, for the operators' view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub account: String,
    pub failures: u32,
    /// How long until the next attempt from a stranger is let through.
    pub wait: Duration,
}

#[derive(Debug, Default)]
struct Account {
    failures: u32,
    last_failure: Option<Instant>,
    /// Client networks with a successful login, and when.
    known: HashMap<Network, Instant>,
}

/// A client's address as the throttle knows it: IPv4 whole, IPv6 by its /64 (one host's
/// privacy addresses change within it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Network(IpAddr);

impl Network {
    fn of(ip: IpAddr) -> Network {
        match ip {
            IpAddr::V4(_) => Network(ip),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return Network(IpAddr::V4(v4));
                }
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                Network(IpAddr::V6(bits.into()))
            }
        }
    }
}

/// The throttle of one process.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    accounts: Mutex<HashMap<String, Account>>,
}

/// The name an account is counted under, however it was typed: the local part (the deployment
/// is one mail domain, and Dovecot takes `alice` as well as `alice@example.org`), trimmed,
/// lower-cased, in NFC.
pub fn account_key(login: &str) -> String {
    let login = login.trim();
    let local = login.rsplit_once('@').map_or(login, |(l, _)| l);
    local.nfc().collect::<String>().to_lowercase()
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> LoginThrottle {
        LoginThrottle { policy, accounts: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Account>> {
        self.accounts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `client` may try a password for `login` at `now`.
    pub fn check(&self, login: &str, client: IpAddr, now: Instant) -> Verdict {
        let mut accounts = self.lock();
        let Some(account) = accounts.get_mut(&account_key(login)) else { return Verdict::Allow };
        self.forget_stale(account, now);
        if account.known.contains_key(&Network::of(client)) {
            return Verdict::Allow;
        }
        match self.wait(account, now) {
            Some(wait) => Verdict::Wait(wait),
            None => Verdict::Allow,
        }
    }

    /// Records how an attempt that [`LoginThrottle::check`] allowed ended.
    pub fn record(&self, login: &str, client: IpAddr, outcome: Outcome, now: Instant) {
        let key = account_key(login);
        let mut accounts = self.lock();
        if !accounts.contains_key(&key) && accounts.len() >= self.policy.max_accounts {
            self.make_room(&mut accounts, now);
        }
        let account = accounts.entry(key).or_default();
        self.forget_stale(account, now);
        match outcome {
            Outcome::Success => {
                account.failures = 0;
                account.last_failure = None;
                account.known.insert(Network::of(client), now);
            }
            Outcome::Failure => {
                account.failures = account.failures.saturating_add(1);
                account.last_failure = Some(now);
            }
        }
    }

    /// Ends an account's pause (an administrator's decision); its known addresses stay.
    pub fn lift(&self, login: &str) -> bool {
        let mut accounts = self.lock();
        match accounts.get_mut(&account_key(login)) {
            Some(a) if a.failures > 0 => {
                a.failures = 0;
                a.last_failure = None;
                true
            }
            _ => false,
        }
    }

    /// The accounts strangers must wait for at `now`, longest wait first.
    pub fn paused(&self, now: Instant) -> Vec<Paused> {
        let accounts = self.lock();
        let mut out: Vec<Paused> = accounts
            .iter()
            .filter_map(|(name, a)| {
                let wait = self.wait(a, now)?;
                Some(Paused { account: name.clone(), failures: a.failures, wait })
            })
            .collect();
        out.sort_by(|a, b| b.wait.cmp(&a.wait).then_with(|| a.account.cmp(&b.account)));
        out
    }

    /// How long a stranger must still wait, if at all.
    fn wait(&self, a: &Account, now: Instant) -> Option<Duration> {
        let over = a.failures.checked_sub(self.policy.free_failures).filter(|&n| n > 0)?;
        let delay = self
            .policy
            .first_delay
            .checked_mul(1u32.checked_shl(over - 1).unwrap_or(u32::MAX))
            .unwrap_or(self.policy.max_delay)
            .min(self.policy.max_delay);
        let until = a.last_failure? + delay;
        (until > now).then(|| until - now)
    }

    fn forget_stale(&self, a: &mut Account, now: Instant) {
        if a.last_failure.is_some_and(|t| now.saturating_duration_since(t) >= self.policy.forget_after) {
            a.failures = 0;
            a.last_failure = None;
        }
        a.known.retain(|_, t| now.saturating_duration_since(*t) < self.policy.known_for);
    }

    /// Drops accounts with nothing to remember, then the stalest, until one fits.
    fn make_room(&self, accounts: &mut HashMap<String, Account>, now: Instant) {
        accounts.retain(|_, a| {
            self.forget_stale(a, now);
            a.failures > 0 || !a.known.is_empty()
        });
        while accounts.len() >= self.policy.max_accounts {
            let stalest = accounts
                .iter()
                .min_by_key(|(_, a)| a.last_failure.into_iter().chain(a.known.values().copied()).max())
                .map(|(k, _)| k.clone());
            match stalest {
                Some(k) => accounts.remove(&k),
                None => break,
            };
        }
    }
}

/// A wait as a client is told it: "1 second", "40 seconds" (rounded up).
pub fn seconds(wait: Duration) -> String {
    let n = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if n == 1 { "1 second".to_owned() } else { format!("{n} seconds") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_from_many_addresses_slow_strangers_but_not_the_owner() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        t.record("alice@example.org", ip("192.0.2.1"), Outcome::Success, start);
        // Ten wrong passwords from three addresses (each allowed while under the free count or
        // after its wait), then the fourth address must wait.
        let mut now = start;
        for i in 0..10 {
            let from = ip(&format!("198.51.100.{}", i % 3 + 1));
            if let Verdict::Wait(w) = t.check("ALICE", from, now) {
                now += w;
            }
            assert_eq!(t.check("alice", from, now), Verdict::Allow);
            t.record("alice", from, Outcome::Failure, now);
        }
        let Verdict::Wait(w) = t.check("alice@example.org", ip("203.0.113.9"), now) else {
            panic!("a fourth stranger is let in at once")
        };
        assert_eq!(w, Duration::from_secs(2 << 4), "the wait doubles with each failure past five");
        // The owner's own address is never made to wait.
        assert_eq!(t.check("alice@example.org", ip("192.0.2.1"), now), Verdict::Allow);
        assert_eq!(t.paused(now)[0].account, "alice");
        // After the wait, one more try for strangers; the count forgets after an hour.
        assert_eq!(t.check("alice", ip("203.0.113.9"), now + w), Verdict::Allow);
        assert_eq!(t.check("alice", ip("203.0.113.9"), now + Duration::from_secs(3600)), Verdict::Allow);
    }

    #[test]
    fn the_wait_has_a_ceiling_and_an_administrator_can_lift_it() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..60 {
            t.record("bob", ip("2001:db8::1"), Outcome::Failure, now);
        }
        assert_eq!(t.check("bob", ip("2001:db8::2"), now), Verdict::Wait(Duration::from_secs(900)));
        assert!(t.lift("Bob@example.org"));
        assert_eq!(t.check("bob", ip("2001:db8::2"), now), Verdict::Allow);
        assert!(!t.lift("bob"), "nothing left to lift");
    }

    #[test]
    fn ipv6_clients_are_known_by_their_64() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        t.record("carol", ip("2001:db8:1:2::10"), Outcome::Success, now);
        for _ in 0..8 {
            t.record("carol", ip("198.51.100.7"), Outcome::Failure, now);
        }
        assert_eq!(t.check("carol", ip("2001:db8:1:2:aaaa::99"), now), Verdict::Allow);
        assert!(matches!(t.check("carol", ip("2001:db8:1:3::10"), now), Verdict::Wait(_)));
    }

    #[test]
    fn bounded_in_accounts() {
        let t = LoginThrottle::new(ThrottlePolicy { max_accounts: 3, ..ThrottlePolicy::default() });
        let now = Instant::now();
        for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            t.record(name, ip("192.0.2.1"), Outcome::Failure, now + Duration::from_secs(i as u64));
        }
        assert_eq!(t.lock().len(), 3);
        assert!(t.lock().contains_key("e"));
    }

    #[test]
    fn one_key_however_the_name_is_typed() {
        assert_eq!(account_key(" Alice@Example.org "), "alice");
        assert_eq!(account_key("ALICE"), "alice");
        assert_eq!(account_key("e\u{301}lise"), account_key("\u{e9}lise"));
    }
}
