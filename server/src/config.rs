//! `server.toml` in the data folder, written by `init`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Where the HTTPS listener binds. Port 0 picks a free port (tests, demo).
    pub listen: SocketAddr,
    /// How agents and browsers reach this server; empty means `https://<bound address>`.
    #[serde(default)]
    pub public_url: String,
    /// `sqlite://...` (default, in the data folder) or `postgres://...`.
    pub database: String,
    /// Seconds an enrollment code stays valid.
    #[serde(default = "default_enroll_ttl")]
    pub enrollment_ttl_secs: i64,
    /// How long a DKIM key that stopped signing stays published (letters signed with it just
    /// before a rotation are still being verified), in seconds. Default 7 days.
    #[serde(default = "default_dkim_retirement")]
    pub dkim_retirement_secs: i64,
    /// The resolvers the DNS page's live check asks (`ip:port`); empty: the system's.
    #[serde(default)]
    pub dns_servers: Vec<SocketAddr>,
    /// The time zone pages show times in unless a person chose another (an IANA name from the
    /// system's tz database, e.g. `Europe/Moscow`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Where the data folder is; not stored in the file.
    #[serde(skip)]
    pub data_dir: PathBuf,
}

fn default_dkim_retirement() -> i64 {
    7 * 24 * 3600
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_enroll_ttl() -> i64 {
    24 * 3600
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1} (run `pochta-server init` first)")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not valid: {1}")]
    Parse(PathBuf, toml::de::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error(
        "{0}: time_zone '{1}' is not a zone of the system's tz database (e.g. Europe/Moscow; is tzdata installed?)"
    )]
    TimeZone(PathBuf, String),
}

impl Config {
    pub const FILE: &str = "server.toml";

    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let path = data_dir.join(Self::FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read(path.clone(), e))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse(path.clone(), e))?;
        if crate::web::zone::Zone::named(&cfg.time_zone).is_none() {
            return Err(ConfigError::TimeZone(path, cfg.time_zone));
        }
        cfg.data_dir = data_dir.to_path_buf();
        Ok(cfg)
    }

    pub fn save(&self) -> Result<(), ConfigError> {
        let path = self.data_dir.join(Self::FILE);
        let text = toml::to_string_pretty(self).expect("config serialises");
        std::fs::write(&path, text).map_err(|e| ConfigError::Write(path, e))
    }

    pub fn signing_key_path(&self) -> PathBuf {
        self.data_dir.join("signing.key")
    }
}
