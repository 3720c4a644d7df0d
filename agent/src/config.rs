//! `agent.toml`: what enrollment learned and how this agent runs.
//!
//! The data directory holds everything of one agent: `agent.toml` (this file, with secrets, so
//! it is written mode 0600), `tls.crt`/`tls.key` (the agent's own pinned identity) and
//! `replica.db`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pochta_directory::wire::{DeploymentId, Verifier, WireError};
use pochta_directory::{Domain, Level, SiteId};
use serde::{Deserialize, Serialize};

pub const CONFIG_FILE: &str = "agent.toml";
pub const REPLICA_FILE: &str = "replica.db";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} does not exist: enroll this agent first (`pochta-agent enroll --data {1}`)")]
    Missing(String, String),
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
    #[error("{0} is not a valid agent configuration: {1}")]
    Parse(String, toml::de::Error),
    #[error("the verify key in {0} is invalid: {1}")]
    VerifyKey(String, WireError),
}

/// How this agent reaches the central server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLink {
    /// `https://host:port` of the central server.
    pub url: String,
    /// SHA-256 of the server's TLS certificate: the only certificate this agent trusts there.
    pub tls_sha256: String,
    /// Bearer secret of this agent at the server.
    pub secret: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub agent_id: String,
    pub site: SiteId,
    /// The level the server gave at enrollment; the directory's site record wins when present.
    pub level: Level,
    /// Where the HTTPS endpoint listens (`127.0.0.1:7443`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// How the server and peers reach this agent, or empty when it only pulls.
    #[serde(default)]
    pub advertise_url: String,
    /// Behind NAT: long-poll the server instead of waiting for pushes.
    #[serde(default)]
    pub pull: bool,
    /// Push mode: catch up with the server this often even when nothing was pushed.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
    /// Pull mode: how long one long poll waits for changes.
    #[serde(default = "default_poll_wait")]
    pub poll_wait_secs: u64,
    /// `/status` reports the replica stale after this long without contact with the server.
    #[serde(default = "default_stale_after")]
    pub stale_after_secs: u64,
    /// Report the mail counters and the queue size to the server (`POST /api/v1/sync/stats`)
    /// this often when they changed, and at least once per heartbeat; 0 turns reporting off.
    /// One small request per report: every 10 minutes is about 30 KB a day.
    #[serde(default = "default_stats")]
    pub stats_secs: u64,
    pub deployment: DeploymentId,
    pub domain: Domain,
    /// Hex Ed25519 public key that signs every change set and snapshot of the deployment.
    pub verify_key: String,
    /// Bearer secret shared by the deployment's agents for `GET /sync/changes`.
    pub peer_secret: String,
    pub server: ServerLink,
    /// The durable queue (`[queue]`).
    #[serde(default)]
    pub queue: QueueConfig,
    /// Delivery: Maildir, other sites, the outside world (`[delivery]`).
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The SMTP service (`[smtp]`); without it, no SMTP listener runs.
    #[serde(default)]
    pub smtp: SmtpConfig,
    /// IMAP and POP3 through the agent's own Dovecot (`[imap]`); without a listener there,
    /// none runs.
    #[serde(default, skip_serializing_if = "ImapConfig::is_off")]
    pub imap: ImapConfig,
    /// Password guessing (`[logins]`): one throttle per account for SMTP AUTH, IMAP and POP3.
    #[serde(default)]
    pub logins: LoginsConfig,
    /// Checks on mail from outside before the 250 (`[door]`): spam, viruses, greylisting.
    #[serde(default, skip_serializing_if = "DoorConfig::is_off")]
    pub door: DoorConfig,
    /// The resolver the door asks (`[dns]`): the system's, or these servers.
    #[serde(default, skip_serializing_if = "DnsConfig::is_default")]
    pub dns: DnsConfig,
}

/// `[dns]`: where the agent's look-ups for SPF, DKIM and DMARC go.
///
/// ```toml
/// [dns]
/// servers = ["127.0.0.1:53"]   # e.g. a local caching resolver; empty: /etc/resolv.conf
/// timeout_secs = 5
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DnsConfig {
    pub servers: Vec<SocketAddr>,
    pub timeout_secs: f64,
    /// DNSKEY records (zone-file lines) to trust for DNSSEC, which DANE needs; empty: the DNS
    /// root's key built into the resolver.
    pub dnssec_trust_anchor: PathBuf,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self { servers: Vec::new(), timeout_secs: 5.0, dnssec_trust_anchor: PathBuf::new() }
    }
}

impl DnsConfig {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// `[imap]`: the listeners of the Dovecot this agent runs for its site's mailboxes.
///
/// ```toml
/// [imap]
/// imap = "0.0.0.0:143"       # STARTTLS, then login
/// imaps = "0.0.0.0:993"      # implicit TLS
/// pop3 = "0.0.0.0:110"       # STARTTLS (STLS), then login
/// pop3s = "0.0.0.0:995"      # implicit TLS
/// host = "mail.msk.example.org"   # the name mail clients are told to use
/// ```
///
/// Port 0 picks a free port when the agent starts (the demo and the tests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImapConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imaps: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop3: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop3s: Option<SocketAddr>,
    /// The server name users put into their mail clients. Empty: the `[smtp]` hostname, else
    /// `<site>.<domain>`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The Dovecot binary.
    pub dovecot: PathBuf,
    /// When the agent runs as root: the system user Dovecot reads and writes mailboxes as
    /// (Dovecot never serves mail as root). The agent gives every mailbox to this user.
    pub mail_user: String,
    /// Password checks (Argon2id, 19 MiB each) running at once: Dovecot's auth workers.
    pub max_concurrent_auth: usize,
    /// Connections one user may keep open from one address.
    pub max_connections_per_user: usize,
}

impl Default for ImapConfig {
    fn default() -> Self {
        Self {
            imap: None,
            imaps: None,
            pop3: None,
            pop3s: None,
            host: String::new(),
            dovecot: PathBuf::from("/usr/sbin/dovecot"),
            mail_user: "mail".into(),
            max_concurrent_auth: 4,
            max_connections_per_user: 20,
        }
    }
}

impl ImapConfig {
    /// Whether no IMAP or POP3 listener is configured.
    pub fn is_off(&self) -> bool {
        [self.imap, self.imaps, self.pop3, self.pop3s].iter().all(Option::is_none)
    }
}

/// `[smtp]`: listeners, the name the agent gives, and the limits.
///
/// ```toml
/// [smtp]
/// listen = "0.0.0.0:25"          # port-25 role: inbound MX and peer agents (STARTTLS offered)
/// submission = "0.0.0.0:587"     # STARTTLS, then AUTH, before MAIL
/// submissions = "0.0.0.0:465"    # implicit TLS, then AUTH
/// advertise = "mx.msk.example.org:25"   # how peer agents reach `listen`
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SmtpConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submissions: Option<SocketAddr>,
    /// `host:port` of `listen` as other sites reach it; sent at enrollment.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub advertise: String,
    /// The name in the greeting and `Received:` headers. Empty: `<site>.<domain>`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub max_connections_per_ip: usize,
    pub max_connections: usize,
    pub max_errors: u32,
    pub max_auth_failures: u32,
    pub max_received_headers: usize,
    pub idle_timeout_secs: f64,
    pub session_timeout_secs: f64,
    pub max_concurrent_auth: usize,
    /// Submission listeners: refuse bare LF line endings in messages instead of normalising them.
    pub reject_bare_lf: bool,
    /// The port-25 role: the same, on by default (`false` normalises, as Postfix's `normalize`).
    pub reject_bare_lf_mx: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        let l = crate::smtp::Limits::default();
        Self {
            listen: None,
            submission: None,
            submissions: None,
            advertise: String::new(),
            hostname: String::new(),
            max_message_bytes: l.max_message,
            max_recipients: l.max_recipients,
            max_connections_per_ip: l.max_connections_per_ip,
            max_connections: l.max_connections,
            max_errors: l.max_errors,
            max_auth_failures: l.max_auth_failures,
            max_received_headers: l.max_received,
            idle_timeout_secs: l.idle_timeout.as_secs_f64(),
            session_timeout_secs: l.session_timeout.as_secs_f64(),
            max_concurrent_auth: l.max_concurrent_auth,
            reject_bare_lf: l.reject_bare_lf,
            reject_bare_lf_mx: l.reject_bare_lf_mx,
        }
    }
}

impl SmtpConfig {
    pub fn limits(&self) -> crate::smtp::Limits {
        let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
        crate::smtp::Limits {
            max_message: self.max_message_bytes,
            max_recipients: self.max_recipients.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            max_connections: self.max_connections.max(1),
            max_errors: self.max_errors.max(1),
            max_auth_failures: self.max_auth_failures.max(1),
            max_received: self.max_received_headers,
            idle_timeout: secs(self.idle_timeout_secs),
            session_timeout: secs(self.session_timeout_secs),
            max_concurrent_auth: self.max_concurrent_auth.max(1),
            reject_bare_lf: self.reject_bare_lf,
            reject_bare_lf_mx: self.reject_bare_lf_mx,
            ..crate::smtp::Limits::default()
        }
    }
}

/// `[queue]`: the spool in `<data>/queue/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// Subdirectories the spool spreads its files over (fewer directory-lock collisions).
    pub spool_dirs: u32,
    /// Committer threads of the group-commit writer (fsyncs kept in flight at once).
    pub committers: u32,
    /// `Sink::enqueue` answers `Full` beyond this many queued messages.
    pub max_messages: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { spool_dirs: 16, committers: 4, max_messages: 100_000 }
    }
}

/// `[delivery]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryConfig {
    /// Root of the local mailboxes: `<root>/<user>/Maildir/`. Empty: `<data>/mail`.
    pub maildir_root: PathBuf,
    /// `host:port` that takes all mail for outside domains instead of MX look-ups (e.g. a
    /// level 0/1 agent or the organisation's relay). Empty: level 2 sites relay through a
    /// level 0/1 agent of the deployment, others look up MX records.
    pub smarthost: String,
    /// First retry after a temporary failure; doubles per failure up to `retry_max_secs`.
    pub retry_initial_secs: f64,
    pub retry_max_secs: f64,
    /// How long a message may stay queued before its undelivered recipients are bounced.
    pub lifetime_secs: f64,
    /// Deliveries (messages) in progress at once.
    pub concurrency: usize,
    /// Connect and per-command timeout of outgoing SMTP.
    pub timeout_secs: f64,
    /// The name this agent gives in EHLO and in DSNs. Empty: `<site>.<domain>`.
    pub hostname: String,
    /// A PEM file of CA certificates trusted beside the system's (`/etc/ssl/certs`) where a
    /// certificate is validated: MTA-STS policy hosts and the MX hosts they name. Empty: none.
    pub tls_ca_file: PathBuf,
    /// The HTTPS port MTA-STS policies are fetched from: 443 (RFC 8461); another only in tests.
    pub mta_sts_port: u16,
    /// When the domain has an active DKIM key but this agent cannot sign with it (a broken key),
    /// outside mail waits (4.7.0, retried) unless this is set; then it leaves unsigned.
    pub send_unsigned_on_dkim_failure: bool,
    /// Files in a Maildir's `tmp/` older than this were left by a crash (a delivery renames
    /// its file within moments) and are removed; the Maildir convention's 36 hours.
    pub tmp_grace_secs: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            maildir_root: PathBuf::new(),
            smarthost: String::new(),
            retry_initial_secs: 60.0,
            retry_max_secs: 3600.0,
            lifetime_secs: 5.0 * 86400.0,
            concurrency: 64,
            timeout_secs: 60.0,
            hostname: String::new(),
            send_unsigned_on_dkim_failure: false,
            tls_ca_file: PathBuf::new(),
            mta_sts_port: 443,
            tmp_grace_secs: 36 * 3600,
        }
    }
}

fn default_heartbeat() -> u64 {
    DEFAULT_HEARTBEAT_SECS
}
fn default_stats() -> u64 {
    DEFAULT_STATS_SECS
}
fn default_poll_wait() -> u64 {
    DEFAULT_POLL_WAIT_SECS
}
fn default_stale_after() -> u64 {
    DEFAULT_STALE_AFTER_SECS
}

pub const DEFAULT_HEARTBEAT_SECS: u64 = 3600;
/// Counters go this soon after they move (and only then): the dashboard is never minutes behind.
pub const DEFAULT_STATS_SECS: u64 = 30;
/// Long enough to keep a NAT'd agent's idle traffic low, short enough for NAT timeouts (RFC 5382
/// asks NATs to keep established TCP idle for at least two hours).
pub const DEFAULT_POLL_WAIT_SECS: u64 = 1800;
pub const DEFAULT_STALE_AFTER_SECS: u64 = 7200;

impl Config {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }

    pub fn exists(dir: &Path) -> bool {
        Self::path(dir).exists()
    }

    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let path = Self::path(dir);
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing(shown, dir.display().to_string()));
            }
            Err(e) => return Err(ConfigError::Read(shown, e)),
        };
        let cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse(shown.clone(), e))?;
        cfg.verifier().map_err(|e| ConfigError::VerifyKey(shown, e))?;
        Ok(cfg)
    }

    /// Writes the file atomically (temp file, fsync, rename), readable by the owner only.
    pub fn save(&self, dir: &Path) -> Result<(), ConfigError> {
        let path = Self::path(dir);
        let shown = path.display().to_string();
        let text = toml::to_string_pretty(self).expect("the configuration always serialises");
        let tmp = dir.join(format!(".{CONFIG_FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = open_private(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| ConfigError::Write(shown, e))
    }

    pub fn verifier(&self) -> Result<Verifier, WireError> {
        Verifier::from_hex(&self.verify_key)
    }

    pub fn replica_path(dir: &Path) -> PathBuf {
        dir.join(REPLICA_FILE)
    }

    /// The spool: `<data>/queue`.
    pub fn queue_path(dir: &Path) -> PathBuf {
        dir.join("queue")
    }

    /// The server name mail clients are told to use: `[imap] host`, else the `[smtp]` hostname,
    /// else `<site>.<domain>`.
    pub fn client_host(&self) -> String {
        [&self.imap.host, &self.smtp.hostname]
            .into_iter()
            .find(|h| !h.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("{}.{}", self.site, self.domain))
    }

    /// Where local mailboxes live: `[delivery] maildir_root`, or `<data>/mail`.
    pub fn maildir_root(&self, dir: &Path) -> PathBuf {
        if self.delivery.maildir_root.as_os_str().is_empty() {
            dir.join("mail")
        } else {
            self.delivery.maildir_root.clone()
        }
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}
#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::create(path)
}

/// `[logins]`: failed logins for one account, from any client and over any protocol, past
/// `free_failures` make strangers wait `first_delay_secs`, doubling with each further failure
/// up to `max_delay_secs`; an address the account logged in from before is never made to wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginsConfig {
    pub free_failures: u32,
    pub first_delay_secs: u64,
    pub max_delay_secs: u64,
}

impl Default for LoginsConfig {
    fn default() -> Self {
        let p = pochta_directory::login_throttle::ThrottlePolicy::default();
        LoginsConfig {
            free_failures: p.free_failures,
            first_delay_secs: p.first_delay.as_secs(),
            max_delay_secs: p.max_delay.as_secs(),
        }
    }
}

impl LoginsConfig {
    pub fn policy(&self) -> pochta_directory::login_throttle::ThrottlePolicy {
        use std::time::Duration;
        let first = Duration::from_secs(self.first_delay_secs.max(1));
        pochta_directory::login_throttle::ThrottlePolicy {
            free_failures: self.free_failures,
            first_delay: first,
            max_delay: Duration::from_secs(self.max_delay_secs).max(first),
            ..Default::default()
        }
    }
}

/// `[door]`: what is checked on mail from outside (never on our users' submissions or on peer
/// agents), before the answer to its data. Nothing is checked by default.
///
/// ```toml
/// [door]
/// rspamd = "http://127.0.0.1:11333"   # rspamd's normal worker
/// clamd = "/run/clamav/clamd.ctl"     # clamd's socket, or "127.0.0.1:3310"
/// scan_timeout_secs = 20
/// fail_open = false                   # a scanner out: 451 (true: accept unscanned, marked)
/// junk_score = 5.0                    # from this rspamd score on, into Junk
///
/// [door.greylist]
/// enabled = true
/// delay_secs = 300
/// exempt_networks = ["192.0.2.0/24"]
/// exempt_domains = ["partner.example"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DoorConfig {
    /// rspamd's normal worker, `http://host:port`; empty: no spam scan.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub rspamd: String,
    /// clamd: a Unix socket path or `host:port`; empty: no virus scan.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub clamd: String,
    /// How long one scan may take before it counts as failed.
    pub scan_timeout_secs: f64,
    /// A scanner that is down or too slow: accept the letter unscanned, with an
    /// `X-Pochta-Unscanned` field saying why, instead of deferring it with 451.
    pub fail_open: bool,
    /// Larger letters are not scanned (scanners have their own limits) and are marked so.
    pub max_scan_bytes: usize,
    /// From this rspamd score on, a letter rspamd lets through goes into the recipients' Junk
    /// folder (the site's own threshold below rspamd's "add header").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub junk_score: Option<f64>,
    /// DNS block list zones asked about each stranger's address at MAIL FROM (e.g.
    /// `zen.spamhaus.org`; mind each list's terms of use); a listed client gets `554 5.7.1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dnsbl: Vec<String>,
    pub greylist: GreylistConfig,
    /// SPF, DKIM, ARC and DMARC (`[door.auth]`).
    pub auth: AuthConfig,
}

/// `[door.auth]`: verifying who sent a letter from outside; see [`crate::door::auth`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthConfig {
    pub enabled: bool,
    /// SPF at MAIL FROM (for DMARC and `Authentication-Results`).
    pub spf: bool,
    /// Refuse an SPF `fail` at MAIL FROM on its own (550 5.7.23); off, as forwarding fails SPF.
    pub reject_spf_fail: bool,
    pub dkim: bool,
    pub arc: bool,
    /// DMARC after the data: `p=reject` failures refused, `p=quarantine` into Junk.
    pub dmarc: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { enabled: false, spf: true, reject_spf_fail: false, dkim: true, arc: true, dmarc: true }
    }
}

impl Default for DoorConfig {
    fn default() -> Self {
        Self {
            rspamd: String::new(),
            clamd: String::new(),
            scan_timeout_secs: 20.0,
            fail_open: false,
            max_scan_bytes: 20 * 1024 * 1024,
            junk_score: None,
            dnsbl: Vec::new(),
            greylist: GreylistConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

impl DoorConfig {
    /// Whether the door checks nothing.
    pub fn is_off(&self) -> bool {
        self.rspamd.is_empty()
            && self.clamd.is_empty()
            && !self.greylist.enabled
            && !self.auth.enabled
            && self.dnsbl.is_empty()
    }
}

/// `[door.greylist]`: see [`crate::door::greylist`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GreylistConfig {
    pub enabled: bool,
    /// A retry passes this long after the first attempt…
    pub delay_secs: u64,
    /// …and before this long after it; later, it starts over.
    pub window_secs: u64,
    /// A triplet (or a whitelisted network) that passed stays good while used within this.
    pub pass_ttl_secs: u64,
    /// A client network whose triplets passed this many times passes at once.
    pub whitelist_after: u32,
    /// Networks (`192.0.2.0/24`, `2001:db8::/48`, or single addresses) never greylisted.
    pub exempt_networks: Vec<String>,
    /// Sender domains (and their subdomains) never greylisted.
    pub exempt_domains: Vec<String>,
    /// Triplets held at most; the oldest go first.
    pub max_entries: usize,
}

impl Default for GreylistConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            delay_secs: 300,
            window_secs: 86400,
            pass_ttl_secs: 36 * 86400,
            whitelist_after: 5,
            exempt_networks: Vec::new(),
            exempt_domains: Vec::new(),
            max_entries: 200_000,
        }
    }
}
