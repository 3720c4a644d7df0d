//! MX look-up for outside domains (RFC 5321 §5.1): MX hosts by preference, the domain itself
//! when it has no MX (implicit MX), a permanent failure for a null MX (RFC 7505).

use tokio::sync::OnceCell;

use pochta_directory::Domain;

use crate::reply::Reply;

/// The resolver configuration for `servers` (`ip:port`, UDP and TCP): `[dns] servers` here and
/// in the door, `dns_servers` in the server's DNS check.
pub fn name_servers(servers: &[std::net::SocketAddr]) -> hickory_resolver::config::ResolverConfig {
    let ns = servers
        .iter()
        .map(|at| {
            let mut ns = hickory_resolver::config::NameServerConfig::udp_and_tcp(at.ip());
            for c in &mut ns.connections {
                c.port = at.port();
            }
            ns
        })
        .collect();
    hickory_resolver::config::ResolverConfig::from_name_servers(ns)
}

#[derive(Default)]
pub struct MxResolver {
    resolver: OnceCell<Option<hickory_resolver::TokioResolver>>,
    /// The same servers, validating DNSSEC (for DANE): answers carry their `Proof`.
    validating: OnceCell<Option<hickory_resolver::TokioResolver>>,
    /// `[dns] servers`; empty: the system's (`/etc/resolv.conf`).
    servers: Vec<std::net::SocketAddr>,
    /// `[dns] dnssec_trust_anchor`: DNSKEY records to trust; `None`: the root's.
    trust_anchor: Option<std::path::PathBuf>,
}

impl MxResolver {
    pub fn new(servers: Vec<std::net::SocketAddr>, trust_anchor: Option<std::path::PathBuf>) -> Self {
        Self { resolver: OnceCell::new(), validating: OnceCell::new(), servers, trust_anchor }
    }

    fn build(&self, validate: bool) -> Result<hickory_resolver::TokioResolver, String> {
        use hickory_resolver::net::runtime::TokioRuntimeProvider;
        let anchor = |b: hickory_resolver::ResolverBuilder<TokioRuntimeProvider>| -> Result<_, String> {
            if !validate {
                return Ok(b);
            }
            let mut b = b;
            b.options_mut().validate = true;
            match &self.trust_anchor {
                Some(path) => {
                    let anchors = hickory_resolver::proto::dnssec::TrustAnchors::from_file(path)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok(b.with_trust_anchor(std::sync::Arc::new(anchors)))
                }
                None => Ok(b),
            }
        };
        if self.servers.is_empty() {
            let b = hickory_resolver::TokioResolver::builder_tokio().map_err(|e| e.to_string())?;
            return anchor(b)?.build().map_err(|e| e.to_string());
        }
        let b = hickory_resolver::TokioResolver::builder_with_config(
            name_servers(&self.servers),
            TokioRuntimeProvider::default(),
        );
        anchor(b)?.build().map_err(|e| e.to_string())
    }

    async fn validating(&self) -> Option<&hickory_resolver::TokioResolver> {
        self.validating
            .get_or_init(|| async {
                match self.build(true) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(error = %e, "no DNSSEC-validating resolver: DANE is not applied");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// The TLSA records of `host`'s SMTP port when DANE applies (RFC 7672 §2.2): the domain's MX
    /// records and the TLSA records both validated by DNSSEC. `None`: DANE does not apply (an
    /// unsigned zone, no TLSA records, a look-up that failed).
    pub async fn dane(
        &self,
        domain: &Domain,
        host: &str,
    ) -> Option<Vec<hickory_resolver::proto::rr::rdata::tlsa::TLSA>> {
        use hickory_resolver::proto::dnssec::Proof;
        use hickory_resolver::proto::rr::{RData, RecordType};
        let r = self.validating().await?;
        let secure = |l: &hickory_resolver::lookup::Lookup| {
            !l.answers().is_empty() && l.answers().iter().all(|rec| rec.proof == Proof::Secure)
        };
        let mx = r.lookup(format!("{}.", domain.as_str()), RecordType::MX).await.ok()?;
        if !secure(&mx) {
            return None;
        }
        let name = format!("_25._tcp.{}.", host.trim_end_matches('.'));
        let tlsa = match r.lookup(name.as_str(), RecordType::TLSA).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(host, error = %e, "no TLSA records");
                return None;
            }
        };
        if !secure(&tlsa) {
            return None;
        }
        let records: Vec<_> = tlsa
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::TLSA(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        (!records.is_empty()).then_some(records)
    }

    /// The TXT strings at `name` (each record's strings joined); `Ok(empty)` when there are none.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let Some(r) = self.resolver().await else { return Err("no resolver".into()) };
        match r.txt_lookup(name).await {
            Ok(l) => Ok(l
                .answers()
                .iter()
                .filter_map(|rec| match &rec.data {
                    hickory_resolver::proto::rr::RData::TXT(t) => {
                        Some(t.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The addresses of `host` (for a connection the resolver, not the system, decides).
    pub async fn addresses(&self, host: &str) -> Result<Vec<std::net::IpAddr>, String> {
        let Some(r) = self.resolver().await else { return Err("no resolver".into()) };
        r.lookup_ip(format!("{}.", host.trim_end_matches('.')))
            .await
            .map(|l| l.iter().collect())
            .map_err(|e| e.to_string())
    }

    async fn resolver(&self) -> Option<&hickory_resolver::TokioResolver> {
        self.resolver
            .get_or_init(|| async {
                match self.build(false) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(error = %e, "no DNS resolver: outside mail waits");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// `host:25` for each MX host of `domain`, most preferred first.
    /// The reply it fails with is the outcome of every recipient of that domain.
    pub async fn hosts(&self, domain: &Domain) -> Result<Vec<String>, Reply> {
        let temp = |e: String| Reply::dns_failed(domain, e);
        let Some(r) = self.resolver().await else { return Err(temp("no resolver".into())) };
        let name = format!("{}.", domain.as_str());
        let mut mx: Vec<(u16, String)> = match r.mx_lookup(name.as_str()).await {
            Ok(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|rec| match &rec.data {
                    hickory_resolver::proto::rr::RData::MX(m) => {
                        Some((m.preference, m.exchange.to_ascii().trim_end_matches('.').to_owned()))
                    }
                    _ => None,
                })
                .collect(),
            Err(e) if e.is_no_records_found() => Vec::new(),
            Err(e) if e.is_nx_domain() => {
                return Err(Reply::no_such_domain(domain));
            }
            Err(e) => return Err(temp(e.to_string())),
        };
        if mx.len() == 1 && mx[0].1.is_empty() {
            return Err(Reply::null_mx(domain));
        }
        if mx.is_empty() {
            mx.push((0, domain.as_str().to_owned()));
        }
        mx.sort();
        Ok(mx.into_iter().map(|(_, h)| format!("{h}:25")).collect())
    }
}
