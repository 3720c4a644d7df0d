//! Keeping the replica current: long-poll pull (agents behind NAT), catch-up on start, on a
//! heartbeat and whenever a gap appears (agents the server pushes to), snapshot bootstrap, and
//! catch-up from peer agents when the server is down or behind.
//!
//! Idle cost is near zero: one reused, pinned HTTPS client for the server and one per peer,
//! one long poll outstanding at a time in pull mode, one request an hour in push mode.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pochta_directory::api::{
    APPLIED_HEADER, AgentFacts, ClientServices, ErrorBody, StatsReport, VERSION_HEADER, path,
};
use pochta_directory::wire::{self, Version, WireError};
use reqwest::StatusCode;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::config::Config;
use crate::replica::{DbError, OfferError, Replica, SnapshotError};

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Push mode with nothing held: how long a failed catch-up may wait before the next try.
const MAX_IDLE_RETRY: Duration = Duration::from_secs(600);
/// On top of the long-poll wait, how long a request may take.
const REQUEST_SLACK: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot reach {0}: {1}")]
    Unreachable(String, reqwest::Error),
    #[error("{0} refused this agent's secret (401): re-enroll the agent")]
    Unauthorized(String),
    #[error("{0} answered {1}: {2}")]
    Status(String, StatusCode, String),
    #[error("{0} sent frames that do not unpack: {1}")]
    Unpack(String, WireError),
    #[error("{0} has no longer the changes after version {1}")]
    Gone(String, Version),
    #[error(transparent)]
    Offer(#[from] OfferError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the snapshot from {0} does not move the replica forward")]
    NoProgress(String),
}

/// The sync loop of one agent.
pub struct Syncer {
    cfg: Arc<Config>,
    replica: Arc<Replica>,
    server: reqwest::Client,
    /// Peer clients by pinned fingerprint.
    peers: Mutex<HashMap<String, reqwest::Client>>,
}

struct Peer {
    url: String,
    pin: String,
}

impl Syncer {
    pub fn new(cfg: Arc<Config>, replica: Arc<Replica>) -> Result<Self, pochta_transport::TransportError> {
        let server = pochta_transport::pinned_client(&cfg.server.tls_sha256)?;
        Ok(Self { cfg, replica, server, peers: Mutex::new(HashMap::new()) })
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if self.cfg.pull {
            self.run_pull(&mut shutdown).await;
        } else {
            self.run_push(&mut shutdown).await;
        }
    }

    /// Pull mode: one long poll after another; on errors, back off and try the peers.
    async fn run_pull(&self, shutdown: &mut watch::Receiver<bool>) {
        let mut backoff = MIN_BACKOFF;
        loop {
            let (started, before) = (Instant::now(), self.replica.version());
            let round = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                r = self.server_round(self.cfg.poll_wait_secs) => r,
            };
            match round {
                Ok(now) => {
                    backoff = MIN_BACKOFF;
                    if self.replica.held() > 0 {
                        self.peers_catch_up_until(shutdown).await;
                    }
                    // A poll that came back at once with nothing new means something between
                    // us and the server does not hold long polls: do not spin.
                    if now == before && started.elapsed() < MIN_BACKOFF && self.cfg.poll_wait_secs > 0 {
                        tokio::select! {
                            _ = shutdown.wait_for(|s| *s) => return,
                            _ = sleep(MIN_BACKOFF) => {}
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "pull from the server failed");
                    self.peers_catch_up_until(shutdown).await;
                    tokio::select! {
                        _ = shutdown.wait_for(|s| *s) => return,
                        _ = sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Push mode: the server pushes; catch up at start, on the heartbeat, when a gap appears,
    /// and (backing off) after a failed round.
    async fn run_push(&self, shutdown: &mut watch::Receiver<bool>) {
        let heartbeat = Duration::from_secs(self.cfg.heartbeat_secs.max(1));
        let mut backoff = MIN_BACKOFF;
        loop {
            let ok = tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                ok = self.catch_up_round() => ok,
            };
            let wake = if ok {
                backoff = MIN_BACKOFF;
                Instant::now() + heartbeat
            } else {
                // A held gap is worth retrying soon; otherwise the server pushes when it is back,
                // so a long-unreachable server costs a request every few minutes at most.
                let cap = if self.replica.held() > 0 { MAX_BACKOFF } else { MAX_IDLE_RETRY };
                let at = Instant::now() + backoff.min(cap).min(heartbeat);
                backoff = (backoff * 2).min(cap);
                at
            };
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = sleep_until(wake) => {}
                _ = self.replica.catch_up_requested() => {}
            }
        }
    }

    /// Catches up from the server, and from peers when the server failed or left a gap.
    /// True when the replica is as current as the server said and nothing is held.
    pub async fn catch_up_round(&self) -> bool {
        let server = self.server_round(0).await;
        if let Err(e) = &server {
            tracing::warn!(error = %e, "catch-up from the server failed");
        }
        if server.is_err() || self.replica.held() > 0 {
            self.peers_catch_up().await;
        }
        server.is_ok() && self.replica.held() == 0
    }

    async fn peers_catch_up_until(&self, shutdown: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => {}
            _ = self.peers_catch_up() => {}
        }
    }

    /// Bootstraps when at version 0, then fetches changes until the server has nothing more.
    /// `wait` is the long-poll time of the first request. Returns the version reached.
    pub async fn server_round(&self, wait: u64) -> Result<Version, SyncError> {
        // A new agent starts from the snapshot, unless the server is known to be empty too.
        if self.replica.version() == Version(0) && self.replica.contact().server_version != Some(Version(0)) {
            self.bootstrap().await?;
        } else if self.replica.snapshot_wanted() {
            // A signed set far beyond us arrived (`replica::SNAPSHOT_HORIZON`): start from the
            // server's snapshot rather than replaying everything in between.
            tracing::info!(version = %self.replica.version(), "a change set beyond the snapshot horizon arrived; fetching a snapshot");
            match self.fetch_snapshot().await {
                Err(e @ SyncError::Unreachable(..)) => return Err(e),
                r => {
                    self.replica.snapshot_answered();
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "the snapshot did not help; catching up from the change log");
                    }
                }
            }
        }
        let mut wait = wait;
        loop {
            let before = self.replica.version();
            match self.fetch_changes(before, wait).await? {
                Fetched::Empty => return Ok(before),
                Fetched::Gone => {
                    tracing::info!(version = %before, "the server no longer has our next changes; bootstrapping");
                    let after = self.fetch_snapshot().await?;
                    if after <= before {
                        return Err(SyncError::NoProgress(self.cfg.server.url.clone()));
                    }
                }
                Fetched::Applied => {
                    let now = self.replica.version();
                    let server = self.replica.contact().server_version.unwrap_or(now);
                    if now <= before || now >= server {
                        return Ok(now);
                    }
                }
            }
            wait = 0;
        }
    }

    /// A new agent starts from the server's snapshot rather than replaying the whole log.
    async fn bootstrap(&self) -> Result<(), SyncError> {
        match self.fetch_snapshot().await {
            Ok(v) => {
                if v > Version(0) {
                    tracing::info!(version = %v, "bootstrapped from the server's snapshot");
                }
                Ok(())
            }
            // The snapshot is an optimisation here: the change log from 0 serves as well.
            Err(e @ (SyncError::Status(..) | SyncError::Snapshot(SnapshotError::Refused(_)))) => {
                tracing::warn!(error = %e, "no snapshot; replaying the change log instead");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// `GET` of `at` (a path under [`path::API`]) from the central server.
    fn server_get(&self, at: &str, timeout: Duration) -> reqwest::RequestBuilder {
        let url = format!("{}{}{at}", self.cfg.server.url.trim_end_matches('/'), path::API);
        self.server
            .get(url)
            .bearer_auth(&self.cfg.server.secret)
            .header(APPLIED_HEADER, self.replica.version().to_string())
            .timeout(timeout)
    }

    async fn fetch_changes(&self, after: Version, wait: u64) -> Result<Fetched, SyncError> {
        let server = &self.cfg.server.url;
        let timeout = Duration::from_secs(wait) + REQUEST_SLACK;
        let resp = self
            .server_get(&format!("{}?after={after}&wait={wait}", path::CHANGES), timeout)
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(server.clone(), e))?;
        let status = resp.status();
        let head = resp
            .headers()
            .get(VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Version);
        match status {
            StatusCode::OK => {}
            StatusCode::GONE => {
                self.replica.note_contact(head).await;
                return Ok(Fetched::Gone);
            }
            StatusCode::UNAUTHORIZED => return Err(SyncError::Unauthorized(server.clone())),
            s => return Err(SyncError::Status(server.clone(), s, error_text(resp).await)),
        }
        let body = resp.bytes().await.map_err(|e| SyncError::Unreachable(server.clone(), e))?;
        self.replica.note_contact(head).await;
        if body.is_empty() {
            return Ok(Fetched::Empty);
        }
        let frames = wire::unpack(&body).map_err(|e| SyncError::Unpack(server.clone(), e))?;
        let n = frames.len();
        let offered = self.replica.offer(&frames).await?;
        tracing::debug!(frames = n, version = %offered.version, held = offered.held, "fetched changes from the server");
        Ok(Fetched::Applied)
    }

    async fn fetch_snapshot(&self) -> Result<Version, SyncError> {
        let server = &self.cfg.server.url;
        let resp = self
            .server_get(path::SNAPSHOT, Duration::from_secs(600))
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(server.clone(), e))?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(SyncError::Unauthorized(server.clone())),
            s => return Err(SyncError::Status(server.clone(), s, error_text(resp).await)),
        }
        let body = resp.bytes().await.map_err(|e| SyncError::Unreachable(server.clone(), e))?;
        self.replica.note_contact(None).await;
        Ok(self.replica.install_snapshot(&body).await?)
    }

    /// Every other agent of the deployment that can be reached, from the replica's directory.
    fn peers(&self) -> Vec<Peer> {
        let dir = self.replica.directory();
        let own = self.cfg.advertise_url.trim_end_matches('/');
        let mut peers: Vec<Peer> = Vec::new();
        for a in dir.sites.values().flat_map(|s| s.agents.iter()) {
            let url = a.url.trim_end_matches('/');
            if a.id == self.cfg.agent_id || url.is_empty() || a.tls_sha256.is_empty() || url == own {
                continue;
            }
            if peers.iter().all(|p| p.url != url) {
                peers.push(Peer { url: url.to_owned(), pin: a.tls_sha256.to_ascii_lowercase() });
            }
        }
        peers
    }

    fn peer_client(&self, pin: &str) -> Option<reqwest::Client> {
        let mut peers = self.peers.lock().expect("the peer client lock is never poisoned");
        if let Some(c) = peers.get(pin) {
            return Some(c.clone());
        }
        match pochta_transport::pinned_client(pin) {
            Ok(c) => {
                peers.insert(pin.to_owned(), c.clone());
                Some(c)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot make a client for a peer");
                None
            }
        }
    }

    /// Asks each peer in turn for what it has after our version. Returns whether the replica
    /// moved forward.
    pub async fn peers_catch_up(&self) -> bool {
        let start = self.replica.version();
        for peer in self.peers() {
            match self.catch_up_from_peer(&peer).await {
                Ok(()) => {}
                Err(e) => tracing::info!(peer = %peer.url, error = %e, "catch-up from a peer failed"),
            }
        }
        let end = self.replica.version();
        if end > start {
            tracing::info!(from = %start, to = %end, "caught up from peers");
        }
        end > start
    }

    async fn catch_up_from_peer(&self, peer: &Peer) -> Result<(), SyncError> {
        let Some(client) = self.peer_client(&peer.pin) else { return Ok(()) };
        loop {
            let before = self.replica.version();
            let resp = client
                .get(format!("{}{}?after={before}", peer.url, path::CHANGES))
                .bearer_auth(&self.cfg.peer_secret)
                .timeout(REQUEST_SLACK)
                .send()
                .await
                .map_err(|e| SyncError::Unreachable(peer.url.clone(), e))?;
            match resp.status() {
                StatusCode::OK => {}
                StatusCode::GONE => return Err(SyncError::Gone(peer.url.clone(), before)),
                StatusCode::UNAUTHORIZED => return Err(SyncError::Unauthorized(peer.url.clone())),
                s => return Err(SyncError::Status(peer.url.clone(), s, error_text(resp).await)),
            }
            let body = resp.bytes().await.map_err(|e| SyncError::Unreachable(peer.url.clone(), e))?;
            if body.is_empty() {
                return Ok(());
            }
            let frames = wire::unpack(&body).map_err(|e| SyncError::Unpack(peer.url.clone(), e))?;
            self.replica.offer(&frames).await?;
            if self.replica.version() <= before {
                return Ok(());
            }
        }
    }
}

enum Fetched {
    /// Nothing new (the long poll timed out, or we are current).
    Empty,
    /// Frames were offered.
    Applied,
    /// 410: bootstrap from the snapshot.
    Gone,
}

/// The `error` of a JSON error body, or the start of whatever the body was.
async fn error_text(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    serde_json::from_str::<ErrorBody>(&text).map_or_else(|_| text.chars().take(200).collect(), |e| e.error)
}

/// Reports the counters to the central server every `stats_secs` when they changed, and at
/// least once per heartbeat (so the dashboard knows the agent is idle, not gone); every
/// [`MOVE_REPORT`] while a mailbox move goes on. One small request each time; a failed report
/// is simply superseded by the next.
pub struct StatsReporter {
    cfg: Arc<Config>,
    client: reqwest::Client,
    counters: Arc<crate::metrics::Counters>,
    queue_len: Arc<dyn Fn() -> usize + Send + Sync>,
    moves: crate::mailbox_move::Progress,
    /// What mail clients connect to; sent until one report carrying it is taken.
    services: Option<ClientServices>,
    /// The bytes in each mailbox of this site, by folded user name (reads Maildirs).
    mailbox_sizes: Option<MailboxSizes>,
    /// The door, whose scanners' failures the server's dashboard shows.
    door: Option<Arc<crate::door::Door>>,
    /// The data folder, whose free space the facts report.
    data: Option<std::path::PathBuf>,
    /// The facts to send (version, disk), until a report carrying them is taken.
    facts: Option<AgentFacts>,
}

/// The agent's facts (version, free disk) are sent again this often.
const FACTS_EVERY: Duration = Duration::from_secs(3600);

/// The software version and the room left on the file system of `dir`.
fn facts_of(dir: &std::path::Path) -> AgentFacts {
    let (free, total) = rustix::fs::statvfs(dir)
        .map(|s| (s.f_bavail.saturating_mul(s.f_frsize), s.f_blocks.saturating_mul(s.f_frsize)))
        .unwrap_or((0, 0));
    AgentFacts { version: env!("CARGO_PKG_VERSION").to_owned(), disk_free: free, disk_total: total }
}

/// While a mailbox move goes on, its progress is reported this often (the dashboard shows it live).
pub const MOVE_REPORT: Duration = Duration::from_secs(2);

/// Mailbox sizes are measured (Maildirs read) after a delivery here, and otherwise (letters
/// deleted by their owners) at least this often; counters go more often.
const SIZES_EVERY: Duration = Duration::from_secs(300);

/// Measures every mailbox of the site: `Deliverer::mailbox_sizes`.
pub type MailboxSizes = Arc<dyn Fn() -> BTreeMap<String, u64> + Send + Sync>;

impl StatsReporter {
    pub fn new(
        cfg: Arc<Config>,
        counters: Arc<crate::metrics::Counters>,
        queue_len: Arc<dyn Fn() -> usize + Send + Sync>,
        moves: crate::mailbox_move::Progress,
    ) -> Result<Self, pochta_transport::TransportError> {
        let client = pochta_transport::pinned_client(&cfg.server.tls_sha256)?;
        Ok(Self {
            cfg,
            client,
            counters,
            queue_len,
            moves,
            services: None,
            mailbox_sizes: None,
            door: None,
            data: None,
            facts: None,
        })
    }

    /// Reports `services` (what mail clients connect to) until a report carrying them is taken.
    pub fn with_services(self, services: ClientServices) -> Self {
        Self { services: Some(services), ..self }
    }

    /// Reports the agent's facts too: its version and the free space of `data` (hourly).
    pub fn with_data_dir(self, data: std::path::PathBuf) -> Self {
        Self { data: Some(data), ..self }
    }

    /// Reports the door's warnings too (a scanner out).
    pub fn with_door(self, door: Option<Arc<crate::door::Door>>) -> Self {
        Self { door, ..self }
    }

    /// Reports mailbox sizes too: all of them in the first report, then those that changed.
    pub fn with_mailbox_sizes(self, sizes: MailboxSizes) -> Self {
        Self { mailbox_sizes: Some(sizes), ..self }
    }

    /// The current mailbox sizes, read off the async threads; empty without a source.
    async fn measure(&self) -> BTreeMap<String, u64> {
        let Some(f) = self.mailbox_sizes.clone() else { return BTreeMap::new() };
        tokio::task::spawn_blocking(move || f()).await.unwrap_or_default()
    }

    pub fn report(&self) -> StatsReport {
        let c = self.counters.snapshot();
        StatsReport {
            received: c.received,
            accepted: c.accepted,
            delivered: c.delivered,
            sent: c.sent,
            queue: (self.queue_len)() as u64,
            moved_out: c.moved_out,
            moved_in: c.moved_in,
            mailbox_moves: self.moves.list(),
            services: self.services.clone(),
            mailbox_sizes: Default::default(),
            refused: c.rejected,
            warnings: self.warnings(),
            facts: self.facts.clone(),
        }
    }

    /// What the dashboard should warn about: the door's scanners, DKIM signing.
    fn warnings(&self) -> Vec<pochta_directory::api::AgentWarning> {
        let mut w = self.door.as_ref().map(|d| d.alerts()).unwrap_or_default();
        if let Some((since, error)) = self.counters.signing_failure.lock().expect("not poisoned").clone() {
            w.push(pochta_directory::api::AgentWarning::SigningFailing {
                since,
                send_unsigned: self.cfg.delivery.send_unsigned_on_dkim_failure,
                error,
            });
        }
        w
    }

    /// Sends one report.
    pub async fn send(&self, report: &StatsReport) -> Result<(), SyncError> {
        let server = &self.cfg.server.url;
        let url = format!("{}{}{}", server.trim_end_matches('/'), path::API, path::STATS);
        let resp = self
            .client
            .post(url)
            .bearer_auth(&self.cfg.server.secret)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(report).expect("a report serialises"))
            .timeout(REQUEST_SLACK)
            .send()
            .await
            .map_err(|e| SyncError::Unreachable(server.clone(), e))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => Err(SyncError::Unauthorized(server.clone())),
            s => Err(SyncError::Status(server.clone(), s, error_text(resp).await)),
        }
    }

    /// Runs until `shutdown` turns true. The first report goes at once: counters start at zero
    /// with the process, and the server needs that base to count the first interval (and to
    /// see the restart) rather than take what came before the first report as history. A
    /// mailbox move starting or ending sends a report at once, not at the next tick.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let every = Duration::from_secs(self.cfg.stats_secs.max(1));
        let heartbeat = Duration::from_secs(self.cfg.heartbeat_secs.max(1)).max(every);
        let mut last: Option<(StatsReport, Instant)> = None;
        // The sizes the server has: until a report got through, none (so the first has all).
        let mut reported: BTreeMap<String, u64> = BTreeMap::new();
        // When the sizes were last measured and reported, and the deliveries counted then.
        let mut measured: Option<(Instant, u64)> = None;
        // When the facts last got through.
        let mut facts_sent: Option<Instant> = None;
        loop {
            if let Some(dir) = &self.data
                && self.facts.is_none()
                && facts_sent.is_none_or(|at| at.elapsed() >= FACTS_EVERY)
            {
                let dir = dir.clone();
                self.facts = tokio::task::spawn_blocking(move || facts_of(&dir)).await.ok();
            }
            let report = self.report();
            let measure_now = measured.is_none_or(|(at, delivered)| {
                at.elapsed() >= SIZES_EVERY || delivered != report.delivered || reported.is_empty()
            });
            let sizes = if measure_now { self.measure().await } else { reported.clone() };
            let changed: BTreeMap<String, u64> = sizes
                .iter()
                .filter(|(u, n)| reported.get(*u) != Some(n))
                .map(|(u, n)| (u.clone(), *n))
                .collect();
            let due = match &last {
                None => true,
                Some((prev, at)) => *prev != report || !changed.is_empty() || at.elapsed() >= heartbeat,
            };
            if due {
                let with_sizes = StatsReport { mailbox_sizes: changed, ..report.clone() };
                match self.send(&with_sizes).await {
                    Ok(()) => {
                        // The server keeps the services it was told, and the ended moves: not
                        // sent again.
                        self.services = None;
                        if self.facts.take().is_some() {
                            facts_sent = Some(Instant::now());
                        }
                        self.moves.taken(&report.mailbox_moves);
                        let report = StatsReport {
                            services: None,
                            facts: None,
                            mailbox_moves: report
                                .mailbox_moves
                                .into_iter()
                                .filter(|m| m.ended.is_none())
                                .collect(),
                            ..report
                        };
                        if measure_now {
                            measured = Some((Instant::now(), report.delivered));
                        }
                        last = Some((report, Instant::now()));
                        reported = sizes;
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "stats report not delivered; the next one supersedes it")
                    }
                }
            }
            let tick = if self.moves.running() { every.min(MOVE_REPORT) } else { every };
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => return,
                _ = sleep(tick) => {}
                _ = self.moves.started_or_ended() => {}
            }
        }
    }
}
