//! EHLO/HELO (RFC 5321 §4.1.1.1) and STARTTLS (RFC 3207).

use super::{Action, Session, State, Waiting};
use crate::reply::{Code, Reply};

impl Session {
    pub(super) fn ehlo(&mut self, host: String, esmtp: bool) {
        // RFC 5321 §4.1.4: EHLO/HELO resets any transaction.
        self.tx = None;
        let client: String = host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-.:[]_".contains(c) { c } else { '?' })
            .take(255)
            .collect();
        self.helo = Some(client.clone());
        self.esmtp = esmtp;
        if !esmtp {
            let r = Reply::helo(&self.cfg.hostname, &client);
            self.reply(r);
            return;
        }
        // RFC 5321 §4.1.1.1: the EHLO reply lists the extensions.
        let mut lines = vec![
            format!("{} greets {client}", self.cfg.hostname),
            "PIPELINING".to_owned(),                         // RFC 2920
            format!("SIZE {}", self.cfg.limits.max_message), // RFC 1870
            "8BITMIME".to_owned(),                           // RFC 6152
            "ENHANCEDSTATUSCODES".to_owned(),                // RFC 2034
            "SMTPUTF8".to_owned(),                           // RFC 6531
            "CHUNKING".to_owned(),                           // RFC 3030
        ];
        if self.tls_available && !self.tls {
            lines.push("STARTTLS".to_owned()); // RFC 3207
        }
        // RFC 4954 §4 + RFC 8314: AUTH only over TLS, and not once authenticated.
        if self.tls && self.auth.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        self.reply(Reply::bare(Code::OK, lines.join("\n")));
    }

    pub(super) fn starttls(&mut self) -> Option<Action> {
        if self.tls {
            self.error(Reply::tls_already());
            return None;
        }
        if !self.tls_available {
            self.error(Reply::tls_unavailable());
            return None;
        }
        if self.helo.is_none() {
            self.error(Reply::bad_sequence("send EHLO first"));
            return None;
        }
        self.reply(Reply::starttls_ready());
        // RFC 3207 §4 / CVE-2011-0411: whatever the client sent after STARTTLS and before the
        // handshake is discarded, never read as commands inside TLS.
        self.input.clear();
        self.pos = 0;
        self.state = State::Waiting(Waiting::Tls);
        Some(Action::StartTls)
    }
}
