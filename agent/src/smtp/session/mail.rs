//! MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531)
//! and AUTH (RFC 4954 §5); an authenticated user may send only as himself (RFC 6409 §4.1).

use pochta_directory::{Address, Directory};

use super::{Action, Authed, Role, SenderQuery, Session, State, Tx, Waiting};
use crate::reply::Reply;
use crate::smtp::path::{Path, PathError};

impl Session {
    pub(super) fn mail(&mut self, args: &str) -> Option<Action> {
        let tx = match self.new_transaction(args) {
            Ok(tx) => tx,
            Err(Refusal::Error(r)) => {
                self.error(r);
                return None;
            }
            Err(Refusal::Reject(reason, r)) => {
                self.reject(reason, r);
                return None;
            }
        };
        // A stranger's sender goes to the door's check (SPF) first; the answer waits for it.
        if self.auth.is_none()
            && self.role == Role::Mx
            && self.cfg.door.as_ref().is_some_and(|d| d.checks_sender())
        {
            let query = SenderQuery {
                client_ip: self.client_ip,
                helo: self.helo().to_owned(),
                from: tx.from.clone(),
            };
            self.tx = Some(tx);
            self.state = State::Waiting(Waiting::Sender);
            return Some(Action::CheckSender(query));
        }
        self.tx = Some(tx);
        self.reply(Reply::sender_ok());
        None
    }

    /// The transaction MAIL FROM opens, or why it is refused.
    fn new_transaction(&self, args: &str) -> Result<Tx, Refusal> {
        if self.helo.is_none() {
            return Err(Refusal::Error(Reply::bad_sequence("send EHLO first")));
        }
        if self.tx.is_some() {
            return Err(Refusal::Error(Reply::bad_sequence("nested MAIL command")));
        }
        if self.role.needs_auth() && self.auth.is_none() {
            let r = if self.tls { Reply::auth_required() } else { Reply::starttls_first() };
            return Err(Refusal::Error(r));
        }
        let path = match Path::parse(args, "FROM") {
            Ok(p) => p,
            Err(PathError::Syntax(s)) => return Err(Refusal::Error(Reply::bad_arguments(s))),
            Err(PathError::Param(p)) => {
                return Err(Refusal::Error(Reply::bad_arguments(format!("bad parameter {p}"))));
            }
        };
        let mut tx = Tx::default();
        for (k, v) in &path.params {
            match (k.as_str(), v.as_deref()) {
                // RFC 1870 §6: a declared size over the limit is refused at MAIL.
                ("SIZE", Some(n)) => match n.parse::<u64>() {
                    Ok(n) if n > self.cfg.limits.max_message as u64 => {
                        return Err(Refusal::Reject("too_big", Reply::too_big()));
                    }
                    Ok(n) => tx.size = Some(n),
                    Err(_) => return Err(Refusal::Error(Reply::bad_arguments("bad SIZE value"))),
                },
                // RFC 6152.
                ("BODY", Some(b)) if b.eq_ignore_ascii_case("7BIT") || b.eq_ignore_ascii_case("8BITMIME") => {
                }
                // RFC 6531 §3.4.
                ("SMTPUTF8", None) => tx.smtputf8 = true,
                // RFC 4954 §5: accepted and not passed on.
                ("AUTH", Some(_)) => {}
                _ => return Err(Refusal::Error(Reply::param_not_supported(k))),
            }
        }
        if !path.mailbox.is_ascii() && !tx.smtputf8 {
            return Err(Refusal::Error(Reply::needs_smtputf8()));
        }
        if path.is_null() {
            if matches!(self.auth, Some(Authed::User(_))) {
                return Err(Refusal::Reject("sender_not_owned", Reply::sender_not_owned()));
            }
        } else {
            if path.source_route {
                return Err(Refusal::Reject(
                    "bad_sender",
                    Reply::bad_sender("source routes are not accepted"),
                ));
            }
            let addr = match path.address() {
                Ok(a) => a,
                Err(e) => return Err(Refusal::Reject("bad_sender", Reply::bad_sender(e))),
            };
            if let Some(Authed::User(user)) = &self.auth
                && !owns(&self.view.directory(), user, &addr)
            {
                return Err(Refusal::Reject("sender_not_owned", Reply::sender_not_owned()));
            }
            tx.from = Some(addr);
        }
        Ok(tx)
    }
}

/// Why MAIL FROM is refused: a client error, or a refusal counted under a reason.
enum Refusal {
    Error(Reply),
    Reject(&'static str, Reply),
}

/// Whether `addr` is one of `user`'s addresses: his official address, or his local address at
/// his home site or a former one.
fn owns(dir: &Directory, user: &Address, addr: &Address) -> bool {
    if addr.local() != user.local() {
        return false;
    }
    if *addr.domain() == dir.domain {
        return true;
    }
    match (dir.user(user.local()), dir.site_of_domain(addr.domain())) {
        (Some(u), Some(site)) => u.site == site.id || u.former_sites.contains(&site.id),
        _ => false,
    }
}
