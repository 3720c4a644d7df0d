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
pub mod dane;
pub mod maildir;
pub mod mta_sts;
pub mod mx;
pub mod tls;
pub mod usage;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pochta_directory::resolve::{Rejection, Sender, resolve};
use pochta_directory::{Address, Directory, Domain, Level, LocalPart, SiteId};

use crate::durable::Durable;
use crate::mail::maildir::CopyName;
use crate::mail::trace::{self, MoveMark, RelayMark};
use crate::metrics::Counters;
use crate::queue::QueueId;
use crate::reply::Reply;
use client::{Security, Transaction};

/// The Maildir++ folder spam is filed into (`.Junk`), which Dovecot shows as the `\Junk` special-use
/// mailbox (RFC 6154).
pub const JUNK: &str = "Junk";

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
    /// Who mailboxes belong to when not the agent (Dovecot's mail user, [`crate::imap`]).
    pub mail_owner: Option<crate::durable::Owner>,
    /// `host:port` for all outside mail, if configured.
    pub smarthost: Option<String>,
    /// EHLO name and the `Reporting-MTA` of DSNs.
    pub hostname: String,
    pub timeout: Duration,
    pub counters: Arc<Counters>,
    /// See `DeliveryConfig::send_unsigned_on_dkim_failure`.
    pub send_unsigned_on_dkim_failure: bool,
    /// `[dns] servers`: MX, MTA-STS and the MX hosts' addresses; empty: the system's resolver.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// Trust anchors beside the system's, for MTA-STS (a private CA).
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// The HTTPS port of MTA-STS policy hosts (443; another only in tests).
    pub mta_sts_port: u16,
    /// `[dns] dnssec_trust_anchor` (DNSKEY records, for DANE); `None`: the DNS root's.
    pub dnssec_trust_anchor: Option<std::path::PathBuf>,
}

/// Where a group of recipients goes in one attempt.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    /// Mailboxes of this site.
    Local,
    /// Another site's agent.
    Site(SiteId),
    /// Another site's agent as the relay of a level-2 site for outside mail: apart from
    /// [`Destination::Site`], so the copy that leaves the deployment is signed here and the
    /// copies that stay inside are not.
    Relay(SiteId),
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
            Destination::Relay(s) => write!(f, "relay {s}"),
            Destination::Smarthost => f.write_str("smarthost"),
            Destination::Mx(d) => write!(f, "mx {d}"),
        }
    }
}

impl Destination {
    /// The label of the bytes-sent counter: the site id, or `external`.
    fn counter_label(&self) -> String {
        match self {
            Destination::Site(s) | Destination::Relay(s) => s.as_str().to_owned(),
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
    /// Try again later (the reply is for logs and `queue show`).
    Temporary(Reply),
    /// Give up: the reply goes into the DSN.
    Permanent(Reply),
}

impl From<Reply> for Outcome {
    /// A failure as its reply's class says (RFC 5321 §4.2.1: 4yz transient, 5yz permanent).
    fn from(r: Reply) -> Self {
        if r.is_permanent() { Outcome::Permanent(r) } else { Outcome::Temporary(r) }
    }
}

impl Outcome {
    fn rejected(why: &Rejection) -> Self {
        Outcome::from(Reply::rejected(why))
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
    /// Relayed to us by an authenticated peer agent: its [`trace::RELAY`] field names the copy.
    pub from_peer: bool,
}

pub struct Deliverer {
    ctx: Context,
    maildirs: maildir::Maildirs,
    sizes: usage::MailboxSizes,
    opportunistic: Arc<rustls::ClientConfig>,
    /// Public trust anchors and names checked: MX hosts under an enforced MTA-STS policy.
    validated: Arc<rustls::ClientConfig>,
    mx: Arc<mx::MxResolver>,
    mta_sts: mta_sts::MtaSts,
    dkim: crate::mail::dkim::Signer,
}

impl Deliverer {
    pub fn new(ctx: Context, durable: Arc<Durable>) -> Result<Self, rustls::Error> {
        let maildirs = maildir::Maildirs::new(ctx.maildir_root.clone(), &ctx.hostname, durable)
            .with_owner(ctx.mail_owner);
        let sizes = usage::MailboxSizes::default();
        let mx = Arc::new(mx::MxResolver::new(ctx.dns_servers.clone(), ctx.dnssec_trust_anchor.clone()));
        let validated = tls::validated(ctx.extra_roots.clone())?;
        let mta_sts = mta_sts::MtaSts::new(mx.clone(), (*validated).clone(), ctx.timeout, ctx.mta_sts_port)
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        Ok(Self {
            ctx,
            maildirs,
            sizes,
            opportunistic: tls::opportunistic()?,
            validated,
            mx,
            mta_sts,
            dkim: Default::default(),
        })
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
            && let Some(relay) = dir.relay_site(&self.ctx.site)
        {
            return Destination::Relay(relay);
        }
        Destination::Mx(domain.clone())
    }

    /// One attempt to deliver `letter` to `rcpts` at `dest`: one outcome per recipient.
    pub async fn deliver(&self, dest: &Destination, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        match dest {
            Destination::Local => self.local(letter, rcpts).await,
            Destination::Site(site) => self.to_site(dest, site, letter, rcpts).await,
            Destination::Relay(site) => match self.signed(letter) {
                Ok(letter) => self.to_site(dest, site, &letter, rcpts).await,
                Err(why) => vec![Outcome::Temporary(why); rcpts.len()],
            },
            Destination::Smarthost => {
                let host = self.ctx.smarthost.clone().unwrap_or_default();
                let security = Security::Opportunistic(self.opportunistic.clone());
                match self.signed(&leaving(letter)) {
                    Ok(letter) => self.smtp(dest, &[target(&host, security)], None, &letter, rcpts).await,
                    Err(why) => vec![Outcome::Temporary(why); rcpts.len()],
                }
            }
            Destination::Mx(domain) => match self.to_mx(domain).await {
                Ok(targets) => match self.signed(&leaving(letter)) {
                    Ok(letter) => self.smtp(dest, &targets, None, &letter, rcpts).await,
                    Err(why) => vec![Outcome::Temporary(why); rcpts.len()],
                },
                Err(why) => vec![Outcome::from(why); rcpts.len()],
            },
        }
    }

    /// Where and how to connect for `domain`: its MX hosts (their addresses from our resolver,
    /// their names for TLS), each with the TLS it must have. DANE first (RFC 8461 §2): a host
    /// with DNSSEC-validated TLSA records needs a certificate they name. Otherwise, under an
    /// MTA-STS policy in `enforce` mode, only the hosts it names, with STARTTLS required and the
    /// certificate validated; otherwise opportunistic TLS.
    async fn to_mx(&self, domain: &Domain) -> Result<Vec<Target>, Reply> {
        let hosts = self.mx.hosts(domain).await?;
        let mut dane = Vec::with_capacity(hosts.len());
        for host in &hosts {
            let name = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
            dane.push(self.mx.dane(domain, name).await);
        }
        // A domain that uses DANE for any host is not asked for an MTA-STS policy.
        let policy =
            if dane.iter().any(Option::is_some) { None } else { self.mta_sts.policy(domain).await? };
        let enforce = policy.filter(|p| p.mode == mta_sts::Mode::Enforce);
        let mut targets = Vec::new();
        for (host, tlsa) in hosts.iter().zip(dane) {
            let (name, port) = host.rsplit_once(':').unwrap_or((host.as_str(), "25"));
            let security = match tlsa {
                Some(records) => match dane::usable(&records) {
                    // RFC 7672 §2.2: TLSA records, none usable: TLS, not authenticated.
                    usable if usable.is_empty() => Security::Required(self.opportunistic.clone()),
                    usable => Security::Required(dane::config(usable).map_err(Reply::tls_failed)?),
                },
                None if enforce.as_ref().is_some_and(|p| !p.allows(name)) => {
                    tracing::info!(%domain, host = name, "MX host not in the MTA-STS policy: skipped");
                    continue;
                }
                None if enforce.is_some() => Security::Required(self.validated.clone()),
                None => Security::Opportunistic(self.opportunistic.clone()),
            };
            match self.mx.addresses(name).await {
                Ok(ips) if !ips.is_empty() => targets.extend(ips.into_iter().map(|ip| Target {
                    addr: std::net::SocketAddr::new(ip, port.parse().unwrap_or(25)).to_string(),
                    name: name.to_owned(),
                    security: security.clone(),
                })),
                _ => targets.push(Target { addr: host.clone(), name: name.to_owned(), security }),
            }
        }
        if enforce.is_some() && targets.is_empty() {
            return Err(Reply::mta_sts_no_mx(domain));
        }
        Ok(targets)
    }

    /// `letter` as it leaves the deployment from here: DKIM-signed with the domain's active keys
    /// when this agent is the first to know it leaves — it did not come from a peer agent (a
    /// level-2 site's letter arrives at its relay signed already; nothing is signed twice).
    /// A key that cannot sign defers the letter (or, when so configured, lets it go unsigned).
    fn signed<'a>(&self, letter: &'a Letter) -> Result<std::borrow::Cow<'a, Letter>, Reply> {
        if letter.from_peer {
            return Ok(std::borrow::Cow::Borrowed(letter));
        }
        match self.dkim.sign(&self.directory(), &letter.data) {
            Ok(None) => Ok(std::borrow::Cow::Borrowed(letter)),
            Ok(Some(data)) => {
                self.ctx.counters.signing(Ok(()));
                Ok(std::borrow::Cow::Owned(Letter { data: data.into(), ..letter.clone() }))
            }
            Err(e) => {
                self.ctx.counters.signing(Err(e.to_string()));
                if self.ctx.send_unsigned_on_dkim_failure {
                    tracing::error!(id = %letter.id, error = %e, "DKIM signing failed; sending unsigned as configured");
                    Ok(std::borrow::Cow::Borrowed(letter))
                } else {
                    tracing::error!(id = %letter.id, error = %e, "DKIM signing failed; the letter waits");
                    Err(Reply::signing_failed(&e))
                }
            }
        }
    }

    /// The bytes in `user`'s mailbox at this site (see [`usage`]).
    pub fn mailbox_size(&self, user: &LocalPart) -> u64 {
        self.sizes.size(&self.maildirs.path(user))
    }

    /// The size of every mailbox of this site's users, by folded name.
    pub fn mailbox_sizes(&self) -> BTreeMap<String, u64> {
        let dir = self.directory();
        dir.users_at(&self.ctx.site)
            .map(|u| (u.name.folded().to_owned(), self.mailbox_size(&u.name)))
            .collect()
    }

    /// Why `user`'s mailbox cannot take `size` more bytes, if it cannot: larger than the quota
    /// itself, a permanent refusal; otherwise a temporary one until letters are deleted.
    pub fn over_quota(&self, dir: &Directory, user: &LocalPart, size: u64) -> Option<Reply> {
        let quota = dir.user(user).and_then(|u| dir.quota_of(u))?;
        let who = dir.official(user);
        if size > quota {
            return Some(Reply::exceeds_quota(who, quota));
        }
        (self.mailbox_size(user).saturating_add(size) > quota).then(|| Reply::mailbox_full(who))
    }

    /// [`Deliverer::over_quota`] for a user whose mailbox is here (his home site is this one,
    /// and this site keeps mailboxes); `None` for anyone else.
    pub fn home_refusal(&self, user: &LocalPart, size: u64) -> Option<Reply> {
        let dir = self.directory();
        // Forwarded without a copy, a letter fills no mailbox here (unless it loops back).
        let files = |u: &pochta_directory::User| u.mailbox.forward.as_ref().is_none_or(|f| f.keep_copy);
        let home = dir.user(user).is_some_and(|u| u.site == self.ctx.site && files(u));
        if !home || !self.my_level(&dir).has_mailboxes() {
            return None;
        }
        self.over_quota(&dir, user, size)
    }

    /// For each of `rcpts` (mailboxes of this site), the quota's refusal of `letter`, if any.
    /// A letter of a mailbox moving here is never refused: it was in the user's mailbox already.
    pub fn quota_refusals(&self, letter: &Letter, rcpts: &[Address]) -> Vec<Option<Reply>> {
        let moving = letter.from_peer && MoveMark::find(&letter.data, &self.ctx.peer_secret).is_some();
        let dir = self.directory();
        let size = letter.data.len() as u64;
        rcpts.iter().map(|a| if moving { None } else { self.over_quota(&dir, a.local(), size) }).collect()
    }

    async fn local(&self, letter: &Letter, rcpts: &[Address]) -> Vec<Outcome> {
        let moved = letter.from_peer.then(|| MoveMark::find(&letter.data, &self.ctx.peer_secret));
        let moving = matches!(moved, Some(Some(_)));
        let refusals = self.quota_refusals(letter, rcpts);
        let fit: Vec<usize> = (0..rcpts.len()).filter(|&i| refusals[i].is_none()).collect();
        let users: Vec<_> = fit.iter().map(|&i| rcpts[i].local().clone()).collect();
        let results = if users.is_empty() {
            Vec::new()
        } else if let Some(Some(moved)) = moved {
            // A letter of a mailbox moving here: filed where it was, named by its move id.
            self.maildirs.file_moved(&users, &moved.mark, letter.data[moved.start..].into()).await
        } else {
            let relayed = letter.from_peer.then(|| RelayMark::find(&letter.data)).flatten();
            let name = match relayed {
                Some(mark) => mark.copy_name(),
                None => CopyName::Queued { created_ms: letter.created, id: letter.id.0.clone() },
            };
            // The door's spam verdict (made at the first hop, see `crate::door`): into Junk.
            let folder = crate::door::marked_spam(&letter.data).then_some(JUNK);
            self.maildirs.deliver(&users, &name, letter.data.clone(), letter.recovered, folder).await
        };
        let mut out: Vec<Outcome> = refusals
            .into_iter()
            .zip(rcpts)
            .map(|(r, a)| match r {
                Some(why) => {
                    tracing::info!(id = %letter.id, rcpt = %a, reply = %why, "over quota");
                    Outcome::from(why)
                }
                None => Outcome::Delivered,
            })
            .collect();
        for ((r, &i), user) in results.into_iter().zip(&fit).zip(&users) {
            out[i] = match r {
                Ok(()) => {
                    self.sizes.added(&self.maildirs.path(user), letter.data.len() as u64);
                    let counter =
                        if moving { &self.ctx.counters.moved_in } else { &self.ctx.counters.delivered };
                    counter.fetch_add(1, Ordering::Relaxed);
                    Outcome::Delivered
                }
                Err(e) => {
                    tracing::warn!(id = %letter.id, rcpt = %rcpts[i], error = %e, "Maildir delivery failed");
                    Outcome::Temporary(Reply::local_delivery_failed(e))
                }
            };
        }
        out
    }

    async fn to_site(
        &self,
        dest: &Destination,
        site: &SiteId,
        letter: &Letter,
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        let dir = self.directory();
        let agents: Vec<_> = dir
            .site(site)
            .map(|s| s.agents.iter().filter(|a| !a.smtp.is_empty()).cloned().collect())
            .unwrap_or_default();
        if agents.is_empty() {
            return vec![Outcome::Temporary(Reply::site_unreachable(site)); rcpts.len()];
        }
        let user = format!("agent:{}", self.ctx.agent_id);
        let field = trace::relay_field(&self.ctx.agent_id, &letter.id, letter.created);
        let letter =
            &Letter { data: crate::mail::header::prepend(&field, &letter.data).into(), ..letter.clone() };
        let mut last = Vec::new();
        for agent in agents {
            let security = match tls::pinned(&agent.tls_sha256) {
                Ok(cfg) => Security::Required(cfg),
                Err(e) => {
                    last = vec![Outcome::Temporary(Reply::tls_failed(e)); rcpts.len()];
                    continue;
                }
            };
            let auth = Some((user.as_str(), self.ctx.peer_secret.as_str()));
            last = self.smtp(dest, &[target(&agent.smtp, security)], auth, letter, rcpts).await;
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
        hosts: &[Target],
        auth: Option<(&str, &str)>,
        letter: &Letter,
        rcpts: &[Address],
    ) -> Vec<Outcome> {
        let recipients: Vec<String> = rcpts.iter().map(ToString::to_string).collect();
        let reverse_path = letter.reverse_path.as_ref().map(ToString::to_string).unwrap_or_default();
        let mut t = Transaction {
            helo: &self.ctx.hostname,
            security: Security::None,
            auth,
            reverse_path: &reverse_path,
            recipients: &recipients,
            data: &letter.data,
            timeout: self.ctx.timeout,
        };
        let mut why = Reply::no_host(dest);
        for Target { addr: host, name, security } in hosts {
            t.security = security.clone();
            match client::send(host, name, &t).await {
                Ok(out) => {
                    let outcomes = outcomes(&out);
                    if outcomes.contains(&Outcome::Delivered) {
                        // A letter of a mailbox moving away is not mail sent.
                        let moving = letter.from_peer
                            && crate::mail::header::first(&letter.data, trace::MOVE).is_some();
                        let counter =
                            if moving { &self.ctx.counters.moved_out } else { &self.ctx.counters.sent };
                        counter.fetch_add(1, Ordering::Relaxed);
                        self.ctx.counters.sent_bytes(&dest.counter_label(), letter.data.len() as u64);
                    }
                    tracing::info!(id = %letter.id, %dest, host, rcpts = rcpts.len(), "sent");
                    return outcomes;
                }
                Err(e) => {
                    tracing::info!(id = %letter.id, %dest, host, error = %e, "delivery attempt failed");
                    if let Some(r) = e.permanent() {
                        return vec![Outcome::from(r.clone()); rcpts.len()];
                    }
                    why = Reply::host_failed(host, e);
                }
            }
        }
        vec![Outcome::Temporary(why); rcpts.len()]
    }
}

/// One host to try: the address to connect to, the name its certificate must carry, and the
/// TLS it must have.
struct Target {
    addr: String,
    name: String,
    security: Security,
}

/// A `host:port` as a target: connect to it, check its certificate for the host part.
fn target(host: &str, security: Security) -> Target {
    let name = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(['[', ']']);
    Target { addr: host.to_owned(), name: name.to_owned(), security }
}

/// `letter` as it leaves the deployment: without the agents' [`trace::RELAY`] field.
fn leaving(letter: &Letter) -> std::borrow::Cow<'_, Letter> {
    match trace::without_relay(&letter.data) {
        Some(data) => std::borrow::Cow::Owned(Letter { data: data.into(), ..letter.clone() }),
        None => std::borrow::Cow::Borrowed(letter),
    }
}

fn outcomes(out: &client::Outcome) -> Vec<Outcome> {
    out.rcpt
        .iter()
        .map(|r| match (r, &out.data) {
            (Err(reply), _) => Outcome::from(reply.clone()),
            (Ok(()), Some(d)) if d.is_positive() => Outcome::Delivered,
            (Ok(()), Some(d)) => Outcome::from(d.clone()),
            (Ok(()), None) => Outcome::Temporary(Reply::no_answer_to_data()),
        })
        .collect()
}
