//! The door: the checks on mail from outside — never on our users' submissions or on peer
//! agents' relays — that refuse spam, viruses and greylisted strangers *before* the 250 (the
//! paper's rule: the first server that sees such a letter refuses it, so it never crosses an
//! inter-site link, and nobody has to bounce it).
//!
//! Each step is configured on its own in `[door]`: greylisting at RCPT ([`greylist`]), then
//! after the data rspamd ([`rspamd`]) and ClamAV ([`clamd`]) side by side. A letter they pass
//! gets our verdict in its header (`X-Spam`, `X-Spam-Score`, `X-Virus-Scanned`), after any such
//! fields a stranger wrote himself were removed; the home site files a letter marked
//! `X-Spam: Yes` into the user's Junk folder.

pub mod auth;
pub mod clamd;
pub mod dnsbl;
pub mod greylist;
pub mod private;
pub mod rspamd;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use pochta_directory::Address;
use serde::{Deserialize, Serialize};

use crate::config::DoorConfig;
use crate::mail::header;
use crate::reply::Reply;

/// The header field that sends a letter to the Junk folder.
pub const SPAM_FIELD: &str = "X-Spam";

/// Fields only the door writes: a stranger's own copies of them are removed.
const OUR_FIELDS: [&str; 4] = ["X-Spam", "X-Spam-Score", "X-Virus-Scanned", "X-Pochta-Unscanned"];

/// A letter from outside as the door sees it.
pub struct Letter<'a> {
    pub client_ip: IpAddr,
    pub helo: &'a str,
    pub from: Option<&'a Address>,
    pub rcpts: &'a [Address],
    pub data: &'a [u8],
    /// The SPF result of the sender check at MAIL FROM, when SPF is checked.
    pub spf: Option<&'a mail_auth::SpfOutput>,
}

/// What the door decided after the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Accepted: the letter as it goes on (our fields on top, the stranger's copies gone).
    Accept { data: Vec<u8>, junk: bool },
    /// Refused before the 250, counted under `reason`.
    Refuse { reason: &'static str, reply: Reply },
}

/// How one scanner is doing, for `/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannerHealth {
    /// The configured address.
    pub at: String,
    /// The last failure, while the scanner keeps failing; `None` once it answered again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing: Option<String>,
    /// Unix seconds of the first failure in the current run of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
    pub scanned: u64,
    pub failures: u64,
}

/// The door's part of `/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoorStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rspamd: Option<ScannerHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamd: Option<ScannerHealth>,
    pub greylisting: bool,
    /// What fails open (accepted unscanned) or closed (451) while a scanner is out.
    pub fail_open: bool,
    /// Plain sentences for the administrator, empty while all is well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub struct Door {
    cfg: DoorConfig,
    hostname: String,
    rspamd: Option<rspamd::Rspamd>,
    clamd: Option<clamd::Clamd>,
    pub greylist: Option<greylist::Greylist>,
    pub auth: Option<auth::Auth>,
    /// The block lists, the resolver that asks them and how long it may take.
    dnsbl: Option<(mail_auth::hickory_resolver::TokioResolver, Vec<String>, Duration)>,
    health: Mutex<(Option<ScannerHealth>, Option<ScannerHealth>)>,
}

impl std::fmt::Debug for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Door").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error("[door] rspamd = {0:?}: {1}")]
    Rspamd(String, String),
    #[error(transparent)]
    Greylist(#[from] greylist::GreylistError),
    #[error("[dns]: no resolver: {0}")]
    Dns(String),
}

impl Door {
    /// The door `[door]` describes, or `None` when it checks nothing. The greylist's state
    /// lives in `data/greylist.db`.
    pub async fn open(
        cfg: &DoorConfig,
        dns: &crate::config::DnsConfig,
        data: &Path,
        hostname: &str,
        domain: &str,
    ) -> Result<Option<Door>, DoorError> {
        if cfg.is_off() {
            return Ok(None);
        }
        let timeout = Duration::from_secs_f64(cfg.scan_timeout_secs.max(0.1));
        let rspamd = match cfg.rspamd.as_str() {
            "" => None,
            url if !(url.starts_with("http://") || url.starts_with("https://")) => {
                return Err(DoorError::Rspamd(
                    url.into(),
                    "give the normal worker's URL, e.g. http://127.0.0.1:11333".into(),
                ));
            }
            url => Some(
                rspamd::Rspamd::new(url, timeout)
                    .map_err(|e| DoorError::Rspamd(url.into(), e.to_string()))?,
            ),
        };
        let clamd =
            (!cfg.clamd.is_empty()).then(|| clamd::Clamd::new(clamd::Endpoint::parse(&cfg.clamd), timeout));
        let greylist = if cfg.greylist.enabled {
            Some(greylist::Greylist::open(&data.join("greylist.db"), cfg.greylist.clone()).await?)
        } else {
            None
        };
        let auth = if cfg.auth.enabled {
            Some(auth::Auth::new(&cfg.auth, dns, hostname, domain, cfg.fail_open).map_err(DoorError::Dns)?)
        } else {
            None
        };
        let dnsbl = if cfg.dnsbl.is_empty() {
            None
        } else {
            let resolver = auth::resolver(dns).map_err(DoorError::Dns)?.0;
            Some((resolver, cfg.dnsbl.clone(), Duration::from_secs_f64(dns.timeout_secs.max(0.1) * 2.0)))
        };
        let health =
            |on: bool, at: &str| on.then(|| ScannerHealth { at: at.to_owned(), ..Default::default() });
        let health = Mutex::new((health(rspamd.is_some(), &cfg.rspamd), health(clamd.is_some(), &cfg.clamd)));
        Ok(Some(Door {
            cfg: cfg.clone(),
            hostname: hostname.to_owned(),
            rspamd,
            clamd,
            greylist,
            auth,
            dnsbl,
            health,
        }))
    }

    /// Whether anything is checked after the data.
    pub fn scans(&self) -> bool {
        self.rspamd.is_some() || self.clamd.is_some() || self.auth.is_some()
    }

    /// The sender check at MAIL FROM, when SPF is checked.
    pub fn checks_sender(&self) -> bool {
        self.dnsbl.is_some() || self.auth.as_ref().is_some_and(auth::Auth::checks_sender)
    }

    /// The checks at MAIL FROM, side by side: the block lists on the client's address, SPF on
    /// the sender. A listing refuses first.
    pub async fn check_sender(&self, ip: IpAddr, helo: &str, from: Option<&Address>) -> auth::SenderCheck {
        let listed = async {
            match &self.dnsbl {
                Some((resolver, zones, timeout)) => dnsbl::listed_at(resolver, zones, ip, *timeout).await,
                None => None,
            }
        };
        let spf = async {
            match self.auth.as_ref().filter(|a| a.checks_sender()) {
                Some(a) => Some(a.check_sender(ip, helo, from).await),
                None => None,
            }
        };
        let (listed, spf) = tokio::join!(listed, spf);
        let (spf, refuse) = match spf {
            Some(c) => (c.spf, c.refuse),
            None => (None, None),
        };
        match listed {
            Some(zone) => auth::SenderCheck { spf, refuse: Some(("dnsbl", Reply::listed(&ip, &zone))) },
            None => auth::SenderCheck { spf, refuse },
        }
    }

    pub fn status(&self) -> DoorStatus {
        let (r, c) = self.health.lock().expect("not poisoned").clone();
        let mut warnings = Vec::new();
        for (name, h) in [("rspamd", &r), ("clamd", &c)] {
            if let Some(ScannerHealth { failing: Some(why), failing_since, at, .. }) = h {
                let then = if self.cfg.fail_open {
                    "mail from outside is accepted unscanned"
                } else {
                    "mail from outside is deferred (451) until it is back"
                };
                warnings.push(format!(
                    "{name} at {at} is failing since {} (unix time): {why}; {then}",
                    failing_since.unwrap_or_default()
                ));
            }
        }
        DoorStatus {
            rspamd: r,
            clamd: c,
            greylisting: self.greylist.is_some(),
            fail_open: self.cfg.fail_open,
            warnings,
        }
    }

    /// The scanners' failures, for the server's dashboard.
    pub fn alerts(&self) -> Vec<pochta_directory::api::AgentWarning> {
        let (r, c) = self.health.lock().expect("not poisoned").clone();
        [("rspamd", r), ("clamd", c)]
            .into_iter()
            .filter_map(|(name, h)| {
                let h = h?;
                Some(pochta_directory::api::AgentWarning::ScannerFailing {
                    scanner: name.to_owned(),
                    at: h.at,
                    since: h.failing_since?,
                    fail_open: self.cfg.fail_open,
                    error: h.failing?,
                })
            })
            .collect()
    }

    fn record(&self, clamd: bool, result: Result<(), String>) {
        let mut h = self.health.lock().expect("not poisoned");
        let Some(h) = (if clamd { h.1.as_mut() } else { h.0.as_mut() }) else { return };
        match result {
            Ok(()) => {
                if h.failing.take().is_some() {
                    tracing::info!(
                        scanner = if clamd { "clamd" } else { "rspamd" },
                        "the scanner answers again"
                    );
                }
                h.failing_since = None;
                h.scanned += 1;
            }
            Err(why) => {
                if h.failing.is_none() {
                    tracing::error!(scanner = if clamd { "clamd" } else { "rspamd" }, error = %why, "a scanner failed");
                    h.failing_since = Some(crate::clock::unix_now());
                }
                h.failing = Some(why);
                h.failures += 1;
            }
        }
    }

    /// Scans a letter from outside after its data, before the answer.
    pub async fn scan(&self, letter: &Letter<'_>, queue_id: &str) -> Decision {
        let mut data = header::without_where(letter.data, |f| OUR_FIELDS.iter().any(|n| f.is(n)))
            .unwrap_or_else(|| letter.data.to_vec());
        if let Some(clean) = self.auth.as_ref().and_then(|a| a.without_forged_results(&data)) {
            data = clean;
        }
        if data.len() > self.cfg.max_scan_bytes {
            let mut fields = String::new();
            fields.push_str(&header::field(
                "X-Pochta-Unscanned",
                &format!("too large to scan ({} bytes) at {}", data.len(), self.hostname),
            ));
            return Decision::Accept { data: header::prepend(&fields, &data), junk: false };
        }
        let env = rspamd::Envelope {
            client_ip: letter.client_ip,
            helo: letter.helo,
            from: letter.from,
            rcpts: letter.rcpts,
            queue_id,
            mta: &self.hostname,
        };
        let spam = async {
            match &self.rspamd {
                Some(r) => Some(r.check(&env, &data).await),
                None => None,
            }
        };
        let virus = async {
            match &self.clamd {
                Some(c) => Some(c.scan(&data).await),
                None => None,
            }
        };
        let sender = async {
            match &self.auth {
                Some(a) => {
                    Some(a.check_letter(letter.client_ip, letter.helo, letter.from, letter.spf, &data).await)
                }
                None => None,
            }
        };
        let (spam, virus, sender) = tokio::join!(spam, virus, sender);
        if let Some(r) = &spam {
            self.record(false, r.as_ref().map(|_| ()).map_err(ToString::to_string));
        }
        if let Some(r) = &virus {
            self.record(true, r.as_ref().map(|_| ()).map_err(ToString::to_string));
        }
        self.decide(data, spam, virus, sender)
    }

    fn decide(
        &self,
        data: Vec<u8>,
        spam: Option<Result<rspamd::Verdict, rspamd::Error>>,
        virus: Option<Result<clamd::Verdict, clamd::Error>>,
        sender: Option<auth::LetterCheck>,
    ) -> Decision {
        let mut fields = String::new();
        let mut quarantine = false;
        if let Some(s) = sender {
            if let Some((reason, reply)) = s.refuse {
                return Decision::Refuse { reason, reply };
            }
            quarantine = s.quarantine;
            fields.push_str(&s.field);
        }
        let mut unscanned = Vec::new();
        match virus {
            Some(Ok(clamd::Verdict::Virus(name))) => {
                return Decision::Refuse { reason: "virus", reply: Reply::virus(&name) };
            }
            Some(Ok(clamd::Verdict::Clean)) => {
                fields.push_str(&header::field("X-Virus-Scanned", &format!("ClamAV at {}", self.hostname)));
            }
            Some(Err(e)) => unscanned.push(format!("clamd: {e}")),
            None => {}
        }
        let mut junk = quarantine;
        let mut subject = None;
        match spam {
            Some(Ok(v)) => {
                use rspamd::Action;
                let why = || v.smtp_message.clone().unwrap_or_else(|| format!("spam score {:.1}", v.score));
                match v.action {
                    Action::Reject => return Decision::Refuse { reason: "spam", reply: Reply::spam(&why()) },
                    Action::SoftReject => {
                        return Decision::Refuse {
                            reason: "spam_deferred",
                            reply: Reply::spam_deferred(&why()),
                        };
                    }
                    Action::Greylist => {
                        return Decision::Refuse { reason: "greylisted", reply: Reply::greylisted(None) };
                    }
                    Action::AddHeader => junk = true,
                    Action::RewriteSubject => {
                        junk = true;
                        subject = v.subject.clone();
                    }
                    Action::NoAction => {}
                }
                junk |= self.cfg.junk_score.is_some_and(|t| v.score >= t);
                fields.push_str(&header::field(SPAM_FIELD, if junk { "Yes" } else { "No" }));
                let mut score =
                    format!("{:.2} / {:.2} ({}) at {}", v.score, v.required, v.action.name(), self.hostname);
                if !v.symbols.is_empty() {
                    score.push_str(";\r\n\t");
                    score.push_str(&v.symbols.join(",\r\n\t"));
                }
                fields.push_str(&header::field("X-Spam-Score", &score));
            }
            Some(Err(e)) => unscanned.push(format!("rspamd: {e}")),
            // DMARC's quarantine without rspamd to say it.
            None if junk => fields.push_str(&header::field(SPAM_FIELD, "Yes")),
            None => {}
        }
        if !unscanned.is_empty() {
            if !self.cfg.fail_open {
                return Decision::Refuse { reason: "scanner_unavailable", reply: Reply::cannot_scan() };
            }
            let why = unscanned.join("; ").replace(['\r', '\n'], " ");
            fields.push_str(&header::field("X-Pochta-Unscanned", &format!("{why} at {}", self.hostname)));
        }
        let data = match subject {
            Some(s) => {
                let rest = header::without(&data, "Subject").unwrap_or(data);
                header::prepend(&header::field("Subject", &header::encoded_words(&s)), &rest)
            }
            None => data,
        };
        Decision::Accept { data: header::prepend(&fields, &data), junk }
    }
}

/// Whether a letter carries the door's spam verdict (the home site files it into Junk).
pub fn marked_spam(data: &[u8]) -> bool {
    header::first(data, SPAM_FIELD)
        .and_then(|f| f.text().map(|t| t.eq_ignore_ascii_case("yes")))
        .unwrap_or(false)
}
