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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub deployment: DeploymentId,
    pub domain: Domain,
    /// Hex Ed25519 public key that signs every change set and snapshot of the deployment.
    pub verify_key: String,
    /// Bearer secret shared by the deployment's agents for `GET /sync/changes`.
    pub peer_secret: String,
    pub server: ServerLink,
}

fn default_heartbeat() -> u64 {
    DEFAULT_HEARTBEAT_SECS
}
fn default_poll_wait() -> u64 {
    DEFAULT_POLL_WAIT_SECS
}
fn default_stale_after() -> u64 {
    DEFAULT_STALE_AFTER_SECS
}

pub const DEFAULT_HEARTBEAT_SECS: u64 = 3600;
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
