//! Greylisting (the paper's level 0 ran it): the first letter of a triplet — the client's
//! network (/24 for IPv4, /64 for IPv6, since big senders retry from another address of the
//! same pool), the envelope sender and the recipient — is deferred with `451 4.7.1`; a retry
//! after the delay and within the window passes, and so does that triplet from then on. A
//! network whose triplets passed `whitelist_after` times passes at once.
//!
//! The state is this agent's own (every door sees different clients), never replicated. It
//! lives in memory for the RCPT answer, which must not wait for a disk, and is written behind
//! to SQLite (`greylist.db`) by one task, so it survives restarts; losing the last moments of it
//! in a crash costs a sender one more retry, never a letter. It is bounded: entries past their
//! time are forgotten, and beyond `max_entries` the oldest go first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use ipnet::IpNet;
use pochta_directory::Address;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::mpsc;

use crate::config::GreylistConfig;

/// The answer for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pass,
    /// Deferred: try again in this many seconds (at the earliest).
    Defer {
        retry_in: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Triplet {
    first: i64,
    last: i64,
    passed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Network {
    passes: u32,
    last: i64,
}

#[derive(Default)]
struct State {
    triplets: HashMap<String, Triplet>,
    networks: HashMap<String, Network>,
}

/// A change for the write-behind task.
enum Op {
    Triplet(String, Triplet),
    Network(String, Network),
    Forget { triplets: Vec<String>, before: i64 },
}

pub struct Greylist {
    cfg: GreylistConfig,
    exempt_networks: Vec<IpNet>,
    state: Mutex<State>,
    writes: mpsc::UnboundedSender<Op>,
}

impl std::fmt::Debug for Greylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Greylist").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GreylistError {
    #[error("[door.greylist] exempt_networks: {0:?} is not a network (e.g. 192.0.2.0/24)")]
    Network(String),
    #[error("the greylist database {0}: {1}")]
    Db(String, sqlx::Error),
}

/// The client's network as greylisting sees it.
pub fn network(ip: IpAddr) -> String {
    let ip = ip.to_canonical();
    let net = match ip {
        IpAddr::V4(_) => IpNet::new(ip, 24),
        IpAddr::V6(_) => IpNet::new(ip, 64),
    };
    net.expect("24 and 64 are valid prefixes").trunc().to_string()
}

impl Greylist {
    /// Opens (or creates) `path` and loads what it holds.
    pub async fn open(path: &Path, cfg: GreylistConfig) -> Result<Greylist, GreylistError> {
        let exempt_networks = cfg
            .exempt_networks
            .iter()
            .map(|s| {
                IpNet::from_str(s)
                    .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                    .map_err(|_| GreylistError::Network(s.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let shown = path.display().to_string();
        let db = |e| GreylistError::Db(shown.clone(), e);
        // Write-behind state: WAL and no fsync per batch; a crash loses at most a retry.
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await.map_err(db)?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS triplets (key TEXT PRIMARY KEY, first INTEGER NOT NULL, last INTEGER NOT NULL, passed INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS networks (net TEXT PRIMARY KEY, passes INTEGER NOT NULL, last INTEGER NOT NULL)",
        ] {
            sqlx::query(ddl).execute(&pool).await.map_err(db)?;
        }
        let mut state = State::default();
        let now = crate::clock::unix_now();
        let rows: Vec<(String, i64, i64, i64)> =
            sqlx::query_as("SELECT key, first, last, passed FROM triplets ORDER BY last DESC LIMIT $1")
                .bind(cfg.max_entries as i64)
                .fetch_all(&pool)
                .await
                .map_err(db)?;
        for (key, first, last, passed) in rows {
            let t = Triplet { first, last, passed: passed != 0 };
            if !expired(&cfg, &t, now) {
                state.triplets.insert(key, t);
            }
        }
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT net, passes, last FROM networks ORDER BY last DESC LIMIT $1")
                .bind(cfg.max_entries as i64)
                .fetch_all(&pool)
                .await
                .map_err(db)?;
        for (net, passes, last) in rows {
            if now - last <= cfg.pass_ttl_secs as i64 {
                state.networks.insert(net, Network { passes: passes as u32, last });
            }
        }
        tracing::info!(triplets = state.triplets.len(), networks = state.networks.len(), "greylist loaded");
        let (writes, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(pool, rx));
        Ok(Greylist { cfg, exempt_networks, state: Mutex::new(state), writes })
    }

    /// The answer for a letter from `from` to `rcpt` sent from `ip`, now.
    pub fn check(&self, ip: IpAddr, from: Option<&Address>, rcpt: &Address) -> Decision {
        self.check_at(ip, from, rcpt, crate::clock::unix_now())
    }

    fn exempt(&self, ip: IpAddr, from: Option<&Address>) -> bool {
        let ip = ip.to_canonical();
        self.exempt_networks.iter().any(|n| n.contains(&ip))
            || from.is_some_and(|a| {
                let d = a.domain().to_string();
                self.cfg.exempt_domains.iter().any(|e| {
                    let e = e.trim_start_matches('.');
                    d.eq_ignore_ascii_case(e)
                        || d.to_ascii_lowercase().ends_with(&format!(".{}", e.to_ascii_lowercase()))
                })
            })
    }

    fn check_at(&self, ip: IpAddr, from: Option<&Address>, rcpt: &Address, now: i64) -> Decision {
        if self.exempt(ip, from) {
            return Decision::Pass;
        }
        let net = network(ip);
        let key = format!(
            "{net}|{}|{}",
            from.map(|a| a.to_string().to_lowercase()).unwrap_or_default(),
            rcpt.to_string().to_lowercase()
        );
        let mut st = self.state.lock().expect("not poisoned");
        if st.networks.get(&net).is_some_and(|n| {
            n.passes >= self.cfg.whitelist_after && now - n.last <= self.cfg.pass_ttl_secs as i64
        }) {
            return Decision::Pass;
        }
        let delay = self.cfg.delay_secs as i64;
        let t = match st.triplets.get(&key) {
            Some(t) if !expired(&self.cfg, t, now) => *t,
            _ => {
                let t = Triplet { first: now, last: now, passed: false };
                st.triplets.insert(key.clone(), t);
                let _ = self.writes.send(Op::Triplet(key, t));
                self.bound(&mut st, now);
                return Decision::Defer { retry_in: delay.max(1) as u64 };
            }
        };
        if !t.passed && now - t.first < delay {
            return Decision::Defer { retry_in: (delay - (now - t.first)).max(1) as u64 };
        }
        let newly = !t.passed;
        let t = Triplet { last: now, passed: true, ..t };
        st.triplets.insert(key.clone(), t);
        let _ = self.writes.send(Op::Triplet(key, t));
        if newly {
            let n = st.networks.entry(net.clone()).or_insert(Network { passes: 0, last: now });
            n.passes += 1;
            n.last = now;
            let n = *n;
            let _ = self.writes.send(Op::Network(net, n));
        }
        Decision::Pass
    }

    /// Beyond `max_entries`: forget what is past its time, then the oldest tenth.
    fn bound(&self, st: &mut State, now: i64) {
        if st.triplets.len() <= self.cfg.max_entries {
            return;
        }
        let mut gone: Vec<String> =
            st.triplets.iter().filter(|(_, t)| expired(&self.cfg, t, now)).map(|(k, _)| k.clone()).collect();
        if st.triplets.len() - gone.len() > self.cfg.max_entries {
            let mut by_age: Vec<(i64, &String)> = st.triplets.iter().map(|(k, t)| (t.last, k)).collect();
            by_age.sort_unstable();
            let n = (self.cfg.max_entries / 10).max(1);
            gone.extend(by_age.into_iter().take(n).map(|(_, k)| k.clone()));
        }
        for k in &gone {
            st.triplets.remove(k);
        }
        st.networks.retain(|_, n| now - n.last <= self.cfg.pass_ttl_secs as i64);
        let before = now - self.cfg.pass_ttl_secs as i64;
        let _ = self.writes.send(Op::Forget { triplets: gone, before });
    }

    /// Triplets and networks held now (for the tests and the log).
    pub fn len(&self) -> (usize, usize) {
        let st = self.state.lock().expect("not poisoned");
        (st.triplets.len(), st.networks.len())
    }
}

/// A triplet not retried within the window, or passed and unused for the pass lifetime.
fn expired(cfg: &GreylistConfig, t: &Triplet, now: i64) -> bool {
    if t.passed { now - t.last > cfg.pass_ttl_secs as i64 } else { now - t.first > cfg.window_secs as i64 }
}

/// Writes changes in batches: whatever arrived while the last batch was written goes in one
/// transaction.
async fn write_behind(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<Op>) {
    while let Some(op) = rx.recv().await {
        let mut batch = vec![op];
        while let Ok(op) = rx.try_recv() {
            batch.push(op);
        }
        if let Err(e) = write_batch(&pool, batch).await {
            tracing::warn!(error = %e, "the greylist could not be saved; it is still in force in memory");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    pool.close().await;
}

async fn write_batch(pool: &SqlitePool, batch: Vec<Op>) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for op in batch {
        match op {
            Op::Triplet(key, t) => {
                sqlx::query(
                    "INSERT INTO triplets (key, first, last, passed) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET first = excluded.first, last = excluded.last, passed = excluded.passed",
                )
                .bind(key)
                .bind(t.first)
                .bind(t.last)
                .bind(t.passed as i64)
                .execute(&mut *tx)
                .await?;
            }
            Op::Network(net, n) => {
                sqlx::query(
                    "INSERT INTO networks (net, passes, last) VALUES ($1, $2, $3) \
                     ON CONFLICT (net) DO UPDATE SET passes = excluded.passes, last = excluded.last",
                )
                .bind(net)
                .bind(n.passes as i64)
                .bind(n.last)
                .execute(&mut *tx)
                .await?;
            }
            Op::Forget { triplets, before } => {
                for key in triplets {
                    sqlx::query("DELETE FROM triplets WHERE key = $1").bind(key).execute(&mut *tx).await?;
                }
                sqlx::query("DELETE FROM networks WHERE last < $1").bind(before).execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GreylistConfig {
        GreylistConfig {
            enabled: true,
            delay_secs: 300,
            window_secs: 86400,
            whitelist_after: 2,
            ..Default::default()
        }
    }

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[tokio::test]
    async fn a_triplet_passes_after_the_delay_and_a_network_after_n_passes() {
        let dir = tempfile::tempdir().unwrap();
        let g = Greylist::open(&dir.path().join("g.db"), cfg()).await.unwrap();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (from, to) = (addr("a@out.example"), addr("ivan@example.org"));
        let t0 = 1_000_000;
        assert_eq!(g.check_at(ip, Some(&from), &to, t0), Decision::Defer { retry_in: 300 });
        assert_eq!(g.check_at(ip, Some(&from), &to, t0 + 100), Decision::Defer { retry_in: 200 });
        // Another address of the same /24 is the same client.
        let next: IpAddr = "192.0.2.200".parse().unwrap();
        assert_eq!(g.check_at(next, Some(&from), &to, t0 + 301), Decision::Pass);
        assert_eq!(g.check_at(ip, Some(&from), &to, t0 + 5000), Decision::Pass);
        // A retry after the window starts over.
        let late = addr("b@out.example");
        assert!(matches!(g.check_at(ip, Some(&late), &to, t0), Decision::Defer { .. }));
        assert!(matches!(g.check_at(ip, Some(&late), &to, t0 + 86401), Decision::Defer { .. }));
        assert_eq!(g.check_at(ip, Some(&late), &to, t0 + 86401 + 300), Decision::Pass);
        // Two passes whitelisted the network: a new triplet passes at once.
        assert_eq!(g.check_at(ip, None, &addr("olga@example.org"), t0 + 90000), Decision::Pass);
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(matches!(g.check_at(other, None, &to, t0 + 90000), Decision::Defer { .. }));
    }

    #[tokio::test]
    async fn exempt_networks_and_domains_pass_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let exempt = GreylistConfig {
            exempt_networks: vec!["10.0.0.0/8".into(), "2001:db8::1".into()],
            exempt_domains: vec!["partner.example".into()],
            ..cfg()
        };
        let g = Greylist::open(&dir.path().join("g.db"), exempt).await.unwrap();
        let to = addr("ivan@example.org");
        assert_eq!(g.check_at("10.1.2.3".parse().unwrap(), None, &to, 1), Decision::Pass);
        assert_eq!(g.check_at("2001:db8::1".parse().unwrap(), None, &to, 1), Decision::Pass);
        let from = addr("x@mail.partner.example");
        assert_eq!(g.check_at("192.0.2.1".parse().unwrap(), Some(&from), &to, 1), Decision::Pass);
        let bad = GreylistConfig { exempt_networks: vec!["not a net".into()], ..cfg() };
        assert!(matches!(
            Greylist::open(&dir.path().join("h.db"), bad).await,
            Err(GreylistError::Network(_))
        ));
    }

    #[tokio::test]
    async fn the_state_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let g = Greylist::open(&dir.path().join("g.db"), GreylistConfig { max_entries: 100, ..cfg() })
            .await
            .unwrap();
        let to = addr("ivan@example.org");
        for i in 0..1000 {
            let from = addr(&format!("s{i}@out.example"));
            g.check_at("192.0.2.1".parse().unwrap(), Some(&from), &to, 1000 + i);
        }
        assert!(g.len().0 <= 100, "{:?}", g.len());
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network("192.0.2.77".parse().unwrap()), "192.0.2.0/24");
        assert_eq!(network("2001:db8:1:2:3::4".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(network("::ffff:192.0.2.9".parse().unwrap()), "192.0.2.0/24");
    }
}
