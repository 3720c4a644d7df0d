//! Who really sent it: SPF (RFC 7208) at MAIL FROM, then after the data DKIM (RFC 6376), ARC
//! (RFC 8617) and DMARC (RFC 7489), all with the `mail-auth` crate, and the one
//! `Authentication-Results:` field (RFC 8601) of the first hop.
//!
//! A DMARC failure under `p=reject` is refused (550 5.7.1), under `p=quarantine` the letter
//! goes to Junk. SPF alone refuses nothing unless `reject_spf_fail` is set: forwarded mail fails
//! SPF honestly, and DMARC is where a domain says what its failures mean. A DNS failure where a
//! verdict was needed defers the letter (451) rather than let it in unchecked, unless the
//! door fails open.

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::common::headers::HeaderWriter;
use mail_auth::dmarc::Policy;
use mail_auth::hickory_resolver::config::ResolverOpts;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DmarcResult, MessageAuthenticator, SpfOutput, SpfResult,
};
use pochta_directory::Address;

use crate::config::{AuthConfig, DnsConfig};
use crate::mail::header;
use crate::reply::Reply;

/// The sender check at MAIL FROM.
pub struct SenderCheck {
    /// `None` when SPF is not checked.
    pub spf: Option<SpfOutput>,
    /// Refused now, counted under the reason.
    pub refuse: Option<(&'static str, Reply)>,
}

/// The verdict after the data.
pub struct LetterCheck {
    /// The `Authentication-Results:` field to put on top.
    pub field: String,
    pub refuse: Option<(&'static str, Reply)>,
    /// DMARC `p=quarantine` failed: into Junk.
    pub quarantine: bool,
}

pub struct Auth {
    cfg: AuthConfig,
    authenticator: MessageAuthenticator,
    hostname: String,
    /// Our own domain: an `Authentication-Results` from outside claiming it is a forgery.
    domain: String,
    fail_open: bool,
    timeout: Duration,
}

/// A resolver on `dns.servers` (or the system's), with its timeout.
pub fn resolver(dns: &DnsConfig) -> Result<MessageAuthenticator, String> {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_secs_f64(dns.timeout_secs.max(0.1));
    opts.attempts = 2;
    if dns.servers.is_empty() {
        return MessageAuthenticator::new_system_conf().map_err(|e| e.to_string());
    }
    MessageAuthenticator::new(crate::deliver::mx::name_servers(&dns.servers), opts).map_err(|e| e.to_string())
}

impl Auth {
    pub fn new(
        cfg: &AuthConfig,
        dns: &DnsConfig,
        hostname: &str,
        domain: &str,
        fail_open: bool,
    ) -> Result<Auth, String> {
        Ok(Auth {
            cfg: cfg.clone(),
            authenticator: resolver(dns)?,
            hostname: hostname.to_owned(),
            domain: domain.to_ascii_lowercase(),
            fail_open,
            // SPF may take up to ten look-ups (RFC 7208 §4.6.4), each with its retries.
            timeout: Duration::from_secs_f64(dns.timeout_secs.max(0.1) * 4.0),
        })
    }

    /// Whether SPF is checked at MAIL FROM.
    pub fn checks_sender(&self) -> bool {
        self.cfg.spf
    }

    /// SPF for the HELO name and the envelope sender (`None`: the null sender `<>`).
    pub async fn check_sender(&self, ip: IpAddr, helo: &str, from: Option<&Address>) -> SenderCheck {
        let sender = from.map(ToString::to_string).unwrap_or_default();
        let params = SpfParameters::verify(ip, helo, &self.hostname, &sender);
        let spf = match tokio::time::timeout(self.timeout, self.authenticator.verify_spf(params)).await {
            Ok(spf) => spf,
            Err(_) => {
                tracing::info!(%ip, sender, "SPF look-ups timed out");
                let domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d).to_owned();
                SpfOutput::new(domain).with_result(SpfResult::TempError)
            }
        };
        let refuse = match spf.result() {
            SpfResult::Fail if self.cfg.reject_spf_fail => {
                Some(("spf", Reply::spf_failed(spf.domain(), &ip)))
            }
            SpfResult::TempError if self.cfg.reject_spf_fail && !self.fail_open => {
                Some(("dns_unavailable", Reply::spf_temporary(spf.domain())))
            }
            _ => None,
        };
        SenderCheck { spf: Some(spf), refuse }
    }

    /// DKIM, ARC and DMARC of a letter whose sender check gave `spf` (`None`: SPF is not
    /// checked, so DMARC can pass on DKIM alone).
    pub async fn check_letter(
        &self,
        ip: IpAddr,
        helo: &str,
        from: Option<&Address>,
        spf: Option<&SpfOutput>,
        data: &[u8],
    ) -> LetterCheck {
        let sender = from.map(ToString::to_string).unwrap_or_default();
        let mut ar = AuthenticationResults::new(&self.hostname);
        let Some(msg) = AuthenticatedMessage::parse(data) else {
            // Not a message mail-auth can read: nothing verifies, nothing is claimed.
            return LetterCheck { field: ar.to_header(), refuse: None, quarantine: false };
        };
        let unchecked;
        let spf = match spf {
            Some(s) => s,
            None => {
                unchecked = SpfOutput::new(String::new()).with_result(SpfResult::None);
                &unchecked
            }
        };
        if self.cfg.spf {
            ar = ar.with_spf_mailfrom_result(spf, ip, &sender, helo);
        }
        let dkim = if self.cfg.dkim || self.cfg.dmarc {
            tokio::time::timeout(self.timeout, self.authenticator.verify_dkim(&msg)).await.unwrap_or_default()
        } else {
            Vec::new()
        };
        if self.cfg.dkim {
            ar = ar.with_dkim_results(&dkim, msg.from());
        }
        if self.cfg.arc
            && let Ok(arc) = tokio::time::timeout(self.timeout, self.authenticator.verify_arc(&msg)).await
        {
            ar = ar.with_arc_result(&arc, ip);
        }
        let (mut refuse, mut quarantine) = (None, false);
        if self.cfg.dmarc {
            let mail_from_domain = sender.rsplit_once('@').map_or(helo, |(_, d)| d);
            let params = mail_auth::dmarc::verify::DmarcParameters::new(&msg, &dkim, mail_from_domain, spf);
            match tokio::time::timeout(self.timeout, self.authenticator.verify_dmarc(params)).await {
                Ok(dmarc) => {
                    ar = ar.with_dmarc_result(&dmarc);
                    let (d, s) = (dmarc.dkim_result(), dmarc.spf_result());
                    let passed = *d == DmarcResult::Pass || *s == DmarcResult::Pass;
                    let temporary =
                        matches!(d, DmarcResult::TempError(_)) || matches!(s, DmarcResult::TempError(_));
                    // Neither aligned identifier passed: the domain's policy applies (none, when
                    // it publishes no record).
                    if passed {
                    } else if temporary && !self.fail_open {
                        refuse = Some(("dns_unavailable", Reply::dmarc_temporary(dmarc.domain())));
                    } else if !temporary {
                        match dmarc.policy() {
                            Policy::Reject => refuse = Some(("dmarc", Reply::dmarc_rejected(dmarc.domain()))),
                            Policy::Quarantine => quarantine = true,
                            Policy::None | Policy::Unspecified => {}
                        }
                    }
                }
                Err(_) if !self.fail_open => {
                    refuse = Some(("dns_unavailable", Reply::dmarc_temporary(msg.from())));
                }
                Err(_) => {}
            }
        }
        LetterCheck { field: ar.to_header(), refuse, quarantine }
    }

    /// `data` without `Authentication-Results` fields that claim to be ours (RFC 8601 §5):
    /// made by our host name, or by any name under our domain. Only the one we add is true.
    pub fn without_forged_results(&self, data: &[u8]) -> Option<Vec<u8>> {
        header::without_where(data, |f| {
            f.is("Authentication-Results") && f.text().is_some_and(|v| self.claims_ours(v))
        })
    }

    fn claims_ours(&self, value: &str) -> bool {
        // The authserv-id is the first token, before any version or `;`.
        let id = value
            .split([';', ' ', '\t', '\r', '\n'])
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .to_ascii_lowercase();
        id == self.hostname.to_ascii_lowercase()
            || id == self.domain
            || id.ends_with(&format!(".{}", self.domain))
    }
}
