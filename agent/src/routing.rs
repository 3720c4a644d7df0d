//! Where mail for one recipient goes, decided from the replica the way SMTP will at `RCPT`:
//! shared by `GET /resolve` and `pochta-agent resolve`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pochta_directory::resolve::{Rejection, Sender, resolve};
use pochta_directory::{Address, Directory, SiteId};
use serde::Serialize;

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
        status: &'static str,
    },
}

impl Routing {
    /// Resolves `rcpt` for the sender `from` (`None` or empty: the null reverse path).
    pub fn of(dir: &Directory, rcpt: &str, from: Option<&str>, internal: bool) -> Routing {
        let rcpt = match Address::parse(rcpt.trim()) {
            Ok(a) => a,
            // RFC 5321 §4.2.3 (501 syntax error in parameters); RFC 3463 §3.2 (X.1.3 bad
            // destination mailbox address syntax).
            Err(e) => {
                return Routing::Rejected {
                    rejected: format!("bad recipient address: {e}"),
                    code: 501,
                    status: "5.1.3",
                };
            }
        };
        let address = match from.map(str::trim).filter(|f| !f.is_empty()) {
            None => None,
            Some(f) => match Address::parse(f) {
                Ok(a) => Some(a),
                // RFC 3463 §3.2 (X.1.7 bad sender's mailbox address syntax).
                Err(e) => {
                    return Routing::Rejected {
                        rejected: format!("bad sender address: {e}"),
                        code: 501,
                        status: "5.1.7",
                    };
                }
            },
        };
        match resolve(dir, &rcpt, &Sender { address, internal }) {
            Ok(res) => Routing::Accepted {
                local: res
                    .local
                    .into_iter()
                    .map(|(site, names)| (site.to_string(), names.iter().map(ToString::to_string).collect()))
                    .collect(),
                external: res.external.iter().map(ToString::to_string).collect(),
            },
            Err(why) => rejected(&why),
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
                let _ = writeln!(out, "250 {rcpt}: accepted");
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

fn rejected(why: &Rejection) -> Routing {
    let (code, status) = why.smtp();
    Routing::Rejected { rejected: why.to_string(), code, status }
}
