//! DNS block lists (RFC 5782): the client's address, reversed, under each configured zone; an
//! answer in 127.0.0.0/8 means "listed". Asked once per transaction from a stranger, at MAIL
//! FROM, beside SPF; a listed client is refused `554 5.7.1` naming the list.
//!
//! A list that does not answer is skipped, not trusted either way: block lists are advice, and
//! a list that is down must not stop the door (Postfix's `reject_rbl_client` does the same).
//! Answers in 127.255.255.0/24 are the list's own error codes (query refused, rate limited),
//! never a listing.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use mail_auth::hickory_resolver::TokioResolver;
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};

/// The name to look up for `ip` under `zone`.
pub fn query_name(ip: IpAddr, zone: &str) -> String {
    let zone = zone.trim_matches('.');
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.{zone}.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(64 + zone.len());
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str(zone);
            name.push('.');
            name
        }
    }
}

fn listing(a: Ipv4Addr) -> bool {
    let [x, y, z, _] = a.octets();
    x == 127 && !(y == 255 && z == 255)
}

/// The first of `zones` (in configured order) that lists `ip`, if any; all asked side by side.
pub async fn listed_at(
    resolver: &TokioResolver,
    zones: &[String],
    ip: IpAddr,
    timeout: Duration,
) -> Option<String> {
    let mut asks = tokio::task::JoinSet::new();
    for (i, zone) in zones.iter().enumerate() {
        let (resolver, zone) = (resolver.clone(), zone.clone());
        asks.spawn(async move {
            let name = query_name(ip, &zone);
            let listed =
                match tokio::time::timeout(timeout, resolver.lookup(name.as_str(), RecordType::A)).await {
                    Ok(Ok(answer)) => {
                        answer.answers().iter().any(|r| matches!(&r.data, RData::A(a) if listing(a.0)))
                    }
                    Ok(Err(_)) => false,
                    Err(_) => {
                        tracing::info!(zone, %ip, "a DNS block list did not answer; skipped");
                        false
                    }
                };
            (i, listed.then_some(zone))
        });
    }
    let mut found: Vec<(usize, String)> = Vec::new();
    while let Some(Ok((i, zone))) = asks.join_next().await {
        found.extend(zone.map(|z| (i, z)));
    }
    found.sort();
    found.into_iter().next().map(|(_, z)| z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_reversed_under_the_zone() {
        assert_eq!(query_name("192.0.2.99".parse().unwrap(), "zen.example"), "99.2.0.192.zen.example.");
        assert_eq!(query_name("::ffff:192.0.2.1".parse().unwrap(), "bl.example."), "1.2.0.192.bl.example.");
        let v6 = query_name("2001:db8::1".parse().unwrap(), "bl.example");
        assert!(v6.starts_with("1.0.0.0.0.0.0.0.") && v6.ends_with("8.b.d.0.1.0.0.2.bl.example."), "{v6}");
        assert!(listing("127.0.0.2".parse().unwrap()));
        assert!(!listing("127.255.255.254".parse().unwrap()));
        assert!(!listing("10.0.0.1".parse().unwrap()));
    }
}
