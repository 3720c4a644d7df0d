//! The records the domain needs in DNS, from the directory as it is: MX only for sites whose
//! agent is enrolled, has an SMTP listener and has reported (a new site is "not yet", with the
//! reason), their addresses, one SPF record with every sending site's outgoing addresses once,
//! the DKIM keys with their real public keys, DMARC, MTA-STS and TLS-RPT. The DNS page, `GET
//! /api/v1/dns`, the MTA-STS policy file and the live check all read this one list.

use std::net::IpAddr;

use pochta_directory::dkim::KeyState;
use pochta_directory::{AgentEndpoint, Directory, Level, SiteId};
use serde::Serialize;
use sha2::Digest as _;

use crate::db::auth::AgentRow;
use crate::summary::SiteSummary;

/// What a group of records is for (the zone's comments, the page's headings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Mx,
    Address,
    Spf,
    Dkim,
    Dmarc,
    MtaSts,
    TlsRpt,
}

/// One resource record; `name` is relative to the domain (`@` is the domain itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub purpose: Purpose,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
    /// For a DKIM key: its state (pending keys are published before they sign; retiring ones
    /// until their period ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_state: Option<KeyState>,
}

/// Why a site is not published (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotYet {
    /// No agent was enrolled for it.
    NoAgent,
    /// Its agents run no SMTP listener other sites and the world can reach.
    NoSmtp,
    /// Enrolled, but its agent has never reported to the server.
    NeverReported,
}

#[derive(Debug, Clone, Serialize)]
pub struct Zone {
    pub domain: String,
    pub records: Vec<Record>,
    /// Sites that could take mail but are not published, and why.
    pub not_yet: Vec<(SiteId, NotYet)>,
    /// The published MX preferences, level 0 first, renumbered over published sites only.
    pub mx: Vec<(SiteId, u16)>,
    /// The MTA-STS policy file served at `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub mta_sts_policy: String,
}

/// An IP address an agent advertises (its SMTP endpoint or its URL), if it is a literal one.
pub fn agent_ip(a: &AgentEndpoint) -> Option<IpAddr> {
    let from_smtp = a.smtp.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']']));
    let from_url = a
        .url
        .strip_prefix("https://")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .map(|hp| hp.rsplit_once(':').map_or(hp, |(h, _)| h).trim_matches(['[', ']']));
    [from_smtp, from_url].into_iter().flatten().find_map(|h| h.parse().ok())
}

/// Whether a site can be published, from its agents in the directory and their rows.
fn readiness(dir: &Directory, site: &SiteId, agents: &[AgentRow]) -> Result<(), NotYet> {
    let endpoints = dir.site(site).map(|s| s.agents.as_slice()).unwrap_or_default();
    if endpoints.is_empty() {
        return Err(NotYet::NoAgent);
    }
    let smtp: Vec<&AgentEndpoint> = endpoints.iter().filter(|a| !a.smtp.is_empty()).collect();
    if smtp.is_empty() {
        return Err(NotYet::NoSmtp);
    }
    let reported = |a: &&AgentEndpoint| agents.iter().any(|r| r.id == a.id && r.last_seen.is_some());
    if smtp.iter().any(reported) { Ok(()) } else { Err(NotYet::NeverReported) }
}

/// The policy mode of MTA-STS: `testing` until the MX hosts have certificates the world
/// trusts (senders report failures but still deliver).
pub const MTA_STS_MODE: &str = "testing";

pub fn zone(dir: &Directory, summary: &SiteSummary, agents: &[AgentRow]) -> Zone {
    let domain = dir.domain.as_str().to_owned();
    let mut not_yet = Vec::new();
    let mut ready = Vec::new();
    for s in dir.sites.values().filter(|s| s.level != Level::Two) {
        match readiness(dir, &s.id, agents) {
            Ok(()) => ready.push(s.id.clone()),
            Err(why) => not_yet.push((s.id.clone(), why)),
        }
    }
    // Level 2 sites are never MX; a level-2 site's agent still needs to report to send mail.
    for s in dir.sites.values().filter(|s| s.level == Level::Two) {
        if let Err(why) = readiness(dir, &s.id, agents) {
            not_yet.push((s.id.clone(), why));
        }
    }
    let mx: Vec<(SiteId, u16)> = summary
        .mx
        .iter()
        .filter(|(s, _)| ready.contains(s))
        .enumerate()
        .map(|(i, (s, _))| (s.clone(), 10 * (i as u16 + 1)))
        .collect();

    let rec = |purpose, name: &str, kind, value: String| Record {
        purpose,
        name: name.to_owned(),
        kind,
        value,
        key_state: None,
    };
    let mut records = Vec::new();
    let names: Vec<String> =
        std::iter::once("@".to_owned()).chain(dir.sites.keys().map(ToString::to_string)).collect();
    for name in &names {
        for (site, prio) in &mx {
            records.push(rec(Purpose::Mx, name, "MX", format!("{prio} {site}.{domain}.")));
        }
    }
    let mut spf: Vec<String> = Vec::new();
    let mut add_spf = |term: String| {
        if !spf.contains(&term) {
            spf.push(term);
        }
    };
    for id in &ready {
        let s = &dir.sites[id];
        let ips: Vec<IpAddr> = s.agents.iter().filter(|a| !a.smtp.is_empty()).filter_map(agent_ip).collect();
        let mut seen: Vec<IpAddr> = Vec::new();
        for ip in ips {
            if !seen.contains(&ip) {
                seen.push(ip);
                let kind = if ip.is_ipv6() { "AAAA" } else { "A" };
                records.push(rec(Purpose::Address, id.as_str(), kind, ip.to_string()));
            }
        }
        let sends_from = if s.outgoing.is_empty() { seen.clone() } else { s.outgoing.clone() };
        if sends_from.is_empty() {
            add_spf(format!("a:{id}.{domain}"));
        }
        for ip in sends_from {
            add_spf(if ip.is_ipv6() { format!("ip6:{ip}") } else { format!("ip4:{ip}") });
        }
    }
    let spf =
        if spf.is_empty() { "v=spf1 -all".to_owned() } else { format!("v=spf1 {} -all", spf.join(" ")) };
    for name in &names {
        records.push(rec(Purpose::Spf, name, "TXT", spf.clone()));
    }
    for k in dir.dkim.values() {
        records.push(Record {
            key_state: Some(k.state),
            ..rec(Purpose::Dkim, &k.selector.record_name(), "TXT", k.record())
        });
    }
    let report = format!("mailto:postmaster@{domain}");
    records.push(rec(Purpose::Dmarc, "_dmarc", "TXT", format!("v=DMARC1; p=none; rua={report}")));
    let policy = mta_sts_policy(&domain, &mx);
    let id: String = hex::encode(sha2::Sha256::digest(policy.as_bytes()))[..16].to_owned();
    records.push(rec(Purpose::MtaSts, "_mta-sts", "TXT", format!("v=STSv1; id={id}")));
    records.push(rec(Purpose::TlsRpt, "_smtp._tls", "TXT", format!("v=TLSRPTv1; rua={report}")));
    Zone { domain, records, not_yet, mx, mta_sts_policy: policy }
}

/// RFC 8461 §3.2: the policy names every published MX host.
fn mta_sts_policy(domain: &str, mx: &[(SiteId, u16)]) -> String {
    let mut p = format!("version: STSv1\nmode: {MTA_STS_MODE}\n");
    for (site, _) in mx {
        p.push_str(&format!("mx: {site}.{domain}\n"));
    }
    p.push_str("max_age: 604800\n");
    p
}

#[cfg(test)]
mod tests {
    use pochta_directory::{Domain, Op, Site};

    use super::*;

    fn site(id: &str, level: Level, agent: Option<(&str, &str)>) -> Site {
        Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            level,
            agents: agent
                .map(|(aid, smtp)| AgentEndpoint {
                    id: aid.into(),
                    url: String::new(),
                    tls_sha256: String::new(),
                    smtp: smtp.into(),
                })
                .into_iter()
                .collect(),
            default_quota: None,
            outgoing: vec![],
        }
    }

    fn row(id: &str, site: &str, seen: bool) -> AgentRow {
        AgentRow {
            id: id.into(),
            site: site.into(),
            url: String::new(),
            tls_sha256: String::new(),
            applied: 0,
            last_seen: seen.then_some(1),
            enrolled_at: 0,
        }
    }

    #[test]
    fn only_sites_with_a_reporting_agent_are_published_and_spf_lists_each_address_once() {
        let mut dir = Directory::new(Domain::parse("example.org").unwrap());
        let mut hq = site("hq", Level::One, Some(("hq-1", "192.0.2.10:25")));
        hq.outgoing = vec!["198.51.100.7".parse().unwrap()];
        let mut spb = site("spb", Level::One, Some(("spb-1", "192.0.2.20:25")));
        spb.outgoing = vec!["198.51.100.7".parse().unwrap()]; // the same NAT address as hq
        dir.apply_all(&[
            Op::PutSite(hq),
            Op::PutSite(spb),
            Op::PutSite(site("gw", Level::Zero, None)), // new, no agent yet
            Op::PutSite(site("ekb", Level::One, Some(("ekb-1", "192.0.2.30:25")))), // never reported
            Op::PutSite(site("nsk", Level::One, Some(("nsk-1", "")))), // no SMTP listener
        ])
        .unwrap();
        let summary = SiteSummary::of(&dir, 1);
        let agents = [row("hq-1", "hq", true), row("spb-1", "spb", true), row("ekb-1", "ekb", false)];
        let z = zone(&dir, &summary, &agents);
        let mx: Vec<(String, u16)> = z.mx.iter().map(|(s, p)| (s.to_string(), *p)).collect();
        assert_eq!(
            mx,
            vec![("hq".into(), 10), ("spb".into(), 20)],
            "the agentless gateway does not take MX 10"
        );
        let not_yet: Vec<(String, NotYet)> = z.not_yet.iter().map(|(s, w)| (s.to_string(), *w)).collect();
        assert!(not_yet.contains(&("gw".into(), NotYet::NoAgent)));
        assert!(not_yet.contains(&("ekb".into(), NotYet::NeverReported)));
        assert!(not_yet.contains(&("nsk".into(), NotYet::NoSmtp)));
        let spf: Vec<&Record> = z.records.iter().filter(|r| r.purpose == Purpose::Spf).collect();
        assert_eq!(
            spf[0].value, "v=spf1 ip4:198.51.100.7 -all",
            "one entry for two sites behind one address"
        );
        assert!(z.records.iter().all(|r| !r.value.contains("gw.example.org")), "{:#?}", z.records);
        assert!(z.mta_sts_policy.contains("mx: hq.example.org\nmx: spb.example.org\n"));
    }
}

/// What the live check found for one name and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Found {
    /// Published and correct.
    Correct,
    /// No such record.
    Missing,
    /// Published, but not as it should be: what DNS has instead.
    Different { found: Vec<String> },
    /// The resolver gave no answer (timeout, SERVFAIL).
    Unanswered { error: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    pub purpose: Purpose,
    /// The full name asked for.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub expected: Vec<String>,
    #[serde(flatten)]
    pub found: Found,
}

/// How two record values compare: TXT without the white space DNS tools add or drop (and
/// split strings joined), MX and names without the final dot, all without case for names.
fn normal(kind: &str, v: &str) -> String {
    match kind {
        "TXT" => v.split_whitespace().collect::<Vec<_>>().join(" ").replace("; ", ";"),
        "MX" => v.trim_end_matches('.').to_ascii_lowercase(),
        _ => v.to_owned(),
    }
}

/// The tag a TXT record starts with (`v=spf1`, `v=DKIM1`, ...): other TXT records at the same
/// name (site verifications and the like) are none of ours.
fn txt_tag(v: &str) -> String {
    v.split(';').next().unwrap_or("").split_whitespace().next().unwrap_or("").to_ascii_lowercase()
}

/// Looks every record of `zone` up through `servers` (the system's resolver when empty).
pub async fn check(
    zone: &Zone,
    servers: &[std::net::SocketAddr],
    timeout: std::time::Duration,
) -> Vec<Checked> {
    use hickory_resolver::config::ResolverOpts;
    use hickory_resolver::net::runtime::TokioRuntimeProvider;
    use hickory_resolver::proto::rr::{RData, RecordType};
    let mut opts = ResolverOpts::default();
    opts.timeout = timeout;
    opts.attempts = 2;
    // Asked now means now: an answer cached a minute ago is not what the administrator checks.
    opts.cache_size = 0;
    let built = if servers.is_empty() {
        hickory_resolver::TokioResolver::builder_tokio().and_then(|b| b.with_options(opts).build())
    } else {
        let config = pochta_agent::deliver::mx::name_servers(servers);
        hickory_resolver::TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
    };
    let mut groups: Vec<(Purpose, String, &'static str, Vec<String>)> = Vec::new();
    for r in &zone.records {
        let fqdn =
            if r.name == "@" { format!("{}.", zone.domain) } else { format!("{}.{}.", r.name, zone.domain) };
        match groups.iter_mut().find(|g| g.1 == fqdn && g.2 == r.kind && g.0 == r.purpose) {
            Some(g) => g.3.push(r.value.clone()),
            None => groups.push((r.purpose, fqdn, r.kind, vec![r.value.clone()])),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for (purpose, name, kind, expected) in groups {
        let found = match &built {
            Err(e) => Found::Unanswered { error: e.to_string() },
            Ok(resolver) => {
                let rtype = match kind {
                    "MX" => RecordType::MX,
                    "A" => RecordType::A,
                    "AAAA" => RecordType::AAAA,
                    _ => RecordType::TXT,
                };
                match resolver.lookup(name.as_str(), rtype).await {
                    Ok(l) => {
                        let values: Vec<String> = l
                            .answers()
                            .iter()
                            .filter_map(|rec| match &rec.data {
                                RData::MX(m) => Some(format!("{} {}", m.preference, m.exchange.to_ascii())),
                                RData::A(a) => Some(a.to_string()),
                                RData::AAAA(a) => Some(a.to_string()),
                                RData::TXT(t) => Some(
                                    t.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect::<String>(),
                                ),
                                _ => None,
                            })
                            .collect();
                        compare(kind, &expected, values)
                    }
                    Err(e) if e.is_no_records_found() || e.is_nx_domain() => Found::Missing,
                    Err(e) => Found::Unanswered { error: e.to_string() },
                }
            }
        };
        out.push(Checked { purpose, name, kind, expected, found });
    }
    out
}

fn compare(kind: &str, expected: &[String], mut found: Vec<String>) -> Found {
    if kind == "TXT" {
        let tags: Vec<String> = expected.iter().map(|v| txt_tag(v)).collect();
        found.retain(|v| tags.contains(&txt_tag(v)));
    }
    if found.is_empty() {
        return Found::Missing;
    }
    let mut want: Vec<String> = expected.iter().map(|v| normal(kind, v)).collect();
    let mut have: Vec<String> = found.iter().map(|v| normal(kind, v)).collect();
    want.sort();
    want.dedup();
    have.sort();
    have.dedup();
    if want == have { Found::Correct } else { Found::Different { found } }
}
