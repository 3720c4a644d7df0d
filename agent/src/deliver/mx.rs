//! MX look-up for outside domains (RFC 5321 §5.1): MX hosts by preference, the domain itself
//! when it has no MX (implicit MX), a permanent failure for a null MX (RFC 7505).

use tokio::sync::OnceCell;

use pochta_directory::Domain;

use crate::reply::Reply;

#[derive(Default)]
pub struct MxResolver {
    resolver: OnceCell<Option<hickory_resolver::TokioResolver>>,
}

impl MxResolver {
    async fn resolver(&self) -> Option<&hickory_resolver::TokioResolver> {
        self.resolver
            .get_or_init(|| async {
                match hickory_resolver::TokioResolver::builder_tokio().and_then(|b| b.build()) {
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
