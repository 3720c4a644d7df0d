//! The address trace: what the deployment would do with a letter for one recipient entering at
//! one site — refused and why, or which mailboxes at which sites, how each site's one copy gets
//! there, and what leaves for outside addresses and forwards. Decided from the central
//! directory by the agents' own code: `pochta_directory::resolve` for the recipient and
//! `Directory::relay_site` for a level-2 site's way out.

use std::collections::BTreeMap;

use pochta_directory::resolve::{Rejection, Sender, resolve};
use pochta_directory::{Address, Directory, Domain, GroupKind, Level, LocalPart, PostingPolicy, SiteId};

use super::parse_field;
use crate::error::ApiError;

/// What the recipient address names.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Named {
    User {
        name: LocalPart,
        display_name: String,
        site: SiteId,
        enabled: bool,
    },
    Group {
        name: LocalPart,
        kind: GroupKind,
        members: usize,
        policy: PostingPolicy,
    },
    /// `all@domain` (no site) or `all@site.domain`.
    All {
        site: Option<SiteId>,
    },
    /// Our domain, nobody by that name.
    Nobody,
    /// Not our domain.
    Outside,
}

/// How one site's copy gets from the entry site to the mailboxes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum Hop {
    /// Filed at the entry site itself.
    Here,
    /// One connection from the entry site's agent to one of the site's agents (pinned TLS).
    Direct { agents: usize },
    /// The site has no agent with an SMTP listener yet: the copy waits in the entry site's
    /// queue (and is retried) until one enrolls.
    Waits,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Copy {
    pub site: SiteId,
    pub mailboxes: Vec<LocalPart>,
    pub hop: Hop,
}

/// Outside addresses of one domain, sent on by one site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outgoing {
    pub domain: Domain,
    pub addresses: Vec<Address>,
    /// The site whose agent sends them on.
    pub from: SiteId,
    /// The level-0/1 site a level-2 sender hands them to; `None`: straight to the domain's MX
    /// (or the sending agent's smarthost, when its configuration has one).
    pub relay: Option<SiteId>,
}

/// A mailbox that sends its mail on: done by its home site's agent, after filing.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Forward {
    pub name: LocalPart,
    pub site: SiteId,
    pub to: Vec<Address>,
    pub keep_copy: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    Refused {
        code: u16,
        status: &'static str,
        /// `not_ours`, `unknown_recipient`, `disabled`, `not_allowed`.
        reason: &'static str,
        /// The alias or list whose policy refused.
        group: Option<LocalPart>,
    },
    Accepted {
        copies: Vec<Copy>,
        outside: Vec<Outgoing>,
        forwards: Vec<Forward>,
        /// Mailboxes whose vacation reply is on today: the sender gets an automatic answer.
        vacation: Vec<LocalPart>,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trace {
    pub rcpt: Address,
    pub from: Option<Address>,
    pub internal: bool,
    pub entry: SiteId,
    pub named: Named,
    pub outcome: Outcome,
}

/// The site where mail from outside enters: the first MX (a level-0 site, else level 1, with
/// an agent that takes mail), else the first site.
pub fn default_entry(dir: &Directory) -> Option<SiteId> {
    [Level::Zero, Level::One]
        .into_iter()
        .find_map(|level| {
            dir.sites
                .values()
                .find(|s| s.level == level && s.agents.iter().any(|a| !a.smtp.is_empty()))
                .map(|s| s.id.clone())
        })
        .or_else(|| dir.sites.keys().next().cloned())
}

fn named(dir: &Directory, rcpt: &Address) -> Named {
    let site = if *rcpt.domain() == dir.domain {
        None
    } else {
        match dir.site_of_domain(rcpt.domain()) {
            Some(s) => Some(s.id.clone()),
            None => return Named::Outside,
        }
    };
    let local = rcpt.local();
    if local.folded() == "all" {
        return Named::All { site };
    }
    if let Some(u) =
        dir.user(local).filter(|u| site.as_ref().is_none_or(|s| u.site == *s || u.former_sites.contains(s)))
    {
        return Named::User {
            name: u.name.clone(),
            display_name: u.display_name.clone(),
            site: u.site.clone(),
            enabled: u.enabled,
        };
    }
    match dir.group(local).filter(|_| site.is_none()) {
        Some(g) => {
            Named::Group { name: g.name.clone(), kind: g.kind, members: g.members.len(), policy: g.policy }
        }
        None => Named::Nobody,
    }
}

fn refused(why: &Rejection) -> Outcome {
    let (code, status) = why.smtp();
    let (reason, group) = match why {
        Rejection::NotOurs => ("not_ours", None),
        Rejection::UnknownRecipient => ("unknown_recipient", None),
        Rejection::Disabled => ("disabled", None),
        Rejection::NotAllowed { group } => ("not_allowed", Some(group.clone())),
    };
    Outcome::Refused { code, status, reason, group }
}

/// Outside addresses grouped by domain, as the site `from` sends them on.
fn outgoing<'a>(
    dir: &Directory,
    from: &SiteId,
    addrs: impl IntoIterator<Item = &'a Address>,
) -> Vec<Outgoing> {
    let level = dir.site(from).map(|s| s.level);
    let relay = (level == Some(Level::Two)).then(|| dir.relay_site(from)).flatten();
    let mut by_domain: BTreeMap<Domain, Vec<Address>> = BTreeMap::new();
    for a in addrs {
        by_domain.entry(a.domain().clone()).or_default().push(a.clone());
    }
    by_domain
        .into_iter()
        .map(|(domain, addresses)| Outgoing { domain, addresses, from: from.clone(), relay: relay.clone() })
        .collect()
}

/// Traces `rcpt` (from `from`, an authenticated user when `internal`) entering at `entry`.
pub fn trace(
    dir: &Directory,
    rcpt: &str,
    from: &str,
    internal: bool,
    entry: Option<&str>,
) -> Result<Trace, ApiError> {
    let rcpt = parse_field("rcpt", "recipient", "err-trace-rcpt", Address::parse(rcpt.trim()))?;
    let from = Some(from.trim())
        .filter(|f| !f.is_empty())
        .map(|f| parse_field("from", "sender", "err-trace-from", Address::parse(f)))
        .transpose()?;
    let entry = match entry.map(str::trim).filter(|e| !e.is_empty()) {
        // A site the query names that does not exist is bad input here, not a missing page.
        Some(e) => super::sites::find(dir, e)
            .map_err(|e| ApiError {
                status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                ..e.field("entry")
            })?
            .id
            .clone(),
        None => default_entry(dir)
            .ok_or_else(|| ApiError::conflict("the directory has no sites yet").key("err-trace-no-sites"))?,
    };
    let named = named(dir, &rcpt);
    let sender = Sender { address: from.clone(), internal };
    let outcome = match resolve(dir, &rcpt, &sender) {
        // An authenticated user may send anywhere: outside mail leaves from the entry site.
        Err(Rejection::NotOurs) if internal => Outcome::Accepted {
            copies: vec![],
            outside: outgoing(dir, &entry, [&rcpt]),
            forwards: vec![],
            vacation: vec![],
        },
        Err(why) => refused(&why),
        Ok(res) => {
            let today = pochta_directory::Day::of_unix(crate::db::now());
            let mut forwards = Vec::new();
            let mut vacation = Vec::new();
            let copies = res
                .local
                .iter()
                .filter(|(_, names)| !names.is_empty())
                .map(|(site, names)| {
                    for n in names {
                        let Some(u) = dir.user(n) else { continue };
                        if let Some(f) = &u.mailbox.forward {
                            forwards.push(Forward {
                                name: n.clone(),
                                site: site.clone(),
                                to: f.to.iter().cloned().collect(),
                                keep_copy: f.keep_copy,
                            });
                        }
                        if u.mailbox.vacation.as_ref().is_some_and(|v| v.active_on(today)) {
                            vacation.push(n.clone());
                        }
                    }
                    let smtp_agents =
                        dir.site(site).map_or(0, |s| s.agents.iter().filter(|a| !a.smtp.is_empty()).count());
                    let hop = if *site == entry {
                        Hop::Here
                    } else if smtp_agents == 0 {
                        Hop::Waits
                    } else {
                        Hop::Direct { agents: smtp_agents }
                    };
                    Copy { site: site.clone(), mailboxes: names.iter().cloned().collect(), hop }
                })
                .collect();
            Outcome::Accepted { copies, outside: outgoing(dir, &entry, &res.external), forwards, vacation }
        }
    };
    Ok(Trace { rcpt, from, internal, entry, named, outcome })
}

#[cfg(test)]
mod tests {
    use pochta_directory::{AgentEndpoint, Group, Op, Site, User};

    use super::*;

    fn site(id: &str, level: Level, smtp: bool) -> Op {
        Op::PutSite(Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            level,
            agents: vec![AgentEndpoint {
                id: format!("{id}-1"),
                url: String::new(),
                tls_sha256: String::new(),
                smtp: if smtp { "192.0.2.1:25".into() } else { String::new() },
            }],
            default_quota: None,
            outgoing: vec![],
        })
    }
    fn user(n: &str, at: &str) -> Op {
        Op::PutUser(User {
            app_passwords: Vec::new(),
            name: LocalPart::parse(n).unwrap(),
            display_name: String::new(),
            site: SiteId::parse(at).unwrap(),
            former_sites: Default::default(),
            password: None,
            enabled: true,
            mailbox: Default::default(),
        })
    }

    fn dir() -> Directory {
        let mut d = Directory::new(Domain::parse("example.org").unwrap());
        d.apply_all(&[
            site("gw", Level::Zero, true),
            site("msk", Level::One, true),
            site("spb", Level::Two, true),
            site("ekb", Level::Two, false),
            user("ivanov", "msk"),
            user("petrov", "msk"),
            user("sidorova", "spb"),
            user("orlova", "ekb"),
            Op::PutGroup(Group {
                name: LocalPart::parse("sales").unwrap(),
                kind: GroupKind::List,
                description: String::new(),
                members: [
                    "ivanov@example.org",
                    "petrov@example.org",
                    "sidorova@example.org",
                    "orlova@example.org",
                    "a@example.net",
                ]
                .iter()
                .map(|a| Address::parse(a).unwrap())
                .collect(),
                policy: PostingPolicy::Internal,
            }),
        ])
        .unwrap();
        d
    }

    #[test]
    fn a_list_is_one_copy_per_site_each_with_its_hop_and_outside_members_leave_from_the_entry() {
        let d = dir();
        let t = trace(&d, "sales@example.org", "ivanov@example.org", true, None).unwrap();
        assert_eq!(t.entry.as_str(), "gw", "outside mail enters at the first MX");
        let Outcome::Accepted { copies, outside, .. } = t.outcome else { panic!("{t:?}") };
        let hops: Vec<(&str, usize, &Hop)> =
            copies.iter().map(|c| (c.site.as_str(), c.mailboxes.len(), &c.hop)).collect();
        assert_eq!(
            hops,
            [
                ("ekb", 1, &Hop::Waits),
                ("msk", 2, &Hop::Direct { agents: 1 }),
                ("spb", 1, &Hop::Direct { agents: 1 })
            ]
        );
        assert_eq!(outside.len(), 1);
        assert_eq!((outside[0].from.as_str(), outside[0].relay.as_ref()), ("gw", None));

        // Entering at a level-2 site, outside members go through its relay.
        let t = trace(&d, "sales@example.org", "", true, Some("spb")).unwrap();
        let Outcome::Accepted { copies, outside, .. } = t.outcome else { panic!() };
        assert!(copies.iter().any(|c| c.site.as_str() == "spb" && c.hop == Hop::Here));
        assert_eq!(outside[0].relay.as_ref().map(SiteId::as_str), Some("gw"));
    }

    #[test]
    fn refusals_say_what_smtp_would() {
        let d = dir();
        let t = trace(&d, "sales@example.org", "x@example.net", false, None).unwrap();
        assert_eq!(
            t.outcome,
            Outcome::Refused {
                code: 550,
                status: "5.7.1",
                reason: "not_allowed",
                group: Some(LocalPart::parse("sales").unwrap())
            }
        );
        let t = trace(&d, "nobody@example.org", "", false, None).unwrap();
        assert_eq!((t.named, matches!(t.outcome, Outcome::Refused { code: 550, .. })), (Named::Nobody, true));
        let t = trace(&d, "a@example.net", "", false, None).unwrap();
        assert!(matches!(t.outcome, Outcome::Refused { code: 554, reason: "not_ours", .. }));
        assert!(trace(&d, "not an address", "", false, None).is_err());
        assert!(trace(&d, "sales@example.org", "", false, Some("nowhere")).is_err());
    }
}
