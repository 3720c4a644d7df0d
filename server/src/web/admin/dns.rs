//! DNS: the records to publish for the domain, as a zone-file snippet to copy: MX with the
//! priorities of the paper, A records for the sites' servers when their addresses are known,
//! SPF covering every sending site, and room for DKIM and DMARC.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use pochta_directory::{Directory, Level, SiteId};

use crate::state::AppState;
use crate::web::session::{AdminOnly, Ctx, Page};

/// An IP address an agent advertises (its SMTP endpoint or its URL), if it is a literal one.
fn agent_ip(a: &pochta_directory::AgentEndpoint) -> Option<std::net::IpAddr> {
    let from_smtp = a.smtp.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']']));
    let from_url = a
        .url
        .strip_prefix("https://")
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .map(|hp| hp.rsplit_once(':').map_or(hp, |(h, _)| h).trim_matches(['[', ']']));
    [from_smtp, from_url].into_iter().flatten().find_map(|h| h.parse().ok())
}

/// The zone-file snippet, with comments in the reader's language.
pub fn zone(c: &Ctx, dir: &Directory, mx: &[(SiteId, u16)]) -> String {
    let domain = dir.domain.as_str();
    let mut z = String::new();
    let line = |z: &mut String, s: String| {
        z.push_str(&s);
        z.push('\n');
    };
    line(&mut z, format!("; {}", c.t1("dns-zone-header", "domain", domain)));
    line(&mut z, format!("$ORIGIN {domain}."));
    line(&mut z, String::new());
    line(&mut z, format!("; {}", c.t("dns-mx-comment")));
    if mx.is_empty() {
        line(&mut z, format!("; {}", c.t("dns-no-mx")));
    }
    let site_domains: Vec<String> = dir.sites.keys().map(|s| format!("{s}")).collect();
    for name in std::iter::once("@".to_owned()).chain(site_domains.iter().cloned()) {
        for (site, prio) in mx {
            line(&mut z, format!("{name:<24} IN MX {prio:>3} {site}.{domain}."));
        }
    }
    line(&mut z, String::new());
    line(&mut z, format!("; {}", c.t("dns-a-comment")));
    let mut spf = vec![];
    for s in dir.sites.values() {
        let ips: Vec<_> = s.agents.iter().filter_map(agent_ip).collect();
        if ips.is_empty() {
            line(&mut z, format!("; {:<22} IN A   {}", s.id, c.t1("dns-a-unknown", "site", &s.id)));
        }
        for ip in &ips {
            let kind = if ip.is_ipv6() { "AAAA" } else { "A   " };
            line(&mut z, format!("{:<24} IN {kind} {ip}", s.id));
        }
        // Level 2 sites send through a level 0/1 relay, not directly.
        if s.level != Level::Two {
            if ips.is_empty() {
                spf.push(format!("a:{}.{domain}", s.id));
            } else {
                spf.extend(
                    ips.iter().map(|ip| if ip.is_ipv6() { format!("ip6:{ip}") } else { format!("ip4:{ip}") }),
                );
            }
        }
    }
    line(&mut z, String::new());
    line(&mut z, format!("; {}", c.t("dns-spf-comment")));
    let spf = format!("\"v=spf1 {} -all\"", spf.join(" "));
    line(&mut z, format!("{:<24} IN TXT {spf}", "@"));
    for s in &site_domains {
        line(&mut z, format!("{s:<24} IN TXT {spf}"));
    }
    line(&mut z, String::new());
    line(&mut z, format!("; {}", c.t("dns-dkim-comment")));
    line(
        &mut z,
        format!("; {:<22} IN TXT \"v=DKIM1; k=rsa; p=<{}>\"", "pochta._domainkey", c.t("dns-dkim-key")),
    );
    line(&mut z, String::new());
    line(&mut z, format!("; {}", c.t("dns-dmarc-comment")));
    line(&mut z, format!("{:<24} IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@{domain}\"", "_dmarc"));
    z
}

#[derive(Template)]
#[template(path = "dns.html")]
pub struct DnsPage {
    pub c: Ctx,
    pub zone: String,
    pub mx: Vec<(String, u16)>,
}

pub async fn page(State(st): State<AppState>, Page(ctx, ..): Page<AdminOnly>) -> Response {
    let (dir, _, summary) = st.current_with_summary();
    let mx = summary.mx.iter().map(|(s, p)| (s.to_string(), *p)).collect();
    let page = DnsPage { zone: zone(&ctx, &dir, &summary.mx), mx, c: ctx.clone() };
    ctx.render(StatusCode::OK, &page)
}
