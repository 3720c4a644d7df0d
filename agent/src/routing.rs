//! Where mail for one recipient goes, decided from the replica by the RCPT policy itself
//! ([`crate::smtp::policy::rcpt`]), so it says what SMTP will say: shared by `GET /resolve`
//! and `pochta-agent resolve`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pochta_directory::{Address, Directory, SiteId};
use serde::Serialize;

use crate::reply::Reply;
use crate::smtp::policy::{self, Who};

/// The outcome for one recipient, as JSON: either the destinations grouped by home site, or
/// the rejection with its SMTP reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Routing {
    Accepted {
        /// Mailboxes by home site; each site gets one copy for all of its mailboxes.
        local: BTreeMap<String, Vec<String>>,
        external: Vec<String>,
    },
    Rejected {
        rejected: String,
        code: u16,
        status: String,
    },
}

impl Routing {
    /// Resolves `rcpt` for the sender `from` (`None` or empty: the null reverse path), as SMTP
    /// would for an authenticated user (`internal`) or a stranger, with the replica `stale` or
    /// not.
    pub fn of(dir: &Directory, rcpt: &str, from: Option<&str>, internal: bool, stale: bool) -> Routing {
        let sender = match from.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => match Address::parse(f) {
                Ok(a) => Some(a),
                Err(e) => return rejected(&Reply::bad_sender(e)),
            },
        };
        let who = if internal { Who::User } else { Who::Stranger };
        match policy::rcpt(dir, rcpt.trim(), sender.as_ref(), who, stale) {
            Ok(ok) => Routing::Accepted {
                local: ok
                    .resolution
                    .local
                    .into_iter()
                    .map(|(site, names)| (site.to_string(), names.iter().map(ToString::to_string).collect()))
                    .collect(),
                external: ok.resolution.external.iter().map(ToString::to_string).collect(),
            },
            Err(refused) => rejected(&refused.reply),
        }
    }

    pub fn accepted(&self) -> bool {
        matches!(self, Routing::Accepted { .. })
    }

    /// Human-readable form for the command line; `own` is this agent's site.
    pub fn render(&self, rcpt: &str, own: &SiteId) -> String {
        let mut out = String::new();
        match self {
            Routing::Rejected { rejected, code, status } => {
                let _ = writeln!(out, "{code} {status} {rcpt}: {rejected}");
            }
            Routing::Accepted { local, external } => {
                let _ = writeln!(out, "{} {rcpt}: accepted", Reply::recipient_ok().code);
                if local.is_empty() && external.is_empty() {
                    let _ = writeln!(out, "  (no mailboxes: nothing to deliver)");
                }
                for (site, names) in local {
                    let how = if site == own.as_str() { "deliver here, site" } else { "relay to site" };
                    let _ = writeln!(out, "  {how} {site}: {}", names.join(", "));
                }
                for ext in external {
                    let _ = writeln!(out, "  external: {ext}");
                }
            }
        }
        out
    }
}

fn rejected(why: &Reply) -> Routing {
    Routing::Rejected {
        rejected: why.text.to_string(),
        code: why.code.as_u16(),
        status: why.status_or_class().to_string(),
    }
}
