//! The mail domain as data: sites, users, aliases and lists, and the edits (`Op`) that change them.
//!
//! `Directory::apply` is the only way a directory changes, on the central server and on every
//! agent alike, so both sides enforce the same rules and end up with equal directories.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::address::{Address, Domain, LocalPart};
use crate::app_password::{AppPassword, MAX_APP_PASSWORD_LABEL_CHARS, MAX_APP_PASSWORDS};
use crate::dkim::{self, DkimError, DkimKey, DkimKeys, Selector};

/// Names that belong to the system and cannot be users, aliases or lists.
pub const RESERVED_NAMES: &[&str] = &["all"];

/// `s` trimmed and lower-cased when it is one DNS label (letters, digits, hyphens, not at either
/// end; 1–63 octets): site ids and DKIM selectors. `Err` carries the text as it was tried.
pub(crate) fn dns_label(s: &str) -> Result<String, String> {
    let s = s.trim().to_ascii_lowercase();
    let ok = !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok { Ok(s) } else { Err(s) }
}

/// A site, named by its subdomain label: site `msk` serves `user@msk.example.org`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SiteId(String);

impl SiteId {
    /// A site id is one lower-case DNS label (letters, digits, hyphens; 1–63 octets).
    pub fn parse(s: &str) -> Result<Self, DirectoryError> {
        dns_label(s).map(Self).map_err(DirectoryError::BadSiteId)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl<'de> Deserialize<'de> for SiteId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SiteId::parse(&s).map_err(serde::de::Error::custom)
    }
}
impl fmt::Display for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for SiteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SiteId({})", self.0)
    }
}

/// The server level of a site, as in the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Level {
    /// High-priority MX, no local mailboxes.
    Zero,
    /// Lower-priority MX with local users.
    One,
    /// Not an MX; local users only; may sit behind NAT or a slow link.
    Two,
}
impl TryFrom<u8> for Level {
    type Error = DirectoryError;
    fn try_from(v: u8) -> Result<Self, DirectoryError> {
        match v {
            0 => Ok(Level::Zero),
            1 => Ok(Level::One),
            2 => Ok(Level::Two),
            _ => Err(DirectoryError::BadLevel(v)),
        }
    }
}
impl From<Level> for u8 {
    fn from(l: Level) -> u8 {
        match l {
            Level::Zero => 0,
            Level::One => 1,
            Level::Two => 2,
        }
    }
}
impl Level {
    /// Whether a site of this level keeps mailboxes.
    pub fn has_mailboxes(self) -> bool {
        self != Level::Zero
    }
}

/// An enrolled agent of a site, as the other agents and the server see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentEndpoint {
    /// Stable id given at enrollment.
    pub id: String,
    /// Base URL of the agent's HTTPS endpoint (`https://host:port`), or empty when it only pulls.
    pub url: String,
    /// SHA-256 of the agent's TLS certificate (DER), lower-case hex: peers pin it.
    pub tls_sha256: String,
    /// `host:port` of the agent's SMTP listener for mail between sites (the port-25 role), or
    /// empty when other sites cannot connect to it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    /// Human name, e.g. "Head office".
    pub name: String,
    pub level: Level,
    #[serde(default)]
    pub agents: Vec<AgentEndpoint>,
    /// The storage quota, in bytes, of users of this site who have none of their own; `None`:
    /// no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_quota: Option<u64>,
    /// The addresses this site's mail leaves from, as the domain's SPF record lists them; empty:
    /// the addresses its agents advertise (a site behind NAT sends from its router's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outgoing: Vec<std::net::IpAddr>,
}

/// An Argon2id hash in PHC string form. Never the password itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);
impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The local part of the official address `name@domain`.
    pub name: LocalPart,
    #[serde(default)]
    pub display_name: String,
    /// Home site: where the mailbox lives.
    pub site: SiteId,
    /// Sites the user lived at before; `name@former.domain` keeps working.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub former_sites: BTreeSet<SiteId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<PasswordHash>,
    pub enabled: bool,
    /// Quota, forwarding and vacation: what his home agent does with his mail.
    #[serde(default, skip_serializing_if = "MailboxSettings::is_empty")]
    pub mailbox: MailboxSettings,
    /// Passwords for his mail programs, each revocable alone (see `app_password`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_passwords: Vec<AppPassword>,
}

/// What a user's home agent does with his mail besides filing it. Set by the user on `/me`
/// and by administrators; replicated with the user record like everything else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxSettings {
    /// Storage quota in bytes; `None` takes the site's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forwarding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vacation: Option<Vacation>,
}

impl MailboxSettings {
    pub fn is_empty(&self) -> bool {
        *self == MailboxSettings::default()
    }
}

/// Forwarding of every letter for the user to other addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forwarding {
    /// At most [`MAX_FORWARDS`] addresses, inside the domain or outside.
    pub to: BTreeSet<Address>,
    /// Also file the letter in the user's own mailbox.
    pub keep_copy: bool,
}

/// An automatic reply (RFC 3834) while the user is away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vacation {
    /// First day the reply is sent (UTC); `None`: from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Day>,
    /// Last day the reply is sent (UTC, inclusive); `None`: until switched off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Day>,
    pub subject: String,
    pub text: String,
    /// At most one reply per sender in this many days.
    #[serde(default = "default_vacation_days")]
    pub interval_days: u32,
}

fn default_vacation_days() -> u32 {
    7
}

impl Vacation {
    /// Whether the reply is sent on `today`.
    pub fn active_on(&self, today: Day) -> bool {
        self.start.is_none_or(|s| s <= today) && self.end.is_none_or(|e| today <= e)
    }
}

/// Limits on mailbox settings, the same on the server and the agents.
pub const MAX_FORWARDS: usize = 10;
pub const MAX_VACATION_SUBJECT_CHARS: usize = 200;
pub const MAX_VACATION_TEXT_BYTES: usize = 10_000;
pub const MAX_VACATION_DAYS: u32 = 365;

/// A calendar day (UTC), written `YYYY-MM-DD` on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(i64);

impl Day {
    /// Days since 1970-01-01.
    pub fn from_days(days: i64) -> Day {
        Day(days)
    }
    pub fn days(self) -> i64 {
        self.0
    }
    /// The day a Unix time falls on (UTC).
    pub fn of_unix(t: i64) -> Day {
        Day(t.div_euclid(86_400))
    }
    /// `YYYY-MM-DD`, a real date between 1970 and 9999.
    pub fn parse(s: &str) -> Result<Day, DirectoryError> {
        let bad = || DirectoryError::BadDay(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| {
            s.get(r).filter(|t| t.bytes().all(|c| c.is_ascii_digit()))?.parse().ok()
        };
        let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return Err(bad()) };
        let day = Day(crate::date::days_from_civil(y, m as u32, d as u32));
        let c = crate::date::Civil::from_unix(day.0 * 86_400);
        if y < 1970 || (c.year, c.month, c.day) != (y, m as u32, d as u32) {
            return Err(bad());
        }
        Ok(day)
    }
}
impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = crate::date::Civil::from_unix(self.0 * 86_400);
        write!(f, "{:04}-{:02}-{:02}", c.year, c.month, c.day)
    }
}
impl fmt::Debug for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Day({self})")
    }
}
impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Day::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// Another name for one or more addresses.
    Alias,
    /// A mailing list.
    List,
}

/// Who may send to a list or alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PostingPolicy {
    Anyone,
    /// Only authenticated users of the domain and its own agents.
    Internal,
    /// Only the list's own members.
    Members,
}

/// An alias or a mailing list of the main domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: LocalPart,
    pub kind: GroupKind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Users, aliases and lists (addresses in our domain) and external addresses.
    pub members: BTreeSet<Address>,
    pub policy: PostingPolicy,
}

/// One edit of the directory. Records are sent whole, so applying an op twice is harmless
/// and the agent's replica never depends on merging partial updates.
///
/// The one exception is a user's password hash: it travels only when it changes
/// (`SetPassword`, or `PutUser` with `password: Some`). `PutUser` with `password: None` keeps the
/// hash the user has. The hash is the largest and most sensitive part of a user record, and most
/// edits (names, moves, disabling) do not touch it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    PutSite(Site),
    DeleteSite {
        id: SiteId,
    },
    PutUser(User),
    SetPassword {
        name: LocalPart,
        hash: Option<PasswordHash>,
    },
    DeleteUser {
        name: LocalPart,
    },
    PutGroup(Group),
    DeleteGroup {
        name: LocalPart,
    },
    /// A DKIM key, whole (with its private key: see `dkim`).
    PutDkimKey(DkimKey),
    /// The domain's settings, whole.
    PutSettings(DomainSettings),
    DeleteDkimKey {
        selector: Selector,
    },
}

impl Op {
    /// A `PutUser` for a changed user record that leaves his password hash as it is.
    pub fn put_user_keeping_password(u: &User) -> Op {
        Op::PutUser(User { password: None, ..u.clone() })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("'{0}' is not a valid site id: use one DNS label (letters, digits, hyphens)")]
    BadSiteId(String),
    #[error("{0} is not a server level (0, 1 or 2)")]
    BadLevel(u8),
    #[error("there is no site '{0}'")]
    NoSuchSite(SiteId),
    #[error("site '{0}' still has {1} users; move them first")]
    SiteNotEmpty(SiteId, usize),
    #[error("there is no user '{0}'")]
    NoSuchUser(LocalPart),
    #[error("there is no alias or list '{0}'")]
    NoSuchGroup(LocalPart),
    #[error("the name '{0}' is already taken by a {1}")]
    NameTaken(LocalPart, &'static str),
    #[error("the name '{0}' is reserved")]
    Reserved(LocalPart),
    /// See `names`: the rules for names the directory gives out.
    #[error("the name '{0}' contains {1:?}: use letters, digits, dots, hyphens and underscores")]
    NameChar(LocalPart, char),
    #[error("the name '{0}' starts or ends with a dot, or has two dots in a row")]
    NameDots(LocalPart),
    #[error("the name '{0}' mixes letters of different scripts (such as Latin and Cyrillic)")]
    MixedScripts(LocalPart),
    #[error("the name '{0}' looks like the existing name '{1}'")]
    Confusable(LocalPart, LocalPart),
    #[error("site '{0}' is level 0 and keeps no mailboxes")]
    NoMailboxes(SiteId),
    #[error("a {0} cannot contain itself")]
    SelfMember(&'static str),
    #[error("'{0}' is not a date (YYYY-MM-DD)")]
    BadDay(String),
    #[error("a user cannot forward to more than {MAX_FORWARDS} addresses")]
    TooManyForwards,
    #[error("'{0}' forwards to his own address")]
    ForwardsToSelf(LocalPart),
    #[error("the vacation reply's subject is empty or longer than {MAX_VACATION_SUBJECT_CHARS} characters")]
    BadVacationSubject,
    #[error("the vacation reply's text is empty or longer than {MAX_VACATION_TEXT_BYTES} bytes")]
    BadVacationText,
    #[error("the vacation reply ends before it starts")]
    VacationEndsBeforeStart,
    #[error("the vacation reply's interval must be 1 to {MAX_VACATION_DAYS} days")]
    BadVacationInterval,
    /// The field (`display_name`, `description`, `name`, `vacation_subject`, `vacation_text`)
    /// holds a control character: such text would break the mail headers and pages built from it.
    #[error("the {0} contains control characters")]
    ControlCharacters(&'static str),
    #[error("{0}")]
    Dkim(#[from] DkimError),
    #[error("the name '{0}' has letters outside ASCII; this domain allows Latin letters only")]
    NonAsciiName(LocalPart),
    #[error("a user cannot have more than {MAX_APP_PASSWORDS} app passwords")]
    TooManyAppPasswords,
    #[error("an app password's name must have 1 to {MAX_APP_PASSWORD_LABEL_CHARS} characters")]
    BadAppPasswordLabel,
    /// Two with one id, or a digest not in its form: never made by the server.
    #[error("the app passwords are malformed")]
    BadAppPasswords,
}

/// The rules for a user's app passwords.
fn check_app_passwords(apps: &[AppPassword]) -> Result<(), DirectoryError> {
    if apps.len() > MAX_APP_PASSWORDS {
        return Err(DirectoryError::TooManyAppPasswords);
    }
    let mut ids = BTreeSet::new();
    for a in apps {
        let n = a.label.chars().count();
        if n == 0 || n > MAX_APP_PASSWORD_LABEL_CHARS || a.label.trim() != a.label {
            return Err(DirectoryError::BadAppPasswordLabel);
        }
        if has_control(&a.label) {
            return Err(DirectoryError::ControlCharacters("label"));
        }
        if !ids.insert(a.id) || !a.digest.is_well_formed() {
            return Err(DirectoryError::BadAppPasswords);
        }
    }
    Ok(())
}

/// What holds for the whole mail domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSettings {
    /// New names may have letters of other alphabets (`иванов@`): such addresses need SMTPUTF8
    /// end to end, which many outside servers and clients lack. Off by default.
    #[serde(default)]
    pub unicode_names: bool,
}

impl DomainSettings {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// Whether one-line directory text holds a control character (CR, LF, NUL, TAB, DEL, C1, ...).
fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The whole directory of one mail domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub domain: Domain,
    pub sites: BTreeMap<SiteId, Site>,
    pub users: BTreeMap<LocalPart, User>,
    pub groups: BTreeMap<LocalPart, Group>,
    /// The domain's DKIM keys (absent from snapshots made before there were any).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dkim: DkimKeys,
    #[serde(default, skip_serializing_if = "DomainSettings::is_default")]
    pub settings: DomainSettings,
}

impl Directory {
    pub fn new(domain: Domain) -> Self {
        Self {
            domain,
            sites: BTreeMap::new(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            dkim: BTreeMap::new(),
            settings: DomainSettings::default(),
        }
    }

    /// The keys that sign outgoing mail now: at most one per algorithm, RSA first.
    pub fn signing_keys(&self) -> impl Iterator<Item = &DkimKey> {
        let mut active: Vec<&DkimKey> = self.dkim.values().filter(|k| k.signs()).collect();
        active.sort_by_key(|k| k.algorithm);
        active.into_iter()
    }

    pub fn site(&self, id: &SiteId) -> Option<&Site> {
        self.sites.get(id)
    }
    pub fn user(&self, name: &LocalPart) -> Option<&User> {
        self.users.get(name)
    }
    pub fn group(&self, name: &LocalPart) -> Option<&Group> {
        self.groups.get(name)
    }

    /// The site whose subdomain `domain` is (`msk.example.org` → site `msk`).
    pub fn site_of_domain(&self, domain: &Domain) -> Option<&Site> {
        let label = domain.child_label_of(&self.domain)?;
        self.sites.get(&SiteId::parse(label).ok()?)
    }

    /// `site.domain`, the domain of a site's local addresses.
    pub fn site_domain(&self, site: &SiteId) -> Domain {
        self.domain.child(site.as_str()).expect("a site id is a valid DNS label")
    }

    /// The official address `name@domain`.
    pub fn official(&self, name: &LocalPart) -> Address {
        Address::new(name.clone(), self.domain.clone())
    }

    /// Whether an address belongs to this mail domain or one of its site subdomains.
    /// The site a level-2 site sends outside mail through: a level-0 site, else a level-1
    /// site, with an agent that runs SMTP. The agents and the server's address trace both ask.
    pub fn relay_site(&self, me: &SiteId) -> Option<SiteId> {
        [Level::Zero, Level::One].into_iter().find_map(|level| {
            self.sites
                .values()
                .find(|s| s.level == level && s.id != *me && s.agents.iter().any(|a| !a.smtp.is_empty()))
                .map(|s| s.id.clone())
        })
    }

    pub fn is_ours(&self, domain: &Domain) -> bool {
        *domain == self.domain || self.site_of_domain(domain).is_some()
    }

    pub fn users_at<'a>(&'a self, site: &'a SiteId) -> impl Iterator<Item = &'a User> + 'a {
        self.users.values().filter(move |u| &u.site == site)
    }

    fn name_free(&self, name: &LocalPart, for_user: bool) -> Result<(), DirectoryError> {
        if RESERVED_NAMES.contains(&name.folded()) {
            return Err(DirectoryError::Reserved(name.clone()));
        }
        if !self.users.contains_key(name) && !self.groups.contains_key(name) {
            crate::names::check_new(
                name,
                self.users.keys().chain(self.groups.keys()),
                self.settings.unicode_names,
            )?;
        }
        if for_user && self.groups.contains_key(name) {
            let kind = match self.groups[name].kind {
                GroupKind::Alias => "alias",
                GroupKind::List => "list",
            };
            return Err(DirectoryError::NameTaken(name.clone(), kind));
        }
        if !for_user && self.users.contains_key(name) {
            return Err(DirectoryError::NameTaken(name.clone(), "user"));
        }
        Ok(())
    }

    /// Checks an op against the directory without changing it.
    pub fn check(&self, op: &Op) -> Result<(), DirectoryError> {
        match op {
            Op::PutSite(s) => {
                if has_control(&s.name) {
                    return Err(DirectoryError::ControlCharacters("name"));
                }
                let n = self.users_at(&s.id).count();
                if !s.level.has_mailboxes() && n > 0 {
                    return Err(DirectoryError::SiteNotEmpty(s.id.clone(), n));
                }
                Ok(())
            }
            Op::DeleteSite { id } => {
                if !self.sites.contains_key(id) {
                    return Err(DirectoryError::NoSuchSite(id.clone()));
                }
                let n = self.users_at(id).count();
                if n > 0 { Err(DirectoryError::SiteNotEmpty(id.clone(), n)) } else { Ok(()) }
            }
            Op::PutUser(u) => {
                if has_control(&u.display_name) {
                    return Err(DirectoryError::ControlCharacters("display_name"));
                }
                self.name_free(&u.name, true)?;
                self.check_mailbox(u)?;
                check_app_passwords(&u.app_passwords)?;
                match self.sites.get(&u.site) {
                    None => Err(DirectoryError::NoSuchSite(u.site.clone())),
                    Some(s) if !s.level.has_mailboxes() => Err(DirectoryError::NoMailboxes(s.id.clone())),
                    Some(_) => Ok(()),
                }
            }
            Op::DeleteUser { name } | Op::SetPassword { name, .. } => {
                self.users.get(name).map(|_| ()).ok_or_else(|| DirectoryError::NoSuchUser(name.clone()))
            }
            Op::PutGroup(g) => {
                if has_control(&g.description) {
                    return Err(DirectoryError::ControlCharacters("description"));
                }
                self.name_free(&g.name, false)?;
                if g.members.contains(&self.official(&g.name)) {
                    return Err(DirectoryError::SelfMember(match g.kind {
                        GroupKind::Alias => "alias",
                        GroupKind::List => "list",
                    }));
                }
                Ok(())
            }
            Op::DeleteGroup { name } => {
                self.groups.get(name).map(|_| ()).ok_or_else(|| DirectoryError::NoSuchGroup(name.clone()))
            }
            Op::PutDkimKey(k) => Ok(dkim::check_put(&self.dkim, k)?),
            Op::DeleteDkimKey { selector } => match self.dkim.contains_key(selector) {
                true => Ok(()),
                false => Err(DkimError::NoSuchKey(selector.clone()).into()),
            },
            Op::PutSettings(_) => Ok(()),
        }
    }

    /// The rules for a user's quota, forwarding and vacation.
    fn check_mailbox(&self, u: &User) -> Result<(), DirectoryError> {
        if let Some(f) = &u.mailbox.forward {
            if f.to.len() > MAX_FORWARDS {
                return Err(DirectoryError::TooManyForwards);
            }
            let own = |a: &Address| {
                a.local() == &u.name
                    && (*a.domain() == self.domain || self.site_of_domain(a.domain()).is_some())
            };
            if f.to.iter().any(own) {
                return Err(DirectoryError::ForwardsToSelf(u.name.clone()));
            }
        }
        if let Some(v) = &u.mailbox.vacation {
            let n = v.subject.chars().count();
            if n == 0 || n > MAX_VACATION_SUBJECT_CHARS {
                return Err(DirectoryError::BadVacationSubject);
            }
            if v.text.trim().is_empty() || v.text.len() > MAX_VACATION_TEXT_BYTES {
                return Err(DirectoryError::BadVacationText);
            }
            // A header may not carry line breaks; the body may, but no other controls.
            if has_control(&v.subject) {
                return Err(DirectoryError::ControlCharacters("vacation_subject"));
            }
            if v.text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
                return Err(DirectoryError::ControlCharacters("vacation_text"));
            }
            if let (Some(s), Some(e)) = (v.start, v.end)
                && e < s
            {
                return Err(DirectoryError::VacationEndsBeforeStart);
            }
            if v.interval_days == 0 || v.interval_days > MAX_VACATION_DAYS {
                return Err(DirectoryError::BadVacationInterval);
            }
        }
        Ok(())
    }

    /// The quota in force for a user: his own, else his site's default; `None`: no limit.
    pub fn quota_of(&self, u: &User) -> Option<u64> {
        u.mailbox.quota.or_else(|| self.sites.get(&u.site).and_then(|s| s.default_quota))
    }

    /// Applies one op, or changes nothing and says why.
    pub fn apply(&mut self, op: &Op) -> Result<(), DirectoryError> {
        self.check(op)?;
        match op.clone() {
            Op::PutSite(s) => {
                self.sites.insert(s.id.clone(), s);
            }
            Op::DeleteSite { id } => {
                self.sites.remove(&id);
            }
            Op::PutUser(mut u) => {
                if u.password.is_none() {
                    u.password = self.users.get(&u.name).and_then(|old| old.password.clone());
                }
                self.users.insert(u.name.clone(), u);
            }
            Op::SetPassword { name, hash } => {
                if let Some(u) = self.users.get_mut(&name) {
                    u.password = hash;
                }
            }
            Op::DeleteUser { name } => {
                self.users.remove(&name);
            }
            Op::PutGroup(g) => {
                self.groups.insert(g.name.clone(), g);
            }
            Op::DeleteGroup { name } => {
                self.groups.remove(&name);
            }
            Op::PutDkimKey(k) => {
                self.dkim.insert(k.selector.clone(), k);
            }
            Op::DeleteDkimKey { selector } => {
                self.dkim.remove(&selector);
            }
            Op::PutSettings(settings) => {
                self.settings = settings;
            }
        }
        Ok(())
    }

    /// Applies all ops or none.
    pub fn apply_all(&mut self, ops: &[Op]) -> Result<(), DirectoryError> {
        let mut next = self.clone();
        for op in ops {
            next.apply(op)?;
        }
        *self = next;
        Ok(())
    }

    /// Groups that name `addr` directly as a member.
    pub fn groups_containing<'a>(&'a self, addr: &'a Address) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.values().filter(move |g| g.members.contains(addr))
    }

    /// The ops that turn an empty directory of the same domain into this one.
    pub fn to_ops(&self) -> Vec<Op> {
        let sites = self.sites.values().cloned().map(Op::PutSite);
        let users = self.users.values().cloned().map(Op::PutUser);
        let groups = self.groups.values().cloned().map(Op::PutGroup);
        let keys = self.dkim.values().cloned().map(Op::PutDkimKey);
        let settings = (!self.settings.is_default()).then(|| Op::PutSettings(self.settings.clone()));
        // Settings first: they decide which names the others may have.
        settings.into_iter().chain(sites).chain(users).chain(groups).chain(keys).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> (Directory, User) {
        let mut d = Directory::new(Domain::parse("example.org").unwrap());
        let msk = SiteId::parse("msk").unwrap();
        let site = Site {
            id: msk.clone(),
            name: "Moscow".into(),
            level: Level::One,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        };
        d.apply(&Op::PutSite(site)).unwrap();
        let u = User {
            app_passwords: Vec::new(),
            name: LocalPart::parse("ivan").unwrap(),
            display_name: String::new(),
            site: msk,
            former_sites: BTreeSet::new(),
            password: None,
            enabled: true,
            mailbox: MailboxSettings::default(),
        };
        (d, u)
    }

    fn vacation() -> Vacation {
        Vacation {
            start: None,
            end: None,
            subject: "Away".into(),
            text: "Back soon.".into(),
            interval_days: 7,
        }
    }

    #[test]
    fn days_parse_only_real_dates() {
        assert_eq!(Day::parse("2026-12-31").unwrap().to_string(), "2026-12-31");
        assert_eq!(Day::parse("2024-02-29").unwrap(), Day::of_unix(1_709_164_800));
        for bad in ["2025-02-29", "2026-13-01", "2026-1-01", "20261201xx", "1969-12-31", "2026-12-0a", ""] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
        let v = Vacation {
            start: Day::parse("2026-12-01").ok(),
            end: Day::parse("2026-12-03").ok(),
            ..vacation()
        };
        assert!(!v.active_on(Day::parse("2026-11-30").unwrap()));
        assert!(v.active_on(Day::parse("2026-12-03").unwrap()));
        assert!(!v.active_on(Day::parse("2026-12-04").unwrap()));
    }

    #[test]
    fn mailbox_settings_are_checked_and_change_nothing_when_refused() {
        let (mut d, mut u) = dir();
        let me = Address::parse("ivan@msk.example.org").unwrap();
        u.mailbox.forward = Some(Forwarding { to: [me].into(), keep_copy: true });
        assert_eq!(d.apply(&Op::PutUser(u.clone())), Err(DirectoryError::ForwardsToSelf(u.name.clone())));
        assert!(d.users.is_empty());
        u.mailbox.forward =
            Some(Forwarding { to: [Address::parse("boss@other.example").unwrap()].into(), keep_copy: false });
        u.mailbox.vacation = Some(Vacation { subject: "a\r\nBcc: x@y".into(), ..vacation() });
        assert_eq!(
            d.apply(&Op::PutUser(u.clone())),
            Err(DirectoryError::ControlCharacters("vacation_subject"))
        );
        u.mailbox.vacation = Some(Vacation { interval_days: 0, ..vacation() });
        assert_eq!(d.apply(&Op::PutUser(u.clone())), Err(DirectoryError::BadVacationInterval));
        u.mailbox.vacation = Some(Vacation {
            start: Day::parse("2026-12-02").ok(),
            end: Day::parse("2026-12-01").ok(),
            ..vacation()
        });
        assert_eq!(d.apply(&Op::PutUser(u.clone())), Err(DirectoryError::VacationEndsBeforeStart));
        u.mailbox.vacation = Some(vacation());
        d.apply(&Op::PutUser(u.clone())).unwrap();
        assert_eq!(d.user(&u.name).unwrap().mailbox.vacation, Some(vacation()));
    }

    #[test]
    fn control_characters_in_directory_text_are_refused() {
        let (mut d, mut u) = dir();
        u.display_name = "Ivan\r\nBcc: all@example.org".into();
        assert_eq!(d.apply(&Op::PutUser(u.clone())), Err(DirectoryError::ControlCharacters("display_name")));
        u.display_name = "Иван\u{0}".into();
        assert!(d.apply(&Op::PutUser(u.clone())).is_err());
        let site = Site { name: "Head\toffice".into(), ..d.sites.values().next().unwrap().clone() };
        assert_eq!(d.apply(&Op::PutSite(site)), Err(DirectoryError::ControlCharacters("name")));
        let g = Group {
            name: LocalPart::parse("staff").unwrap(),
            kind: GroupKind::List,
            description: "a\u{85}b".into(),
            members: BTreeSet::new(),
            policy: PostingPolicy::Anyone,
        };
        assert_eq!(d.apply(&Op::PutGroup(g)), Err(DirectoryError::ControlCharacters("description")));
        assert!(d.users.is_empty() && d.groups.is_empty());
        u.display_name = "Иван Петров".into();
        d.apply(&Op::PutUser(u)).unwrap();
    }

    #[test]
    fn a_users_quota_overrides_his_sites_default() {
        let (mut d, mut u) = dir();
        assert_eq!(d.quota_of(&u), None);
        d.sites.get_mut(&u.site).unwrap().default_quota = Some(1 << 30);
        assert_eq!(d.quota_of(&u), Some(1 << 30));
        u.mailbox.quota = Some(5 << 20);
        assert_eq!(d.quota_of(&u), Some(5 << 20));
    }

    #[test]
    fn records_without_mailbox_settings_read_as_before() {
        let (_, u) = dir();
        let json = serde_json::to_string(&u).unwrap();
        assert!(!json.contains("mailbox"), "{json}");
        assert_eq!(serde_json::from_str::<User>(&json).unwrap(), u);
    }
}
