//! What `/status` and `pochta-agent status` report.

use pochta_directory::Directory;
use pochta_directory::wire::Version;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::replica::{Contact, Replica};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub agent_id: String,
    pub site: String,
    pub level: u8,
    pub domain: String,
    pub deployment: String,
    pub version: u64,
    pub server_version: Option<u64>,
    /// Unix seconds of the last exchange with the central server.
    pub last_contact: Option<i64>,
    pub staleness_secs: Option<u64>,
    /// No contact with the server for longer than `stale_after_secs`, or never.
    pub stale: bool,
    /// Out-of-order change sets waiting for a gap to be filled.
    pub held: usize,
    pub sites: usize,
    pub users: usize,
    pub groups: usize,
    /// Mailboxes being moved from this site to users' new home sites (empty when none).
    #[serde(default)]
    pub mailbox_moves: Vec<pochta_directory::api::MoveProgress>,
    /// The queue's clock against the wall clock: jumps seen (`crate::clock`).
    #[serde(default)]
    pub clock: crate::clock::ClockStatus,
    /// The checks on mail from outside, when `[door]` configures any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door: Option<crate::door::DoorStatus>,
}

impl StatusReport {
    pub fn new(cfg: &Config, dir: &Directory, version: Version, contact: Contact, held: usize) -> Self {
        let staleness_secs = contact.staleness_secs();
        let stale = Contact::stale(staleness_secs, cfg.stale_after_secs);
        // The directory's own record of the site wins over what enrollment said.
        let level = dir.site(&cfg.site).map(|s| s.level).unwrap_or(cfg.level);
        Self {
            agent_id: cfg.agent_id.clone(),
            site: cfg.site.to_string(),
            level: level.into(),
            domain: dir.domain.to_string(),
            deployment: cfg.deployment.to_hex(),
            version: version.0,
            server_version: contact.server_version.map(|v| v.0),
            last_contact: contact.last_contact,
            staleness_secs,
            stale,
            held,
            sites: dir.sites.len(),
            users: dir.users.len(),
            groups: dir.groups.len(),
            mailbox_moves: Vec::new(),
            clock: Default::default(),
            door: None,
        }
    }

    pub fn live(cfg: &Config, replica: &Replica) -> Self {
        let live = replica.live();
        Self::new(cfg, &live.directory, live.version, replica.contact(), replica.held())
    }

    /// Human-readable form for the command line.
    pub fn render(&self) -> String {
        let when = |t: Option<i64>| t.map_or_else(|| "never".to_owned(), |t| format!("{t} (unix time)"));
        let ago = self.staleness_secs.map_or_else(|| "-".to_owned(), |s| format!("{s} s ago"));
        let server = self.server_version.map_or_else(|| "unknown".to_owned(), |v| v.to_string());
        format!(
            "agent         {}\nsite          {} (level {})\ndomain        {}\ndeployment    {}\n\
             version       {} (server: {})\nlast contact  {} — {}{}\n\
             directory     {} sites, {} users, {} aliases and lists\n{}{}",
            self.agent_id,
            self.site,
            self.level,
            self.domain,
            self.deployment,
            self.version,
            server,
            when(self.last_contact),
            ago,
            if self.stale { " — STALE" } else { "" },
            self.sites,
            self.users,
            self.groups,
            match &self.clock.last_jump {
                Some(j) => format!(
                    "clock         the wall clock jumped by {} s (unix time {}); queue times are {} s off it\n",
                    j.by_secs, j.noticed_at, self.clock.offset_secs
                ),
                None => String::new(),
            },
            self.door
                .iter()
                .flat_map(|d| &d.warnings)
                .map(|w| format!("WARNING       {w}\n"))
                .collect::<String>(),
        )
    }
}
