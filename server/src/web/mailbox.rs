//! What the administrator's user page and the user's own page share about a mailbox: the form
//! for quota, forwarding and vacation (`templates/mailbox_form.html`), and the mail-client
//! settings of the home site as its agents reported them (`templates/client_settings.html`).

use pochta_directory::api::ClientServices;
use pochta_directory::{Directory, User};
use serde::Deserialize;

use crate::error::ApiError;
use crate::manage::mailbox::{GB, MB, VacationInput, parse_forward, parse_quota_in, parse_vacation};
use crate::manage::users::UserPatch;
use crate::state::AppState;

/// The mailbox form as typed; also how a stored user is shown in it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MailboxForm {
    /// A number in `quota_unit`; empty: the site's default. Only the administrator's form has it.
    #[serde(default)]
    pub quota: String,
    #[serde(default)]
    pub quota_unit: String,
    /// Addresses, one per line.
    #[serde(default)]
    pub forward: String,
    #[serde(default)]
    pub keep_copy: Option<String>,
    #[serde(default)]
    pub vacation_on: Option<String>,
    #[serde(default)]
    pub vacation_start: String,
    #[serde(default)]
    pub vacation_end: String,
    #[serde(default)]
    pub vacation_subject: String,
    #[serde(default)]
    pub vacation_text: String,
    #[serde(default)]
    pub vacation_days: String,
}

/// The form's fields, where its refusals are shown.
pub const FIELDS: &[&str] = &[
    "quota",
    "forward",
    "vacation_start",
    "vacation_end",
    "vacation_subject",
    "vacation_text",
    "vacation_days",
];

/// A refusal of the mailbox form: next to its field, or above the form (field `mailbox`) when
/// it is about no one field (control characters may be in the subject or the text). Not in
/// the page's general place, which on `/me` belongs to the password form.
pub fn form_errors(e: &ApiError, lang: super::i18n::Lang) -> super::FormErrors {
    let mut errors = super::FormErrors::from_api(e, lang, FIELDS);
    if let Some(general) = errors.general.take() {
        errors.fields.push(("mailbox", general));
    }
    errors
}

impl MailboxForm {
    /// The user's settings as the form shows them.
    pub fn of(u: &User) -> MailboxForm {
        let m = &u.mailbox;
        let (quota, quota_unit) = match m.quota {
            None => (String::new(), "MB"),
            Some(q) if q % GB == 0 => ((q / GB).to_string(), "GB"),
            Some(q) if q % MB == 0 => ((q / MB).to_string(), "MB"),
            Some(q) => (format!("{:.2}", q as f64 / MB as f64), "MB"),
        };
        let v = m.vacation.as_ref();
        MailboxForm {
            quota,
            quota_unit: quota_unit.to_owned(),
            forward: m.forward.iter().flat_map(|f| &f.to).map(|a| format!("{a}\n")).collect(),
            keep_copy: m.forward.as_ref().is_none_or(|f| f.keep_copy).then(|| "on".to_owned()),
            vacation_on: v.map(|_| "on".to_owned()),
            vacation_start: v.and_then(|v| v.start).map(|d| d.to_string()).unwrap_or_default(),
            vacation_end: v.and_then(|v| v.end).map(|d| d.to_string()).unwrap_or_default(),
            vacation_subject: v.map(|v| v.subject.clone()).unwrap_or_default(),
            vacation_text: v.map(|v| v.text.clone()).unwrap_or_default(),
            vacation_days: v.map_or(7, |v| v.interval_days).to_string(),
        }
    }

    pub fn keeps_copy(&self) -> bool {
        self.keep_copy.is_some()
    }
    pub fn vacation(&self) -> bool {
        self.vacation_on.is_some()
    }
    pub fn in_gb(&self) -> bool {
        self.quota_unit.eq_ignore_ascii_case("GB")
    }

    /// The edit the form asks for; with `quota` false (the user's own page) the quota is left
    /// as it is whatever was posted.
    pub fn patch(&self, quota: bool) -> Result<UserPatch, ApiError> {
        let vacation = VacationInput {
            on: self.vacation(),
            start: self.vacation_start.clone(),
            end: self.vacation_end.clone(),
            subject: self.vacation_subject.clone(),
            text: self.vacation_text.clone(),
            interval_days: self.vacation_days.clone(),
        };
        Ok(UserPatch {
            quota: if quota { Some(parse_quota_in(&self.quota, &self.quota_unit)?) } else { None },
            forward: Some(parse_forward(&self.forward, self.keeps_copy())?),
            vacation: Some(parse_vacation(&vacation)?),
            ..Default::default()
        })
    }
}

/// A user's mailbox at a glance: bytes used (`None`: not reported), the quota in force, and
/// whether it is the site's default.
pub struct MailboxFacts {
    pub used: Option<u64>,
    pub quota: Option<u64>,
    pub site_default: bool,
    /// The site's default quota, for the form's hint.
    pub default_quota: Option<u64>,
    pub forward: Vec<String>,
    pub vacation: bool,
}

impl MailboxFacts {
    pub fn of(st: &AppState, dir: &Directory, u: &User) -> MailboxFacts {
        MailboxFacts {
            used: st.reports.usage().of(u),
            quota: dir.quota_of(u),
            site_default: u.mailbox.quota.is_none(),
            default_quota: dir.site(&u.site).and_then(|s| s.default_quota),
            forward: u.mailbox.forward.iter().flat_map(|f| &f.to).map(ToString::to_string).collect(),
            vacation: u.mailbox.vacation.is_some(),
        }
    }
}

/// One line of the mail-client settings.
pub struct ClientRow {
    /// Fluent keys of the protocol and the connection security.
    pub protocol: &'static str,
    pub security: &'static str,
    pub host: String,
    pub port: String,
}

#[derive(Clone, Copy)]
enum Service {
    Imaps,
    Imap,
    Pop3s,
    Pop3,
    Submissions,
    Submission,
}

impl Service {
    /// Implicit TLS first: it is what a client should prefer (RFC 8314 §3).
    const ALL: [Service; 6] = [
        Service::Imaps,
        Service::Imap,
        Service::Pop3s,
        Service::Pop3,
        Service::Submissions,
        Service::Submission,
    ];

    fn endpoint(self, s: &ClientServices) -> &str {
        match self {
            Service::Imaps => &s.imaps,
            Service::Imap => &s.imap,
            Service::Pop3s => &s.pop3s,
            Service::Pop3 => &s.pop3,
            Service::Submissions => &s.submissions,
            Service::Submission => &s.submission,
        }
    }
    fn protocol(self) -> &'static str {
        match self {
            Service::Imaps | Service::Imap => "client-imap",
            Service::Pop3s | Service::Pop3 => "client-pop3",
            Service::Submissions | Service::Submission => "client-smtp",
        }
    }
    fn security(self) -> &'static str {
        match self {
            Service::Imaps | Service::Pop3s | Service::Submissions => "client-tls",
            Service::Imap | Service::Pop3 | Service::Submission => "client-starttls",
        }
    }
}

/// `host:port` or `[v6]:port` split in two; the whole as host when there is no port.
fn split(endpoint: &str) -> (String, String) {
    match endpoint.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h.trim_start_matches('[').trim_end_matches(']').to_owned(), p.to_owned())
        }
        _ => (endpoint.to_owned(), String::new()),
    }
}

/// The settings a mail client needs at `u`'s home site, from what its agents reported; empty
/// when none has reported yet.
pub fn client_rows(st: &AppState, dir: &Directory, u: &User) -> Vec<ClientRow> {
    let mut rows: Vec<ClientRow> = Vec::new();
    let services = st.reports.services_at(dir, &u.site);
    for service in Service::ALL {
        for s in &services {
            let endpoint = service.endpoint(s).trim();
            if endpoint.is_empty() {
                continue;
            }
            let (host, port) = split(endpoint);
            let (protocol, security) = (service.protocol(), service.security());
            let seen = rows.iter().any(|r| {
                r.protocol == protocol && r.security == security && r.host == host && r.port == port
            });
            if !seen {
                rows.push(ClientRow { protocol, security, host, port });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split() {
        assert_eq!(split("mail.msk.example.org:993"), ("mail.msk.example.org".into(), "993".into()));
        assert_eq!(split("[2001:db8::1]:465"), ("2001:db8::1".into(), "465".into()));
        assert_eq!(split("mail.example.org"), ("mail.example.org".into(), String::new()));
    }
}
