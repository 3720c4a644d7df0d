//! DATA (RFC 5321 §4.1.1.4) and BDAT (RFC 3030), the loop check (RFC 5321 §6.3), our
//! `Received:` field (§4.4) and the hand-over to the queue.

use super::{Action, Authed, Role, Session, State, Tx, Waiting};
use crate::mail::{date, header};
use crate::queue::{Incoming, Origin};
use crate::reply::Reply;
use crate::smtp::data::{self, DataReceiver};

impl Session {
    /// Whether this listener refuses a message with a bare LF (see `Limits`).
    fn reject_bare_lf(&self) -> bool {
        match self.role {
            Role::Mx => self.cfg.limits.reject_bare_lf_mx,
            Role::Submission | Role::Submissions => self.cfg.limits.reject_bare_lf,
        }
    }

    pub(super) fn data(&mut self) {
        match &self.tx {
            None => return self.error(Reply::bad_sequence("need MAIL before DATA")),
            Some(tx) if tx.chunked => return self.error(Reply::bad_sequence("DATA after BDAT")),
            // RFC 2920 §3.1: DATA with no valid recipients → 554.
            Some(tx) if tx.rcpts.is_empty() => return self.error(Reply::no_valid_recipients()),
            Some(_) => {}
        }
        self.reply(Reply::start_data());
        self.state = State::Data(DataReceiver::new(self.cfg.limits.max_message, self.reject_bare_lf()));
    }

    pub(super) fn bdat(&mut self, size: usize, last: bool) {
        // RFC 3030 §2: the chunk is read whatever the answer will be, so that its bytes are
        // never taken for commands.
        let refuse = match self.tx.as_mut() {
            None => Some(Reply::bad_sequence("need MAIL before BDAT")),
            // RFC 2920 §3.1 / RFC 3030 §2: no valid recipients → 554.
            Some(tx) if tx.rcpts.is_empty() => Some(Reply::no_valid_recipients()),
            Some(tx) => {
                tx.chunked = true;
                tx.failed.clone()
            }
        };
        self.state = State::Bdat { left: size, last, refuse };
    }

    pub(super) fn end_of_chunk(&mut self, last: bool, refuse: Option<Reply>) -> Option<Action> {
        if let Some(r) = refuse {
            if let Some(tx) = self.tx.as_mut() {
                tx.failed = Some(r.clone());
                if last {
                    self.tx = None;
                }
            }
            self.error(r);
            return None;
        }
        let tx = self.tx.as_mut().expect("a chunk that is not refused has a transaction");
        if tx.oversized {
            let r = Reply::too_big();
            tx.failed = Some(r.clone());
            if last {
                self.tx = None;
            }
            self.reject("too_big", r);
            return None;
        }
        if !last {
            let n = tx.chunks.len();
            self.reply(Reply::chunk_ok(n));
            return None;
        }
        let mut tx = self.tx.take().expect("checked");
        let body = std::mem::take(&mut tx.chunks);
        let body = match data::check_chunked(&body, self.reject_bare_lf()) {
            Ok(None) => body,
            Ok(Some(normalised)) => normalised,
            Err(bare) => {
                self.reject("bare_line_ending", Reply::bare_line_ending(bare.what()));
                return None;
            }
        };
        self.finish(tx, body)
    }

    pub(super) fn end_of_data(&mut self, rx: DataReceiver) -> Option<Action> {
        let tx = self.tx.take().expect("DATA is accepted only inside a transaction");
        if rx.oversized {
            self.reject("too_big", Reply::too_big());
            return None;
        }
        if let Some(bare) = rx.bare {
            tracing::warn!(ip = %self.client_ip, what = bare.what(), "message refused: bare line ending (SMTP smuggling?)");
            self.reject("bare_line_ending", Reply::bare_line_ending(bare.what()));
            return None;
        }
        self.finish(tx, rx.body)
    }

    /// Loop check, trace header, and the hand-over to the queue.
    pub(super) fn finish(&mut self, mut tx: Tx, body: Vec<u8>) -> Option<Action> {
        if header::count(&body, "Received") > self.cfg.limits.max_received {
            self.reject("loop", Reply::loop_detected());
            return None;
        }
        let msg = header::prepend(&self.received_header(&tx), &body);
        self.last_spf = tx.spf.take();
        let origin = match &self.auth {
            None => Origin::Outside,
            Some(Authed::User(a)) => Origin::User(a.clone()),
            Some(Authed::Peer(id)) => Origin::Peer { agent_id: id.clone() },
        };
        let incoming = Incoming {
            reverse_path: tx.from,
            recipients: tx.rcpts,
            origin,
            client_ip: self.client_ip,
            data: msg,
        };
        self.state = State::Waiting(Waiting::Queue);
        Some(Action::Enqueue(Box::new(incoming)))
    }

    /// RFC 5321 §4.4 trace field, with the protocol names of RFC 3848 and RFC 6531 §3.7.3.
    pub(super) fn received_header(&self, tx: &Tx) -> String {
        let mut proto = String::new();
        if tx.smtputf8 {
            proto.push_str("UTF8");
        }
        proto.push_str(if self.esmtp { "ESMTP" } else { "SMTP" });
        if self.tls {
            proto.push('S');
        }
        if self.auth.is_some() {
            proto.push('A');
        }
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let mut h = format!(
            "Received: from {helo} ([{ip}])\r\n\tby {host} (Pochta agent {agent}, site {site})\r\n\twith {proto}",
            ip = self.client_ip,
            host = self.cfg.hostname,
            agent = self.cfg.agent_id,
            site = self.cfg.site,
        );
        if let [one] = tx.rcpts.as_slice() {
            h.push_str(&format!("\r\n\tfor <{one}>"));
        }
        h.push_str(&format!(";\r\n\t{}\r\n", date::now()));
        h
    }
}
