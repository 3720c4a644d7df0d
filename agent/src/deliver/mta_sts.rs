//! MTA-STS (RFC 8461) for mail to outside domains: a domain that publishes `_mta-sts` TXT and a
//! policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` in `enforce` mode gets its mail
//! only over TLS with a certificate valid for an MX host the policy names; otherwise it waits
//! (`4.7.5`, retried, then one DSN), never plaintext. `testing` and `none` deliver as before.
//!
//! Policies are cached for their `max_age` and refetched when the TXT record's `id` changes. A
//! domain whose TXT record says it has a policy, but whose policy cannot be fetched and is not in
//! the cache, waits too: RFC 8461 §5 would deliver without one, but a fetch an attacker can block
//! is exactly the downgrade MTA-STS exists to stop. mail-auth 0.13 parses only the TXT record, so
//! the policy file's few `key: value` lines (§3.2) are read here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pochta_directory::Domain;

use super::mx::MxResolver;
use crate::reply::Reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX host patterns: a name, or `*.` and a name (one label, §4.1).
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// The largest `max_age` honoured (§3.2: up to 31557600, a year).
const MAX_AGE: u64 = 31_557_600;
/// A policy file larger than this is refused (§3.3 suggests 64 KiB).
const MAX_POLICY_BYTES: usize = 64 * 1024;

impl Policy {
    pub fn parse(text: &str) -> Result<Policy, String> {
        let (mut version, mut mode, mut mx, mut max_age) = (None, None, Vec::new(), None);
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let v = v.trim();
            match k.trim() {
                "version" => version = Some(v.to_owned()),
                "mode" => {
                    mode = Some(match v {
                        "enforce" => Mode::Enforce,
                        "testing" => Mode::Testing,
                        "none" => Mode::None,
                        other => return Err(format!("unknown mode '{other}'")),
                    })
                }
                "mx" => mx.push(v.to_ascii_lowercase().trim_end_matches('.').to_owned()),
                "max_age" => max_age = Some(v.parse::<u64>().map_err(|_| format!("bad max_age '{v}'"))?),
                _ => {}
            }
        }
        if version.as_deref() != Some("STSv1") {
            return Err("not an STSv1 policy".into());
        }
        let mode = mode.ok_or("no mode")?;
        if mode != Mode::None && mx.is_empty() {
            return Err("no mx".into());
        }
        Ok(Policy { mode, mx, max_age: max_age.ok_or("no max_age")?.min(MAX_AGE) })
    }

    /// Whether `host` (an MX name) is one the policy names.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            Some(base) => host.split_once('.').is_some_and(|(_, rest)| rest == base),
            None => p == host,
        })
    }
}

struct Cached {
    id: String,
    policy: Policy,
    until: Instant,
}

pub struct MtaSts {
    mx: Arc<MxResolver>,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    /// The HTTPS port of policy hosts: 443, another only in tests.
    port: u16,
}

impl MtaSts {
    /// `tls` validates the policy host's certificate (public trust anchors and the configured
    /// extra ones).
    pub fn new(
        mx: Arc<MxResolver>,
        tls: rustls::ClientConfig,
        timeout: Duration,
        port: u16,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            // Policy hosts are found through our resolver (`[dns] servers`), like MX hosts.
            .dns_resolver(Arc::new(ViaResolver(mx.clone())))
            .timeout(timeout)
            // §3.3: the policy is at one URL; a redirect is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { mx, http, cache: Mutex::new(HashMap::new()), port })
    }

    /// The domain's policy in force, `None` when it has none; `Err` (a reply to wait with) when
    /// it says it has one that cannot be had.
    pub async fn policy(&self, domain: &Domain) -> Result<Option<Policy>, Reply> {
        let name = domain.as_str();
        let id = match self.mx.txt(&format!("_mta-sts.{name}.")).await {
            Ok(txt) => txt
                .iter()
                .filter(|t| t.trim_start().starts_with("v=STSv1"))
                .find_map(|t| t.split(';').find_map(|kv| kv.trim().strip_prefix("id=").map(str::to_owned))),
            // No answer: a cached policy still holds (§5.1); without one, as if none.
            Err(e) => {
                tracing::info!(domain = name, error = %e, "MTA-STS record look-up failed");
                return Ok(self.cached(name, None));
            }
        };
        let Some(id) = id else { return Ok(self.cached(name, None)) };
        if let Some(p) = self.cached(name, Some(&id)) {
            return Ok(Some(p));
        }
        match self.fetch(name).await {
            Ok(policy) => {
                let until = Instant::now() + Duration::from_secs(policy.max_age);
                let mut cache = self.cache.lock().expect("not poisoned");
                cache.insert(name.to_owned(), Cached { id, policy: policy.clone(), until });
                Ok(Some(policy))
            }
            Err(e) => {
                tracing::warn!(domain = name, error = %e, "MTA-STS policy cannot be fetched");
                match self.cached(name, None) {
                    Some(p) => Ok(Some(p)),
                    None => Err(Reply::mta_sts_unavailable(domain, &e)),
                }
            }
        }
    }

    /// A cached, unexpired policy for `domain` (with this `id`, when given).
    fn cached(&self, domain: &str, id: Option<&str>) -> Option<Policy> {
        let cache = self.cache.lock().expect("not poisoned");
        let c = cache.get(domain)?;
        (c.until > Instant::now() && id.is_none_or(|id| id == c.id)).then(|| c.policy.clone())
    }

    async fn fetch(&self, domain: &str) -> Result<Policy, String> {
        let url = format!("https://mta-sts.{domain}:{}/.well-known/mta-sts.txt", self.port);
        let resp = self.http.get(&url).send().await.map_err(|e| format!("{url}: {}", chain(&e)))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: HTTP {}", resp.status()));
        }
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if body.len() > MAX_POLICY_BYTES {
            return Err(format!("{url}: larger than {MAX_POLICY_BYTES} bytes"));
        }
        Policy::parse(&String::from_utf8_lossy(&body))
    }
}

/// An error with its causes ("error sending request: ... certificate not valid for name").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// reqwest's name resolution through [`MxResolver`].
struct ViaResolver(Arc<MxResolver>);

impl reqwest::dns::Resolve for ViaResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let mx = self.0.clone();
        Box::pin(async move {
            let ips = mx.addresses(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(ips.into_iter().map(|ip| std::net::SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_match_mx_hosts_as_rfc_8461_says() {
        let p = Policy::parse("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.backup.example.net\r\nmax_age: 86400\r\n")
            .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert!(p.allows("mx1.example.net") && p.allows("MX1.example.net."));
        assert!(p.allows("a.backup.example.net"));
        assert!(!p.allows("a.b.backup.example.net"), "a wildcard is one label");
        assert!(!p.allows("backup.example.net") && !p.allows("evil.example.net"));
        assert!(Policy::parse("version: STSv1\nmode: enforce\nmax_age: 5\n").is_err(), "no mx");
        assert!(Policy::parse("mode: enforce\nmx: a\nmax_age: 5\n").is_err(), "no version");
        assert!(Policy::parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 5\n").is_err());
        let long = Policy::parse("version: STSv1\nmode: testing\nmx: a\nmax_age: 99999999999\n").unwrap();
        assert_eq!(long.max_age, MAX_AGE);
    }
}
