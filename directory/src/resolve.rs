//! Recipient resolution: what one `RCPT TO` address means, decided from the directory alone.
//!
//! The SMTP agent calls [`resolve`] at `RCPT` time against its in-memory replica, so that a
//! recipient of ours that does not exist is refused by the first agent that sees it (product
//! invariant 1), and so that aliases and lists are expanded once, at the first agent, into final
//! mailboxes grouped by home site (invariant 3).
//!
//! * `name@domain` is a user, an alias or a list, or `all` (every enabled user);
//! * `name@site.domain` is a user whose home site is `site` or was `site` before a move, or
//!   `all` (every enabled user of the site). Aliases and lists have no site addresses.
//!
//! Only the posting policy of the addressed group is checked; a list inside a list is expanded
//! whatever its own policy. Expansion visits each group once, so cycles terminate, and the
//! result is made of sets, so each mailbox gets one copy.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::btree_map::Entry;

use crate::address::{Address, LocalPart};
use crate::model::{Directory, Group, PostingPolicy, SiteId, User};

/// The system name that expands to every enabled user (of the domain or of one site).
const ALL: &str = "all";

/// Who is sending; decides the posting policies of aliases and lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// The reverse path, or `None` for the null reverse path `<>` (bounces).
    pub address: Option<Address>,
    /// An authenticated user of the domain, or a peer agent of the domain.
    pub internal: bool,
}

/// Why a recipient is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The domain is not ours; the caller decides whether it may relay there.
    #[error("the recipient's domain is not served here")]
    NotOurs,
    #[error("there is no such user, alias or list here")]
    UnknownRecipient,
    #[error("the mailbox is disabled and does not accept mail")]
    Disabled,
    #[error("the sender is not allowed to post to '{group}'")]
    NotAllowed { group: LocalPart },
}

impl Rejection {
    /// The SMTP reply code and enhanced status code for this rejection.
    pub fn smtp(&self) -> (u16, &'static str) {
        match self {
            // RFC 5321 §4.2.3 (554 transaction failed); RFC 3463 §3.8 (X.7.1 delivery not
            // authorized): we do not relay for this sender.
            Rejection::NotOurs => (554, "5.7.1"),
            // RFC 5321 §4.2.3 (550 mailbox unavailable); RFC 3463 §3.2 (X.1.1 bad destination
            // mailbox address).
            Rejection::UnknownRecipient => (550, "5.1.1"),
            // RFC 3463 §3.3 (X.2.1 mailbox disabled, not accepting messages).
            Rejection::Disabled => (550, "5.2.1"),
            // RFC 3463 §3.8 (X.7.1 delivery not authorized, message refused).
            Rejection::NotAllowed { .. } => (550, "5.7.1"),
        }
    }
}

/// The final destinations of one or more recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Mailboxes of our users, by home site: each remote site gets one copy for all of them.
    pub local: BTreeMap<SiteId, BTreeSet<LocalPart>>,
    /// Addresses outside the domain, reached through aliases and lists.
    pub external: BTreeSet<Address>,
}

impl Resolution {
    /// Adds `other`'s destinations; a mailbox present in both is kept once.
    pub fn merge(&mut self, other: Resolution) {
        for (site, mut names) in other.local {
            match self.local.entry(site) {
                Entry::Vacant(e) => {
                    e.insert(names);
                }
                Entry::Occupied(mut e) => e.get_mut().append(&mut names),
            }
        }
        let mut external = other.external;
        self.external.append(&mut external);
    }

    /// The number of deliveries: local mailboxes plus external addresses.
    pub fn mailbox_count(&self) -> usize {
        self.local.values().map(BTreeSet::len).sum::<usize>() + self.external.len()
    }

    /// Whether there is nowhere to deliver (an empty list, `all@` of a site without users).
    pub fn is_empty(&self) -> bool {
        self.external.is_empty() && self.local.values().all(BTreeSet::is_empty)
    }

    fn add_user(&mut self, user: &User) {
        match self.local.get_mut(&user.site) {
            Some(names) => {
                if !names.contains(&user.name) {
                    names.insert(user.name.clone());
                }
            }
            None => {
                self.local.insert(user.site.clone(), BTreeSet::from([user.name.clone()]));
            }
        }
    }

    fn contains_user(&self, user: &User) -> bool {
        self.local.get(&user.site).is_some_and(|names| names.contains(&user.name))
    }
}

/// Resolves one recipient address for `sender`.
///
/// A recipient that resolves to nobody (a list without members, `all@` of a site without
/// users) is accepted with an empty [`Resolution`]; the caller may treat that as it likes.
pub fn resolve(dir: &Directory, rcpt: &Address, sender: &Sender) -> Result<Resolution, Rejection> {
    match Target::of(dir, rcpt).ok_or(Rejection::NotOurs)? {
        Target::Unknown => Err(Rejection::UnknownRecipient),
        Target::User(user) if !user.enabled => Err(Rejection::Disabled),
        Target::User(user) => {
            let mut res = Resolution::default();
            res.add_user(user);
            Ok(res)
        }
        // `all@` addresses are for internal senders only (ARCHITECTURE.md, "Invariants").
        Target::All(_) if !sender.internal => Err(Rejection::NotAllowed { group: rcpt.local().clone() }),
        Target::All(site) => {
            let mut expander = Expander::new(dir);
            expander.add_all(site);
            Ok(expander.out)
        }
        Target::Group(group) => {
            let not_allowed = || Rejection::NotAllowed { group: group.name.clone() };
            match group.policy {
                PostingPolicy::Anyone => {}
                PostingPolicy::Internal if sender.internal => {}
                PostingPolicy::Internal => return Err(not_allowed()),
                // Checked below, on the expansion.
                PostingPolicy::Members => {}
            }
            let mut expander = Expander::new(dir);
            expander.expand(group);
            let res = expander.out;
            if group.policy == PostingPolicy::Members && !is_member(dir, group, &res, sender) {
                return Err(not_allowed());
            }
            Ok(res)
        }
    }
}

/// Resolves several recipients of one message: the accepted ones merged (one copy per mailbox
/// across all of them), the refused ones with their reasons, in input order.
pub fn resolve_all<'a>(
    dir: &Directory,
    rcpts: impl IntoIterator<Item = &'a Address>,
    sender: &Sender,
) -> (Resolution, Vec<(Address, Rejection)>) {
    let mut accepted = Resolution::default();
    let mut refused = Vec::new();
    for rcpt in rcpts {
        match resolve(dir, rcpt, sender) {
            Ok(res) => accepted.merge(res),
            Err(why) => refused.push((rcpt.clone(), why)),
        }
    }
    (accepted, refused)
}

/// What an address of ours names.
enum Target<'d> {
    User(&'d User),
    Group(&'d Group),
    /// `all@domain` (`None`) or `all@site.domain`.
    All(Option<&'d SiteId>),
    /// Our domain, but nobody by that name.
    Unknown,
}

impl<'d> Target<'d> {
    /// `None` when the address is not in our domain or one of our sites' subdomains.
    fn of(dir: &'d Directory, addr: &Address) -> Option<Target<'d>> {
        let local = addr.local();
        if *addr.domain() == dir.domain {
            return Some(if local.folded() == ALL {
                Target::All(None)
            } else if let Some(user) = dir.user(local) {
                Target::User(user)
            } else if let Some(group) = dir.group(local) {
                Target::Group(group)
            } else {
                Target::Unknown
            });
        }
        let site = &dir.site_of_domain(addr.domain())?.id;
        if local.folded() == ALL {
            return Some(Target::All(Some(site)));
        }
        // A user's former local addresses keep working after a move.
        Some(match dir.user(local) {
            Some(user) if user.site == *site || user.former_sites.contains(site) => Target::User(user),
            _ => Target::Unknown,
        })
    }
}

/// Whether `sender` may post to the members-only `group`, whose expansion is `expansion`: the
/// sender is one of the group's member addresses, or an address of a user the group reaches.
fn is_member(dir: &Directory, group: &Group, expansion: &Resolution, sender: &Sender) -> bool {
    let Some(from) = &sender.address else { return false };
    if group.members.contains(from) {
        return true;
    }
    match Target::of(dir, from) {
        Some(Target::User(user)) => expansion.contains_user(user),
        _ => false,
    }
}

/// Expands groups into mailboxes, visiting each group and each `all@` once.
struct Expander<'d> {
    dir: &'d Directory,
    seen_groups: BTreeSet<&'d LocalPart>,
    all_done: bool,
    sites_done: BTreeSet<&'d SiteId>,
    pending: Vec<&'d Group>,
    out: Resolution,
}

impl<'d> Expander<'d> {
    fn new(dir: &'d Directory) -> Self {
        Self {
            dir,
            seen_groups: BTreeSet::new(),
            all_done: false,
            sites_done: BTreeSet::new(),
            pending: Vec::new(),
            out: Resolution::default(),
        }
    }

    /// Everything `group` reaches, through any depth of nesting.
    fn expand(&mut self, group: &'d Group) {
        self.push(group);
        while let Some(group) = self.pending.pop() {
            for member in &group.members {
                self.visit(member);
            }
        }
    }

    fn push(&mut self, group: &'d Group) {
        if self.seen_groups.insert(&group.name) {
            self.pending.push(group);
        }
    }

    fn visit(&mut self, member: &Address) {
        match Target::of(self.dir, member) {
            None => {
                if !self.out.external.contains(member) {
                    self.out.external.insert(member.clone());
                }
            }
            // Disabled users and addresses that no longer exist are skipped: a list keeps
            // working when one of its members goes away.
            Some(Target::Unknown) => {}
            Some(Target::User(user)) => {
                if user.enabled {
                    self.out.add_user(user);
                }
            }
            Some(Target::Group(group)) => self.push(group),
            Some(Target::All(site)) => self.add_all(site),
        }
    }

    /// Every enabled user, of one site or of the whole domain.
    fn add_all(&mut self, site: Option<&'d SiteId>) {
        if self.all_done {
            return;
        }
        match site {
            None => {
                self.all_done = true;
                for user in self.dir.users.values() {
                    if user.enabled {
                        self.out.add_user(user);
                    }
                }
            }
            Some(site) => {
                if self.sites_done.insert(site) {
                    for user in self.dir.users_at(site) {
                        if user.enabled {
                            self.out.add_user(user);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupKind, Level, Site};
    use proptest::prelude::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }
    fn lp(s: &str) -> LocalPart {
        LocalPart::parse(s).unwrap()
    }
    fn site(s: &str) -> SiteId {
        SiteId::parse(s).unwrap()
    }

    fn user(name: &str, home: &str, former: &[&str], enabled: bool) -> User {
        User {
            app_passwords: Vec::new(),
            name: lp(name),
            display_name: String::new(),
            site: site(home),
            former_sites: former.iter().map(|s| site(s)).collect(),
            password: None,
            enabled,
            mailbox: Default::default(),
        }
    }

    fn group(name: &str, kind: GroupKind, policy: PostingPolicy, members: &[&str]) -> Group {
        Group {
            name: lp(name),
            kind,
            description: String::new(),
            members: members.iter().map(|m| addr(m)).collect(),
            policy,
        }
    }

    /// example.org with sites msk (level 1), spb (level 2) and gw (level 0).
    fn fixture() -> Directory {
        use GroupKind::{Alias, List};
        use PostingPolicy::{Anyone, Internal, Members};
        let mut dir = Directory::new("example.org".parse().unwrap());
        for (id, level) in [("msk", Level::One), ("spb", Level::Two), ("gw", Level::Zero)] {
            let s = Site {
                id: site(id),
                name: id.to_uppercase(),
                level,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            };
            dir.sites.insert(s.id.clone(), s);
        }
        for u in [
            user("alice", "msk", &[], true),
            user("bob", "spb", &["msk"], true),
            user("carol", "msk", &[], false),
            user("dave", "spb", &[], true),
            user("erin", "msk", &[], true),
        ] {
            dir.users.insert(u.name.clone(), u);
        }
        for g in [
            group("team", Alias, Anyone, &["alice@example.org", "bob@spb.example.org"]),
            group(
                "staff",
                List,
                Internal,
                &[
                    "team@example.org",
                    "dave@example.org",
                    "carol@example.org",
                    "ghost@example.org",
                    "partner@other.net",
                ],
            ),
            group("board", List, Members, &["alice@example.org", "ext@partner.com", "erin@msk.example.org"]),
            group("team-talk", List, Members, &["team@example.org"]),
            group("ring-a", List, Anyone, &["ring-b@example.org", "alice@example.org"]),
            group("ring-b", List, Anyone, &["ring-a@example.org", "dave@example.org"]),
            group("everyone", Alias, Anyone, &["all@example.org", "out@other.net"]),
            group("spb-folk", List, Anyone, &["all@spb.example.org"]),
            group("sites", List, Internal, &["all@spb.example.org", "all@msk.example.org", "x@other.net"]),
            group(
                "nested",
                List,
                Anyone,
                &["staff@example.org", "ring-a@example.org", "Team@EXAMPLE.ORG", "ALICE@msk.example.org"],
            ),
            group("site-addr", List, Anyone, &["team@msk.example.org", "bob@msk.example.org"]),
            group("empty", List, Anyone, &[]),
        ] {
            dir.groups.insert(g.name.clone(), g);
        }
        dir
    }

    fn outsider() -> Sender {
        Sender { address: Some(addr("stranger@else.where")), internal: false }
    }
    fn insider() -> Sender {
        Sender { address: Some(addr("dave@example.org")), internal: true }
    }
    fn from(address: &str, internal: bool) -> Sender {
        Sender { address: Some(addr(address)), internal }
    }

    /// A resolution from `(site, [user names])` pairs and external addresses.
    fn res(local: &[(&str, &[&str])], external: &[&str]) -> Resolution {
        Resolution {
            local: local.iter().map(|(s, names)| (site(s), names.iter().map(|n| lp(n)).collect())).collect(),
            external: external.iter().map(|a| addr(a)).collect(),
        }
    }

    fn not_allowed(group: &str) -> Rejection {
        Rejection::NotAllowed { group: lp(group) }
    }

    #[test]
    fn table() {
        let dir = fixture();
        type Case<'a> = (&'a str, Sender, Result<Resolution, Rejection>);
        let cases: Vec<Case> = vec![
            // Not ours: the caller decides relay policy.
            ("alice@other.net", outsider(), Err(Rejection::NotOurs)),
            ("alice@nosuch.example.org", insider(), Err(Rejection::NotOurs)),
            ("alice@a.msk.example.org", insider(), Err(Rejection::NotOurs)),
            ("alice@xexample.org", insider(), Err(Rejection::NotOurs)),
            ("alice@example.org.ru", insider(), Err(Rejection::NotOurs)),
            // Users at the main domain, any case.
            ("alice@example.org", outsider(), Ok(res(&[("msk", &["alice"])], &[]))),
            ("ALICE@Example.ORG", outsider(), Ok(res(&[("msk", &["alice"])], &[]))),
            ("bob@example.org", outsider(), Ok(res(&[("spb", &["bob"])], &[]))),
            // Local addresses: the home site, a former site, and not another site.
            ("alice@msk.example.org", outsider(), Ok(res(&[("msk", &["alice"])], &[]))),
            ("Alice@MSK.example.org", outsider(), Ok(res(&[("msk", &["alice"])], &[]))),
            ("alice@spb.example.org", outsider(), Err(Rejection::UnknownRecipient)),
            ("alice@gw.example.org", outsider(), Err(Rejection::UnknownRecipient)),
            ("bob@spb.example.org", outsider(), Ok(res(&[("spb", &["bob"])], &[]))),
            ("bob@msk.example.org", outsider(), Ok(res(&[("spb", &["bob"])], &[]))),
            // Disabled.
            ("carol@example.org", insider(), Err(Rejection::Disabled)),
            ("carol@msk.example.org", insider(), Err(Rejection::Disabled)),
            // Unknown.
            ("nobody@example.org", insider(), Err(Rejection::UnknownRecipient)),
            ("nobody@msk.example.org", insider(), Err(Rejection::UnknownRecipient)),
            ("postmaster@gw.example.org", insider(), Err(Rejection::UnknownRecipient)),
            // Aliases and lists belong to the main domain only.
            ("team@msk.example.org", outsider(), Err(Rejection::UnknownRecipient)),
            ("staff@spb.example.org", insider(), Err(Rejection::UnknownRecipient)),
            // all@: internal senders only; enabled users only; a site's current users only.
            ("all@example.org", outsider(), Err(not_allowed("all"))),
            ("ALL@example.org", Sender::default(), Err(not_allowed("all"))),
            ("all@msk.example.org", outsider(), Err(not_allowed("all"))),
            (
                "all@example.org",
                insider(),
                Ok(res(&[("msk", &["alice", "erin"]), ("spb", &["bob", "dave"])], &[])),
            ),
            ("all@msk.example.org", insider(), Ok(res(&[("msk", &["alice", "erin"])], &[]))),
            ("all@spb.example.org", insider(), Ok(res(&[("spb", &["bob", "dave"])], &[]))),
            ("all@gw.example.org", insider(), Ok(Resolution::default())),
            // Alias, anyone may post.
            ("team@example.org", outsider(), Ok(res(&[("msk", &["alice"]), ("spb", &["bob"])], &[]))),
            ("team@example.org", Sender::default(), Ok(res(&[("msk", &["alice"]), ("spb", &["bob"])], &[]))),
            // Internal list: nested alias expanded, disabled and vanished members skipped,
            // external members kept.
            ("staff@example.org", outsider(), Err(not_allowed("staff"))),
            ("staff@example.org", from("alice@example.org", false), Err(not_allowed("staff"))),
            (
                "staff@example.org",
                insider(),
                Ok(res(&[("msk", &["alice"]), ("spb", &["bob", "dave"])], &["partner@other.net"])),
            ),
            (
                "staff@example.org",
                Sender { address: None, internal: true },
                Ok(res(&[("msk", &["alice"]), ("spb", &["bob", "dave"])], &["partner@other.net"])),
            ),
            // Members-only list.
            ("board@example.org", from("ext@partner.com", false), Ok(board())),
            ("board@example.org", from("EXT@Partner.com", false), Ok(board())),
            ("board@example.org", from("Alice@example.org", false), Ok(board())),
            ("board@example.org", from("alice@msk.example.org", false), Ok(board())),
            ("board@example.org", from("erin@example.org", false), Ok(board())),
            ("board@example.org", from("erin@msk.example.org", false), Ok(board())),
            ("board@example.org", from("dave@example.org", true), Err(not_allowed("board"))),
            ("board@example.org", from("alice@spb.example.org", true), Err(not_allowed("board"))),
            ("board@example.org", from("all@example.org", true), Err(not_allowed("board"))),
            ("board@example.org", Sender { address: None, internal: true }, Err(not_allowed("board"))),
            ("board@example.org", outsider(), Err(not_allowed("board"))),
            // Members through a nested alias, by any of their addresses, former ones too.
            ("team-talk@example.org", from("bob@msk.example.org", false), Ok(team())),
            ("team-talk@example.org", from("bob@example.org", false), Ok(team())),
            ("team-talk@example.org", from("team@example.org", false), Ok(team())),
            ("team-talk@example.org", from("dave@example.org", true), Err(not_allowed("team-talk"))),
            // Cycles terminate.
            ("ring-a@example.org", outsider(), Ok(res(&[("msk", &["alice"]), ("spb", &["dave"])], &[]))),
            ("ring-b@example.org", outsider(), Ok(res(&[("msk", &["alice"]), ("spb", &["dave"])], &[]))),
            // all@ inside a group: the group's policy decides, not all@'s.
            (
                "everyone@example.org",
                outsider(),
                Ok(res(&[("msk", &["alice", "erin"]), ("spb", &["bob", "dave"])], &["out@other.net"])),
            ),
            ("spb-folk@example.org", outsider(), Ok(res(&[("spb", &["bob", "dave"])], &[]))),
            (
                "sites@example.org",
                insider(),
                Ok(res(&[("msk", &["alice", "erin"]), ("spb", &["bob", "dave"])], &["x@other.net"])),
            ),
            // Nested groups' policies are not checked; one copy per mailbox.
            (
                "nested@example.org",
                outsider(),
                Ok(res(&[("msk", &["alice"]), ("spb", &["bob", "dave"])], &["partner@other.net"])),
            ),
            // Site addresses as members: a list name there is nobody, a former address works.
            ("site-addr@example.org", outsider(), Ok(res(&[("spb", &["bob"])], &[]))),
            ("empty@example.org", outsider(), Ok(Resolution::default())),
        ];
        for (rcpt, sender, want) in cases {
            let got = resolve(&dir, &addr(rcpt), &sender);
            assert_eq!(got, want, "rcpt {rcpt}, sender {sender:?}");
        }
    }

    fn board() -> Resolution {
        res(&[("msk", &["alice", "erin"])], &["ext@partner.com"])
    }
    fn team() -> Resolution {
        res(&[("msk", &["alice"]), ("spb", &["bob"])], &[])
    }

    #[test]
    fn a_user_keeps_the_case_of_the_directory_entry() {
        let dir = fixture();
        let got = resolve(&dir, &addr("ALICE@example.org"), &outsider()).unwrap();
        let names: Vec<&str> = got.local[&site("msk")].iter().map(LocalPart::as_str).collect();
        assert_eq!(names, ["alice"]);
    }

    #[test]
    fn self_membership_terminates() {
        let mut dir = fixture();
        let g = group(
            "selfish",
            GroupKind::List,
            PostingPolicy::Anyone,
            &["selfish@example.org", "alice@example.org"],
        );
        dir.groups.insert(g.name.clone(), g);
        assert_eq!(
            resolve(&dir, &addr("selfish@example.org"), &outsider()),
            Ok(res(&[("msk", &["alice"])], &[]))
        );
    }

    #[test]
    fn resolve_all_merges_and_reports() {
        let dir = fixture();
        let rcpts: Vec<Address> = [
            "alice@example.org",
            "team@example.org",
            "ALICE@msk.example.org",
            "nobody@example.org",
            "x@other.net",
            "staff@example.org",
            "ring-a@example.org",
        ]
        .iter()
        .map(|a| addr(a))
        .collect();
        let (accepted, refused) = resolve_all(&dir, &rcpts, &outsider());
        assert_eq!(accepted, res(&[("msk", &["alice"]), ("spb", &["bob", "dave"])], &[]));
        assert_eq!(accepted.mailbox_count(), 3);
        assert_eq!(
            refused,
            vec![
                (addr("nobody@example.org"), Rejection::UnknownRecipient),
                (addr("x@other.net"), Rejection::NotOurs),
                (addr("staff@example.org"), not_allowed("staff")),
            ]
        );
        let (none, refused) = resolve_all(&dir, [], &outsider());
        assert!(none.is_empty() && refused.is_empty());
    }

    #[test]
    fn merge_count_and_empty() {
        let mut a = res(&[("msk", &["alice"])], &["x@other.net"]);
        a.merge(res(&[("msk", &["alice", "erin"]), ("spb", &["bob"])], &["x@other.net", "y@other.net"]));
        assert_eq!(
            a,
            res(&[("msk", &["alice", "erin"]), ("spb", &["bob"])], &["x@other.net", "y@other.net"])
        );
        assert_eq!(a.mailbox_count(), 5);
        assert!(!a.is_empty());
        assert!(Resolution::default().is_empty());
        assert_eq!(Resolution::default().mailbox_count(), 0);
        let hollow =
            Resolution { local: BTreeMap::from([(site("msk"), BTreeSet::new())]), ..Default::default() };
        assert!(hollow.is_empty());
        assert!(!res(&[], &["x@other.net"]).is_empty());
    }

    #[test]
    fn smtp_codes_and_messages() {
        assert_eq!(Rejection::NotOurs.smtp(), (554, "5.7.1"));
        assert_eq!(Rejection::UnknownRecipient.smtp(), (550, "5.1.1"));
        assert_eq!(Rejection::Disabled.smtp(), (550, "5.2.1"));
        assert_eq!(not_allowed("board").smtp(), (550, "5.7.1"));
        assert_eq!(not_allowed("board").to_string(), "the sender is not allowed to post to 'board'");
        assert_eq!(Rejection::UnknownRecipient.to_string(), "there is no such user, alias or list here");
        assert_eq!(Rejection::Disabled.to_string(), "the mailbox is disabled and does not accept mail");
        assert_eq!(Rejection::NotOurs.to_string(), "the recipient's domain is not served here");
    }

    // ---- Property tests: random directories against a naive reference. ----

    const DOMAIN: &str = "example.org";
    const SITES: [&str; 3] = ["msk", "spb", "gw"];
    /// Sites that a user may have lived at; `old` does not exist (any more).
    const FORMER: [&str; 4] = ["msk", "spb", "gw", "old"];
    const USERS: usize = 6;
    const GROUPS: usize = 6;

    fn user_name() -> impl Strategy<Value = String> {
        (0..USERS).prop_map(|i| format!("u{i}"))
    }
    fn group_name() -> impl Strategy<Value = String> {
        (0..GROUPS).prop_map(|i| format!("g{i}"))
    }

    /// `name` at the main domain, at a site, at a deleted site, deeper below a site or outside,
    /// in random case.
    fn address_of(name: impl Strategy<Value = String>) -> impl Strategy<Value = Address> {
        let domain = prop_oneof![
            3 => Just(DOMAIN.to_owned()),
            3 => prop::sample::select(&FORMER[..]).prop_map(|s| format!("{s}.{DOMAIN}")),
            1 => Just("other.net".to_owned()),
            1 => Just(format!("deep.msk.{DOMAIN}")),
        ];
        (name, domain, any::<bool>()).prop_map(|(n, d, upper)| {
            let s = format!("{n}@{d}");
            addr(&if upper { s.to_uppercase() } else { s })
        })
    }

    /// Any address a member or a sender might be: users, groups, `all`, unknown names.
    fn any_address() -> impl Strategy<Value = Address> {
        address_of(prop_oneof![
            3 => user_name(),
            3 => group_name(),
            1 => Just("all".to_owned()),
            1 => Just("ghost".to_owned()),
        ])
    }

    /// Recipients: mostly groups of the main domain, where the interesting cases are.
    fn any_rcpt() -> impl Strategy<Value = Address> {
        prop_oneof![
            2 => group_name().prop_map(|g| addr(&format!("{g}@{DOMAIN}"))),
            1 => any_address(),
        ]
    }

    fn any_policy() -> impl Strategy<Value = PostingPolicy> {
        prop_oneof![Just(PostingPolicy::Anyone), Just(PostingPolicy::Internal), Just(PostingPolicy::Members)]
    }

    prop_compose! {
        fn any_directory()(
            users in prop::collection::vec(
                (any::<bool>(), 0..SITES.len(), prop::collection::btree_set(prop::sample::select(&FORMER[..]), 0..3), any::<bool>()),
                USERS,
            ),
            groups in prop::collection::vec(
                (any::<bool>(), any::<bool>(), any_policy(), prop::collection::btree_set(any_address(), 0..8)),
                GROUPS,
            ),
        ) -> Directory {
            let mut dir = Directory::new(DOMAIN.parse().unwrap());
            for (i, id) in SITES.iter().enumerate() {
                let level = [Level::One, Level::Two, Level::Zero][i];
                let s = Site { id: site(id), name: String::new(), level, agents: vec![], default_quota: None, outgoing: vec![] };
                dir.sites.insert(s.id.clone(), s);
            }
            for (i, (exists, home, former, enabled)) in users.into_iter().enumerate() {
                if exists {
                    let u = User {
                        app_passwords: Vec::new(),
                        name: lp(&format!("u{i}")),
                        display_name: String::new(),
                        site: site(SITES[home]),
                        former_sites: former.into_iter().map(site).collect(),
                        password: None,
                        enabled,
                        mailbox: Default::default(),
                    };
                    dir.users.insert(u.name.clone(), u);
                }
            }
            for (i, (exists, alias, policy, members)) in groups.into_iter().enumerate() {
                if exists {
                    let kind = if alias { GroupKind::Alias } else { GroupKind::List };
                    let g = Group { name: lp(&format!("g{i}")), kind, description: String::new(), members, policy };
                    dir.groups.insert(g.name.clone(), g);
                }
            }
            dir
        }
    }

    fn any_sender() -> impl Strategy<Value = Sender> {
        let address = prop_oneof![1 => Just(None), 2 => address_of(user_name()).prop_map(Some), 2 => any_address().prop_map(Some)];
        (address, any::<bool>()).prop_map(|(address, internal)| Sender { address, internal })
    }

    /// What the reference makes of an address, by linear scans and string comparison.
    #[derive(Clone, Copy)]
    enum Naive<'d> {
        Outside,
        Nobody,
        User(&'d User),
        Group(&'d Group),
        All(Option<&'d str>),
    }

    fn naive_target<'d>(dir: &'d Directory, a: &Address) -> Naive<'d> {
        let local = a.local().as_str().to_lowercase();
        let domain = a.domain().as_str();
        let find_user = |n: &str| dir.users.values().find(|u| u.name.as_str().to_lowercase() == n);
        if domain == DOMAIN {
            if local == "all" {
                return Naive::All(None);
            }
            if let Some(u) = find_user(&local) {
                return Naive::User(u);
            }
            return match dir.groups.values().find(|g| g.name.as_str().to_lowercase() == local) {
                Some(g) => Naive::Group(g),
                None => Naive::Nobody,
            };
        }
        let Some(s) = dir.sites.keys().find(|s| format!("{}.{DOMAIN}", s.as_str()) == domain) else {
            return Naive::Outside;
        };
        if local == "all" {
            return Naive::All(Some(s.as_str()));
        }
        match find_user(&local) {
            Some(u) if u.site == *s || u.former_sites.iter().any(|f| f == s) => Naive::User(u),
            _ => Naive::Nobody,
        }
    }

    /// Resolution by fixpoint: grow the set of reached addresses until nothing new appears,
    /// then turn every reached address into mailboxes.
    fn naive_resolve(dir: &Directory, rcpt: &Address, sender: &Sender) -> Result<Resolution, Rejection> {
        let top = match naive_target(dir, rcpt) {
            Naive::Outside => return Err(Rejection::NotOurs),
            Naive::Nobody => return Err(Rejection::UnknownRecipient),
            Naive::User(u) if !u.enabled => return Err(Rejection::Disabled),
            Naive::All(_) if !sender.internal => return Err(not_allowed("all")),
            t => t,
        };
        let mut reached: Vec<Address> = vec![rcpt.clone()];
        loop {
            let mut grown = reached.clone();
            for a in &reached {
                if let Naive::Group(g) = naive_target(dir, a) {
                    for m in &g.members {
                        if !grown.contains(m) {
                            grown.push(m.clone());
                        }
                    }
                }
            }
            if grown.len() == reached.len() {
                break;
            }
            reached = grown;
        }
        let mut out = Resolution::default();
        let mut put = |u: &User| {
            out.local.entry(u.site.clone()).or_default().insert(u.name.clone());
        };
        for a in &reached {
            match naive_target(dir, a) {
                Naive::Outside => {
                    out.external.insert(a.clone());
                }
                Naive::Nobody | Naive::Group(_) => {}
                Naive::User(u) => {
                    if u.enabled {
                        put(u)
                    }
                }
                Naive::All(scope) => {
                    for u in dir.users.values() {
                        if u.enabled && scope.is_none_or(|s| u.site.as_str() == s) {
                            put(u)
                        }
                    }
                }
            }
        }
        if let Naive::Group(g) = top {
            let allowed = match g.policy {
                PostingPolicy::Anyone => true,
                PostingPolicy::Internal => sender.internal,
                PostingPolicy::Members => sender.address.as_ref().is_some_and(|from| {
                    g.members.iter().any(|m| m == from)
                        || match naive_target(dir, from) {
                            Naive::User(u) => out.local.get(&u.site).is_some_and(|n| n.contains(&u.name)),
                            _ => false,
                        }
                }),
            };
            if !allowed {
                return Err(Rejection::NotAllowed { group: g.name.clone() });
            }
        }
        Ok(out)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn resolve_matches_the_fixpoint(dir in any_directory(), rcpt in any_rcpt(), sender in any_sender()) {
            let got = resolve(&dir, &rcpt, &sender);
            prop_assert_eq!(&got, &naive_resolve(&dir, &rcpt, &sender));
            if let Ok(res) = &got {
                for (home, names) in &res.local {
                    prop_assert!(!names.is_empty());
                    for name in names {
                        let u = dir.user(name).expect("an existing user");
                        prop_assert!(u.enabled);
                        prop_assert_eq!(&u.site, home);
                    }
                }
                for ext in &res.external {
                    prop_assert!(!dir.is_ours(ext.domain()));
                }
            }
            // The case of the recipient does not matter.
            let shouted = addr(&rcpt.to_string().to_uppercase());
            prop_assert_eq!(resolve(&dir, &shouted, &sender), got);
        }

        #[test]
        fn resolve_all_is_the_union(dir in any_directory(), rcpts in prop::collection::vec(any_rcpt(), 0..5), sender in any_sender()) {
            let (accepted, refused) = resolve_all(&dir, &rcpts, &sender);
            let mut want = Resolution::default();
            let mut want_refused = Vec::new();
            for r in &rcpts {
                match naive_resolve(&dir, r, &sender) {
                    Ok(res) => want.merge(res),
                    Err(e) => want_refused.push((r.clone(), e)),
                }
            }
            prop_assert_eq!(accepted, want);
            prop_assert_eq!(refused, want_refused);
        }
    }
}
