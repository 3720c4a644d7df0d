//! RCPT TO (RFC 5321 §4.1.1.3): the command's own checks here, the decision in
//! [`crate::smtp::policy::rcpt`].

use super::{Authed, Session};
use crate::door::greylist::Decision;
use crate::reply::Reply;
use crate::smtp::path::{Path, PathError};
use crate::smtp::policy::{self, Who};

impl Session {
    pub(super) fn rcpt(&mut self, args: &str) {
        let Some(tx) = &self.tx else {
            self.error(Reply::bad_sequence("need MAIL before RCPT"));
            return;
        };
        if tx.chunked {
            self.error(Reply::bad_sequence("RCPT after BDAT"));
            return;
        }
        let path = match Path::parse(args, "TO") {
            Ok(p) => p,
            Err(PathError::Syntax(s)) => return self.error(Reply::bad_arguments(s)),
            Err(PathError::Param(p)) => {
                return self.error(Reply::bad_arguments(format!("bad parameter {p}")));
            }
        };
        if let Some((k, _)) = path.params.first() {
            return self.error(Reply::param_not_supported(k));
        }
        if tx.rcpts.len() >= self.cfg.limits.max_recipients {
            return self.reject("too_many_recipients", Reply::too_many_recipients());
        }
        if !path.mailbox.is_ascii() && !tx.smtputf8 {
            return self.error(Reply::needs_smtputf8());
        }
        // Sender-specified routing: source routes, `%` and `!` hacks, a quoted `@`. We never
        // route by them; from a stranger they are an attempt to relay.
        if path.routing_trick() && self.auth.is_none() {
            return self.reject("relay_denied", Reply::relay_denied());
        }
        if path.is_null() {
            return self.reject("bad_recipient", Reply::bad_recipient("empty address"));
        }
        let who = match &self.auth {
            None => Who::Stranger,
            Some(Authed::User(_)) => Who::User,
            Some(Authed::Peer(_)) => Who::Peer,
        };
        let dir = self.view.directory();
        let accepted = match policy::rcpt(&dir, &path.mailbox, tx.from.as_ref(), who, self.view.stale()) {
            Ok(accepted) => accepted,
            Err(refused) => return self.reject(refused.reason, refused.reply),
        };
        // A recipient that is one mailbox of this site, over quota: refused now rather than
        // at the end of the data (RFC 1870 §6 with a declared SIZE; a full mailbox takes not
        // even one byte more). A list is never refused for one full member.
        let res = &accepted.resolution;
        if res.external.is_empty()
            && res.mailbox_count() == 1
            && let Some(names) = res.local.get(&self.cfg.site)
            && let Some(name) = names.first()
            && let Some(r) = self.view.mailbox_refusal(name, tx.size.unwrap_or(1).max(1))
        {
            return self.reject("over_quota", r);
        }
        let rcpt = accepted.address;
        // Greylisting (the door's first step): strangers only, recipients we would take.
        if who == Who::Stranger
            && let Some(g) = self.cfg.door.as_ref().and_then(|d| d.greylist.as_ref())
            && let Decision::Defer { retry_in } = g.check(self.client_ip, tx.from.as_ref(), &rcpt)
        {
            // Not a client error: a retry is what is asked for, so it does not count
            // towards closing the session.
            self.counters.reject("greylisted");
            return self.reply(Reply::greylisted(Some(retry_in)));
        }
        if let Some(tx) = self.tx.as_mut()
            && !tx.rcpts.contains(&rcpt)
        {
            tx.rcpts.push(rcpt);
        }
        self.reply(Reply::recipient_ok());
    }
}
