//! MAIL FROM (RFC 5321 §4.1.1.2) with SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531)
//! and AUTH (RFC 4954 §5); an authenticated user may send only as himself (RFC 6409 §4.1).

use pochta_directory::{Address, Directory};

use super::{Authed, Session, Tx};
use crate::reply::Reply;
use crate::smtp::path::{Path, PathError};

impl Session {
    pub(super) fn mail(&mut self, args: &str) {
        if self.helo.is_none() {
            self.error(Reply::bad_sequence("send EHLO first"));
            return;
        }
        if self.tx.is_some() {
            self.error(Reply::bad_sequence("nested MAIL command"));
            return;
        }
        if self.role.needs_auth() && self.auth.is_none() {
            let r = if self.tls { Reply::auth_required() } else { Reply::starttls_first() };
            self.error(r);
            return;
        }
        let path = match Path::parse(args, "FROM") {
            Ok(p) => p,
            Err(PathError::Syntax(s)) => return self.error(Reply::bad_arguments(s)),
            Err(PathError::Param(p)) => {
                return self.error(Reply::bad_arguments(format!("bad parameter {p}")));
            }
        };
        let mut tx = Tx::default();
        for (k, v) in &path.params {
            match (k.as_str(), v.as_deref()) {
                // RFC 1870 §6: a declared size over the limit is refused at MAIL.
                ("SIZE", Some(n)) => match n.parse::<u64>() {
                    Ok(n) if n > self.cfg.limits.max_message as u64 => {
                        return self.reject("too_big", Reply::too_big());
                    }
                    Ok(n) => tx.size = Some(n),
                    Err(_) => return self.error(Reply::bad_arguments("bad SIZE value")),
                },
                // RFC 6152.
                ("BODY", Some(b)) if b.eq_ignore_ascii_case("7BIT") || b.eq_ignore_ascii_case("8BITMIME") => {
                }
                // RFC 6531 §3.4.
                ("SMTPUTF8", None) => tx.smtputf8 = true,
                // RFC 4954 §5: accepted and not passed on.
                ("AUTH", Some(_)) => {}
                _ => return self.error(Reply::param_not_supported(k)),
            }
        }
        if !path.mailbox.is_ascii() && !tx.smtputf8 {
            return self.error(Reply::needs_smtputf8());
        }
        if path.is_null() {
            if matches!(self.auth, Some(Authed::User(_))) {
                return self.reject("sender_not_owned", Reply::sender_not_owned());
            }
        } else {
            if path.source_route {
                return self.reject("bad_sender", Reply::bad_sender("source routes are not accepted"));
            }
            let addr = match path.address() {
                Ok(a) => a,
                Err(e) => return self.reject("bad_sender", Reply::bad_sender(e)),
            };
            if let Some(Authed::User(user)) = &self.auth
                && !owns(&self.view.directory(), user, &addr)
            {
                return self.reject("sender_not_owned", Reply::sender_not_owned());
            }
            tx.from = Some(addr);
        }
        self.tx = Some(tx);
        self.reply(Reply::sender_ok());
    }
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
