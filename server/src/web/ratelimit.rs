//! The web login's two guards. Per account, the deployment's one policy
//! (`pochta_directory::LoginThrottle`, the same as every agent's for SMTP AUTH and IMAP):
//! failures from anywhere make strangers wait, doubling, while the address the account last
//! logged in from is never made to wait — a stranger cannot lock the owner out. Per client
//! address, a sliding window here: one address failing for many accounts is refused for all.
//! Kept in memory: a restart forgets the counts, which only ever helps a legitimate user.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pochta_directory::{LoginOutcome, LoginThrottle, LoginVerdict};

use super::session::Ctx;

/// Failed logins allowed per client address within `WINDOW_SECS`.
pub const PER_CLIENT: usize = 20;
pub const WINDOW_SECS: i64 = 15 * 60;
/// Entries kept at most; the oldest are forgotten first when full.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct Guards {
    accounts: LoginThrottle,
    clients: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

/// A client the request does not name is a stranger everywhere.
fn ip(client: Option<IpAddr>) -> IpAddr {
    client.unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

impl Guards {
    /// How long `client` must wait before it may try a password for `account`, if at all.
    pub fn wait(&self, account: &str, client: Option<IpAddr>, now: i64) -> Option<Duration> {
        if let LoginVerdict::Wait(w) = self.accounts.check(account, ip(client), Instant::now()) {
            return Some(w);
        }
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let times = map.get_mut(&ip(client))?;
        times.retain(|t| now - t < WINDOW_SECS);
        (times.len() >= PER_CLIENT)
            .then(|| Duration::from_secs((times[times.len() - PER_CLIENT] + WINDOW_SECS - now).max(1) as u64))
    }

    pub fn failed(&self, account: &str, client: Option<IpAddr>, now: i64) {
        self.accounts.record(account, ip(client), LoginOutcome::Failure, Instant::now());
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS {
            map.retain(|_, times| times.iter().any(|t| now - t < WINDOW_SECS));
        }
        if map.len() < MAX_KEYS || map.contains_key(&ip(client)) {
            map.entry(ip(client)).or_default().push(now);
        }
    }

    /// Accounts strangers must wait for now, longest wait first.
    pub fn paused_accounts(&self) -> Vec<pochta_directory::login_throttle::Paused> {
        self.accounts.paused(Instant::now())
    }

    /// Client addresses refused for every account now, with how long they still wait.
    pub fn blocked_clients(&self, now: i64) -> Vec<(IpAddr, Duration)> {
        let mut map = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(IpAddr, Duration)> = map
            .iter_mut()
            .filter_map(|(ip, times)| {
                times.retain(|t| now - t < WINDOW_SECS);
                (times.len() >= PER_CLIENT).then(|| {
                    (
                        *ip,
                        Duration::from_secs(
                            (times[times.len() - PER_CLIENT] + WINDOW_SECS - now).max(1) as u64
                        ),
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    /// An administrator ends an account's pause; `true` when there was one.
    pub fn lift_account(&self, account: &str) -> bool {
        self.accounts.lift(account)
    }

    /// An administrator lets a client address try again; `true` when it was blocked.
    pub fn lift_client(&self, client: IpAddr) -> bool {
        self.clients.lock().unwrap_or_else(|e| e.into_inner()).remove(&client).is_some()
    }

    /// A successful login clears the account's count and makes `client` known for it.
    pub fn succeeded(&self, account: &str, client: Option<IpAddr>) {
        self.accounts.record(account, ip(client), LoginOutcome::Success, Instant::now());
    }
}

/// "Try again in 40 seconds" / "in 15 minutes", in the page's language.
pub fn wait_message(ctx: &Ctx, wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if secs < 60 {
        ctx.t1("login-too-many-seconds", "seconds", secs.max(1))
    } else {
        ctx.t1("login-too-many", "minutes", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_wait_the_owner_does_not_and_one_client_is_limited_for_all() {
        let g = Guards::default();
        let owner: Option<IpAddr> = Some("192.0.2.1".parse().unwrap());
        let stranger: Option<IpAddr> = Some("198.51.100.1".parse().unwrap());
        g.succeeded("ivanov@example.org", owner);
        for _ in 0..6 {
            assert_eq!(g.wait("ivanov", stranger, 1000), None);
            g.failed("Ivanov@example.org", stranger, 1000);
        }
        assert!(g.wait("ivanov@example.org", stranger, 1000).is_some());
        assert_eq!(g.wait("ivanov@example.org", owner, 1000), None);
        for i in 0..PER_CLIENT {
            g.failed(&format!("user{i}"), stranger, 1001);
        }
        assert!(g.wait("sidorov", stranger, 1002).is_some());
        assert_eq!(g.wait("sidorov", Some("192.0.2.2".parse().unwrap()), 1002), None);
    }
}
