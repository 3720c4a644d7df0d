//! Delivery: where each final recipient goes ([`Deliverer::plan`]) and one attempt per
//! destination ([`Deliverer::deliver`]): local mailboxes (Maildir), another site's agent (one
//! SMTP transaction for all of that site's recipients, STARTTLS pinned to the agent's
//! certificate, AUTH as `agent:<id>` with the peer secret), a smarthost, or the recipient
//! domain's MX hosts.
//!
//! Architecture Invariant: a letter crosses an inter-site link at most once per site — every
//! recipient of a remote site goes in one transaction to that site's agent, which delivers
//! without expanding again.

pub mod client;
pub mod maildir;
pub mod mx;
pub mod tls;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pochta_directory::resolve::{Rejection, Sender, resolve};
use pochta_directory::{Address, Directory, Domain, Level, SiteId};

use crate::metrics::Counters;
use crate::queue::QueueId;
use crate::queue::durable::Durable;
use client::{Reply, Security, Transaction};

/// The current directory (the replica's in-memory `Arc<Directory>`).
pub type DirectorySource = Arc<dyn Fn() -> Arc<Directory> + Send + Sync>;

/// Everything delivery needs to know about this agent.
pub struct Context {
    pub directory: DirectorySource,
    pub site: SiteId,
    /// The level from `agent.toml`; the directory's site record wins when present.
    pub level: Level,
    pub agent_id: String,
    pub peer_secret: String,
    pub maildir_root: std::path::PathBuf,
    /// `host:port` for all outside mail, if configured.
    pub smarthost: Option<String>,
    /// EHLO name and the `Reporting-MTA` of DSNs.
    pub hostname: String,
    pub timeout: Duration,
    pub counters: Arc<Counters>,
}

/// Where a group of recipients goes in one attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// Mailboxes of this site.
    Local,
    /// Another site's agent (also the relay of a level-2 site for outside mail).
    Site(SiteId),
    /// The configured smarthost.
    Smarthost,
    /// The MX hosts of an outside domain.
    Mx(Domain),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local => f.write_str("local"),
            Destination::Site(s) => write!(f, "site {s}"),
            Destination::Smarthost => f.write_str("smarthost"),
            Destination::Mx(d) => write!(f, "mx {d}"),
        }
    }
}

impl Destination {
    /// The label of the bytes-sent counter: the site id, or `external`.
    fn counter_label(&self) -> String {
        match self {
            Destination::Site(s) => s.as_str().to_owned(),
            _ => "external".into(),
        }
    }
}

/// Recipient indices grouped by destination, and the recipients that failed outright.
pub type Plan = (BTreeMap<Destination, Vec<usize>>, Vec<(usize, Outcome)>);

/// The result for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again later (the text is for logs and `queue show`).
    Temporary(String),
    /// Give up: SMTP code, enhanced status, diagnostic.
    Permanent {
        code: u16,
        status: String,
        diagnostic: String,
    },
}

impl Outcome {
    fn from_reply(r: &Reply) -> Self {
        if r.permanent() {
            Outcome::Permanent { code: r.code, status: r.status(), diagnostic: r.to_string() }
        } else {
            Outcome::Temporary(r.to_string())
        }
    }
    fn rejected(why: &Rejection) -> Self {
        let (code, status) = why.smtp();
        Outcome::Permanent { code, status: status.into(), diagnostic: format!("{code} {status} {why}") }
    }
}

/// A message as delivery sees it.
#[derive(Clone)]
pub struct Letter {
    pub id: QueueId,
    pub reverse_path: Option<Address>,
    pub created: i64,
    pub data: Arc<[u8]>,
    /// Loaded from the spool after a restart: local delivery checks for earlier copies.
    pub recovered: bool,
    /// Relayed to us by an authenticated peer agent: its [`RELAY_HEADER`] names the copy.
    pub from_peer: bool,
}

/// Trace field a relaying agent puts on top of every copy it sends to another site:
/// `<agent id> <queue id> <created ms>`. A sending agent that dies after the receiver's `250`
/// but before it recorded the delivery sends the same copy again when it restarts; the
/// receiving agent names Maildir files after this field and skips mailboxes that already hold
/// the copy, so the letter is still delivered exactly once.
pub const RELAY_HEADER: &str = "X-Pochta-Relay";

/// The Maildir file name of a copy relayed by a peer, from its topmost [`RELAY_HEADER`]:
/// `<created s>.R<hash>.<host>`, the same for every retransmission of that copy.
pub fn relayed_name(data: &[u8], host: &str) -> Option<String> {
    use sha2::Digest as _;
    let end = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(data.len());
    let value = data[..end].split(|b| *b == b'\n').find_map(|line| {
        let (name, value) = line.split_at(line.iter().position(|b| *b == b':')?);
        name.eq_ignore_ascii_case(RELAY_HEADER.as_bytes()).then_some(&value[1..])
    })?;
    let value = std::str::from_utf8(value).ok()?.trim();
    let created: i64 = value.split_whitespace().nth(2)?.parse().ok()?;
    let hash = sha2::Sha256::digest(value.as_bytes());
    let hex: String = hash[..10].iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{}.R{hex}.{}", created / 1000, host.replace(['/', ':'], "_")))
}

/// The message without any [`RELAY_HEADER`] field (folded lines included) in its header section,
/// or `None` when it has none. The field is for the deployment's own agents: a letter leaving
/// for an outside server (MX or smarthost), or quoted in a report to an outside sender, does
/// not carry agent and queue ids with it.
pub fn without_relay_header(data: &[u8]) -> Option<Vec<u8>> {
    let mut drop: Vec<std::ops::Range<usize>> = Vec::new();
    let mut dropping = false;
    let mut at = 0;
    while at < data.len() {
        let end = data[at..].iter().position(|b| *b == b'\n').map_or(data.len(), |p| at + p + 1);
        let line = &data[at..end];
        if line == b"\r\n" || line == b"\n" {
            break; // the end of the header section
        }
        if !matches!(line[0], b' ' | b'\t') {
            let name = line.iter().position(|b| *b == b':').map(|c| line[..c].trim_ascii_end());
            dropping = name.is_some_and(|n| n.eq_ignore_ascii_case(RELAY_HEADER.as_bytes()));
        }
        if dropping {
            match drop.last_mut() {
                Some(r) if r.end == at => r.end = end,
                _ => drop.push(at..end),
            }
        }
        at = end;
    }
    if drop.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len());
    let mut from = 0;
    for r in drop {
        out.extend_from_slice(&data[from..r.start]);
        from = r.end;
    }
    out.extend_from_slice(&data[from..]);
    Some(out)
}

pub struct Deliverer {
    ctx: Context,
    maildirs: maildir::Maildirs,
    opportunistic: Arc<rustls::ClientConfig>,
    mx: mx::MxResolver,
}

impl Deliverer {
    pub fn new(ctx: Context, durable: Arc<Durable>) -> Result<Self, rustls::Error> {
        let maildirs = maildir::Maildirs::new(ctx.maildir_root.clone(), &ctx.hostname, durable);
        Ok(Self { ctx, maildirs, opportunistic: tls::opportunistic()?, mx: mx::MxResolver::default() })
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    pub fn maildirs(&self) -> &maildir::Maildirs {
        &self.maildirs
    }

    pub fn directory(&self) -> Arc<Directory> {
        (self.ctx.directory)()
    }

    fn my_level(&self, dir: &Directory) -> Level {
        dir.site(&self.ctx.site).map_or(self.ctx.level, |s| s.level)
    }

    /// Groups final recipients (`targets[i]`) by destination, against the directory as it is
    /// now — so a user who moved since the message was queued goes to his new home site.
    /// Recipients that no longer exist come back as permanent failures.
    pub fn plan(&self, dir: &Directory, targets: &[(usize, &Address)]) -> Plan {
        let mut groups: BTreeMap<Destination, Vec<usize>> = BTreeMap::new();
        let mut failed = Vec::new();
        let internal = Sender { address: None, internal: true };
        let mine = self.my_level(dir).has_mailboxes();
        for &(i, addr) in targets {
            let dest = if dir.is_ours(addr.domain()) {
                match resolve(dir, addr, &internal) {
                    Ok(res) => match res.local.into_iter().find(|(_, names)| !names.is_empty()) {
                        Some((site, _)) if site == self.ctx.site && mine => Destination::Local,
                        Some((site, _)) => Destination::Site(site),
                        None => {
                            failed.push((i, Outcome::rejected(&Rejection::UnknownRecipient)));
                            continue;
                        }
                    },
                    Err(why) => {
                        failed.push((i, Outcome::rejected(&why)));
                        continue;
                    }
                }
            } else {
                self.outside(dir, addr.domain())
            };
            groups.entry(dest).or_default().push(i);
        }
        (groups, failed)
    }

    /// Where mail for an outside domain goes: the smarthost; for a level-2 site, a level 0/1
    /// agent of the deployment; otherwise the domain's MX hosts.
    fn outside(&self, dir: &Directory, domain: &Domain) -> Destination {
        if self.ctx.smarthost.is_some() {
            return Destination::Smarthost;
        }
        if self.my_level(dir) == Level::Two
            && let Some(relay) = relay_site(dir, &self.ctx.site)
        {
            return Destination::Site(relay);
        }
        Destination::Mx(domain.clone())
    }

    /// One attempt to deliver `letter` to `rcpts` at `dest`: one outcome per recipient.
    pub async fn deliver(&self, dest: &Destination, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        match dest {
            Destination::Local => self.local(letter, rcpts).await,
            Destination::Site(site) => self.to_site(site, letter, rcpts).await,
            Destination::Smarthost => {
                let host = self.ctx.smarthost.clone().unwrap_or_default();
                let security = Security::Opportunistic(self.opportunistic.clone());
                self.smtp(dest, &[host], security, None, &leaving(letter), rcpts).await
            }
            Destination::Mx(domain) => match self.mx.hosts(domain).await {
                Ok(hosts) => {
                    let security = Security::Opportunistic(self.opportunistic.clone());
                    self.smtp(dest, &hosts, security, None, &leaving(letter), rcpts).await
                }
                Err(e) => vec![e; rcpts.len()],
            },
        }
    }

    async fn local(&self, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        let users: Vec<_> = rcpts.iter().map(|a| a.local().clone()).collect();
        let moved = letter.from_peer.then(|| crate::mailbox_move::parse(&letter.data, &self.ctx.peer_secret));
        let results = if let Some(Some(moved)) = moved {
            // A letter of a mailbox moving here: filed where it was, named by its move id.
            self.maildirs.file_moved(&users, &moved, letter.data[moved.start..].into()).await
        } else {
            let name = if letter.from_peer { relayed_name(&letter.data, &self.ctx.hostname) } else { None };
            self.maildirs
                .deliver(&users, &letter.id, letter.created, letter.data.clone(), letter.recovered, name)
                .await
        };
        results
            .into_iter()
            .zip(rcpts)
            .map(|(r, a)| match r {
                Ok(()) => {
                    self.ctx.counters.delivered.fetch_add(1, Ordering::Relaxed);
                    Outcome::Delivered
                }
                Err(e) => {
                    tracing::warn!(id = %letter.id, rcpt = %a, error = %e, "Maildir delivery failed");
                    Outcome::Temporary(format!("451 4.3.0 local delivery failed: {e}"))
                }
            })
            .collect()
    }

    async fn to_site(&self, site: &SiteId, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        let dir = self.directory();
        let agents: Vec<_> = dir
            .site(site)
            .map(|s| s.agents.iter().filter(|a| !a.smtp.is_empty()).cloned().collect())
            .unwrap_or_default();
        if agents.is_empty() {
            let why = format!("451 4.4.1 site {site} has no agent reachable by SMTP");
            return vec![Outcome::Temporary(why); rcpts.len()];
        }
        let user = format!("agent:{}", self.ctx.agent_id);
        // The same bytes on every attempt: the receiver recognises a copy sent twice.
        let trace = format!("{RELAY_HEADER}: {} {} {}\r\n", self.ctx.agent_id, letter.id, letter.created);
        let letter = &Letter { data: [trace.as_bytes(), &letter.data[..]].concat().into(), ..letter.clone() };
        let mut last = Vec::new();
        for agent in agents {
            let security = match tls::pinned(&agent.tls_sha256) {
                Ok(cfg) => Security::Required(cfg),
                Err(e) => {
                    last = vec![Outcome::Temporary(format!("451 4.7.0 TLS: {e}")); rcpts.len()];
                    continue;
                }
            };
            let dest = Destination::Site(site.clone());
            let auth = Some((user.as_str(), self.ctx.peer_secret.as_str()));
            last = self.smtp(&dest, std::slice::from_ref(&agent.smtp), security, auth, letter, rcpts).await;
            if !last.iter().all(|o| matches!(o, Outcome::Temporary(_))) {
                break;
            }
        }
        last
    }

    /// One transaction to the first of `hosts` that answers.
    async fn smtp(
        &self,
        dest: &Destination,
        hosts: &[String],
        security: Security,
        auth: Option<(&str, &str)>,
        letter: &Letter,
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        let recipients: Vec<String> = rcpts.iter().map(ToString::to_string).collect();
        let reverse_path = letter.reverse_path.as_ref().map(ToString::to_string).unwrap_or_default();
        let t = Transaction {
            helo: &self.ctx.hostname,
            security,
            auth,
            reverse_path: &reverse_path,
            recipients: &recipients,
            data: &letter.data,
            timeout: self.ctx.timeout,
        };
        let mut why = format!("451 4.4.1 no host to try for {dest}");
        for host in hosts {
            let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h).trim_matches(['[', ']']);
            match client::send(host, name, &t).await {
                Ok(out) => {
                    let outcomes = outcomes(&out);
                    if outcomes.contains(&Outcome::Delivered) {
                        self.ctx.counters.sent.fetch_add(1, Ordering::Relaxed);
                        self.ctx.counters.sent_bytes(&dest.counter_label(), letter.data.len() as u64);
                    }
                    tracing::info!(id = %letter.id, %dest, host, rcpts = rcpts.len(), "sent");
                    return outcomes;
                }
                Err(e) => {
                    tracing::info!(id = %letter.id, %dest, host, error = %e, "delivery attempt failed");
                    if let Some(r) = e.permanent() {
                        return vec![Outcome::from_reply(r); rcpts.len()];
                    }
                    why = format!("451 4.4.1 {host}: {e}");
                }
            }
        }
        vec![Outcome::Temporary(why); rcpts.len()]
    }
}

/// `letter` as it leaves the deployment: without the agents' [`RELAY_HEADER`].
fn leaving(letter: &Letter) -> std::borrow::Cow<'_, Letter> {
    match without_relay_header(&letter.data) {
        Some(data) => std::borrow::Cow::Owned(Letter { data: data.into(), ..letter.clone() }),
        None => std::borrow::Cow::Borrowed(letter),
    }
}

fn outcomes(out: &client::Outcome) -> Vec<Outcome> {
    out.rcpt
        .iter()
        .map(|r| match (r, &out.data) {
            (Err(reply), _) => Outcome::from_reply(reply),
            (Ok(()), Some(d)) if d.positive() => Outcome::Delivered,
            (Ok(()), Some(d)) => Outcome::from_reply(d),
            (Ok(()), None) => Outcome::Temporary("451 4.4.2 no answer to the message".into()),
        })
        .collect()
}

/// The agent a level-2 site sends outside mail through: a level-0 site's, else a level-1
/// site's, with an SMTP endpoint.
pub fn relay_site(dir: &Directory, me: &SiteId) -> Option<SiteId> {
    [Level::Zero, Level::One].into_iter().find_map(|level| {
        dir.sites
            .values()
            .find(|s| s.level == level && s.id != *me && s.agents.iter().any(|a| !a.smtp.is_empty()))
            .map(|s| s.id.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::{relayed_name, without_relay_header};

    #[test]
    fn the_relay_field_is_stripped_from_the_header_section_only() {
        let m = b"Received: from gw\r\nX-Pochta-Relay: hq-1 Q1 1700000000123\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n";
        assert_eq!(
            without_relay_header(m).unwrap(),
            b"Received: from gw\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n"
        );
        // Every one of them, in any case, folded, at the top, next to each other, or last.
        let m = b"x-pochta-relay: a Q 1\r\nX-POCHTA-RELAY : b Q 2\r\n\tfolded 3\r\nFrom: a@b\r\n \
                  continued\r\nX-Pochta-Relay: c Q 3\r\n\r\nbody\r\n";
        assert_eq!(without_relay_header(m).unwrap(), b"From: a@b\r\n continued\r\n\r\nbody\r\n");
        // Look-alikes stay; a letter without the field is not copied.
        let m = b"X-Pochta-Relayed: x\r\nX-Pochta: y\r\nSubject: X-Pochta-Relay: z\r\n\r\n";
        assert_eq!(without_relay_header(m), None);
        assert_eq!(without_relay_header(b"Subject: s\r\n\r\nX-Pochta-Relay: a b 1\r\n"), None);
        assert_eq!(without_relay_header(b""), None);
        assert_eq!(without_relay_header(b"X-Pochta-Relay: a Q 1"), Some(vec![]), "no body, no final CRLF");
    }

    #[test]
    fn a_relayed_copy_is_named_by_its_topmost_relay_field() {
        let a = b"Received: x\r\nX-Pochta-Relay: hq-1 Q1 1700000000123\r\nx-pochta-relay: gw-1 Q9 5\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n";
        let name = relayed_name(a, "br.example.org").unwrap();
        assert!(name.starts_with("1700000000.R") && name.ends_with(".br.example.org"), "{name}");
        // Another hop's Received on top does not change it; another sending agent's id does.
        let b = [b"Received: y\r\n".as_slice(), a].concat();
        assert_eq!(relayed_name(&b, "br.example.org").unwrap(), name);
        let c = b"X-Pochta-Relay: hq-2 Q1 1700000000123\r\n\r\n";
        assert_ne!(relayed_name(c, "br.example.org").unwrap(), name);
        // Absent, malformed, or only in the body: no name.
        assert_eq!(relayed_name(b"Subject: s\r\n\r\nX-Pochta-Relay: a b 1\r\n", "h"), None);
        assert_eq!(relayed_name(b"X-Pochta-Relay: a b\r\n\r\n", "h"), None);
    }
}
