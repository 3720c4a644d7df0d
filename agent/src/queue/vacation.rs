//! The vacation auto-reply (RFC 3834), sent by the user's home agent when it files a letter
//! for him while his vacation is on: whether to answer ([`wants_reply`], pure), the answer
//! ([`reply`], pure) and the record of whom he answered when ([`ReplyLog`], files).
//!
//! RFC 3834 §2: reply only to the envelope sender, never to `<>`; not to a letter that is
//! itself automatic (`Auto-Submitted:` other than `no`) or from a list or a bulk sender
//! (`Precedence: bulk|list|junk`, `List-Id:`, `List-Unsubscribe:`), nor to a system address
//! (mailer-daemon, postmaster, noreply and the like); only when one of the user's own addresses
//! is in `To:`/`Cc:` (not when he got it through a list he is on, or as a Bcc); and at most once
//! per sender in `interval_days`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pochta_directory::resolve::{Sender, resolve};
use pochta_directory::{Address, Day, Directory, User, Vacation};

use crate::mail::{date, header};

/// At most this many `To:`/`Cc:` addresses are looked at.
const MAX_ADDRESSES: usize = 100;

/// At most this many senders are remembered per user; the oldest are forgotten first.
const MAX_SENDERS: usize = 1_000;

/// Local parts of system senders that never get a reply (RFC 3834 §2, RFC 2142).
const SYSTEM_SENDERS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "listserv",
    "majordomo",
];

/// Whether `user`'s vacation answers the letter `data` from `sender` today; the vacation
/// when it does. The per-sender interval is the [`ReplyLog`]'s business.
pub fn wants_reply<'a>(
    dir: &Directory,
    user: &'a User,
    sender: Option<&Address>,
    data: &[u8],
    today: Day,
) -> Option<&'a Vacation> {
    let v = user.mailbox.vacation.as_ref().filter(|v| v.active_on(today))?;
    let sender = sender?;
    let local = sender.local().folded();
    if SYSTEM_SENDERS.contains(&local)
        || local.starts_with("owner-")
        || local.ends_with("-request")
        || local.starts_with("bounce")
    {
        return None;
    }
    if reaches(dir, user, sender) {
        return None; // his own letter, or one from an address of his
    }
    let mut addressed = false;
    for f in header::fields(data) {
        let text = || f.text().unwrap_or_default().to_ascii_lowercase();
        if f.is("Auto-Submitted") && text() != "no" {
            return None;
        }
        if f.is("Precedence") && matches!(text().as_str(), "bulk" | "list" | "junk") {
            return None;
        }
        if f.is("List-Id") || f.is("List-Unsubscribe") {
            return None;
        }
        if !addressed && (f.is("To") || f.is("Cc")) {
            let value = String::from_utf8_lossy(f.value);
            addressed = header::addresses(&value)
                .iter()
                .take(MAX_ADDRESSES)
                .filter_map(|a| Address::parse(a).ok())
                .any(|a| reaches(dir, user, &a));
        }
    }
    addressed.then_some(v)
}

/// Whether `addr` is one of `user`'s addresses: official, site, former site, or an alias that
/// ends at him. A list reaches many; it does not count (§2: not mail sent to a list).
fn reaches(dir: &Directory, user: &User, addr: &Address) -> bool {
    if !dir.is_ours(addr.domain()) {
        return false;
    }
    if dir.group(addr.local()).is_some_and(|g| g.kind == pochta_directory::GroupKind::List) {
        return false;
    }
    let internal = Sender { address: None, internal: true };
    resolve(dir, addr, &internal).is_ok_and(|r| r.local.values().flatten().any(|n| *n == user.name))
}

/// The reply to the letter `data` from `to`, from `user`'s official address (RFC 3834 §3).
/// `message_id` is the reply's own, without angle brackets.
pub fn reply(
    dir: &Directory,
    user: &User,
    v: &Vacation,
    to: &Address,
    data: &[u8],
    message_id: &str,
) -> Vec<u8> {
    use base64::Engine as _;
    let mut h = String::new();
    h.push_str(&header::field("From", &format!("<{}>", dir.official(&user.name))));
    h.push_str(&header::field("To", &format!("<{to}>")));
    h.push_str(&header::field("Subject", &header::encoded_words(&v.subject)));
    h.push_str(&header::field("Date", &date::now()));
    h.push_str(&header::field("Message-ID", &format!("<{message_id}>")));
    // §3.1.5: In-Reply-To and References name the letter answered.
    let original = header::first(data, "Message-ID").and_then(|f| f.text().map(one_line));
    if let Some(id) = original.filter(|id| !id.is_empty()) {
        let refs = header::first(data, "References").and_then(|f| f.text().map(one_line));
        let refs = refs.filter(|r| !r.is_empty()).map_or_else(|| id.clone(), |r| format!("{r} {id}"));
        h.push_str(&header::field("In-Reply-To", &id));
        h.push_str(&header::field("References", &refs));
    }
    // §5: the reply is automatic, so other responders leave it alone.
    h.push_str(&header::field("Auto-Submitted", "auto-replied"));
    h.push_str(&header::field("MIME-Version", "1.0"));
    h.push_str(&header::field("Content-Type", "text/plain; charset=utf-8"));
    let text = v.text.replace("\r\n", "\n").replace('\n', "\r\n");
    let body = if text.is_ascii() {
        h.push_str(&header::field("Content-Transfer-Encoding", "7bit"));
        text
    } else {
        // Base64 rather than 8bit: the next hop may not offer 8BITMIME.
        h.push_str(&header::field("Content-Transfer-Encoding", "base64"));
        let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
        b64.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let mut out = h.into_bytes();
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// A folded header value on one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whom each user's vacation answered, and on which day: one small file per user under
/// `<data>/autoreply/`, lines `<day> <sender>`, at most [`MAX_SENDERS`] of them, replaced
/// whole (tmp, fsync, rename) so a crash leaves the old or the new record, never half.
pub struct ReplyLog {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl ReplyLog {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, lock: Mutex::new(()) }
    }

    /// Whether `user` should answer `sender` today — not answered in the last
    /// `interval_days` — and if so, records that he did.
    pub fn take(
        &self,
        user: &User,
        sender: &Address,
        interval_days: u32,
        today: Day,
    ) -> std::io::Result<bool> {
        let _one_at_a_time = self.lock.lock().expect("not poisoned");
        let path = self.dir.join(crate::mail::maildir::user_dir(user.name.folded()));
        let key = format!("{}@{}", sender.local().folded(), sender.domain()).to_ascii_lowercase();
        let mut seen: BTreeMap<String, i64> = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (day, who) = l.split_once(' ')?;
                Some((who.to_owned(), day.parse().ok()?))
            })
            .collect();
        if let Some(last) = seen.get(&key)
            && today.days() - last < i64::from(interval_days)
        {
            return Ok(false);
        }
        seen.insert(key, today.days());
        // Older than the longest interval there is: no longer needed.
        seen.retain(|_, d| today.days() - *d < i64::from(pochta_directory::model::MAX_VACATION_DAYS));
        let mut rows: Vec<(i64, String)> = seen.into_iter().map(|(w, d)| (d, w)).collect();
        rows.sort_unstable_by(|a, b| b.cmp(a));
        rows.truncate(MAX_SENDERS);
        let text: String = rows.iter().map(|(d, w)| format!("{d} {w}\n")).collect();
        crate::durable::create_dir_durable(&self.dir)?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write as _;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        crate::durable::sync_dir(&self.dir)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pochta_directory::{Domain, Group, GroupKind, LocalPart, SiteId};

    fn setup() -> (Directory, User) {
        let mut dir = Directory::new(Domain::parse("example.org").unwrap());
        let site = SiteId::parse("hq").unwrap();
        dir.sites.insert(
            site.clone(),
            pochta_directory::Site {
                id: site.clone(),
                name: "HQ".into(),
                level: pochta_directory::Level::One,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            },
        );
        let u = User {
            app_passwords: Vec::new(),
            name: LocalPart::parse("ivan").unwrap(),
            display_name: String::new(),
            site,
            former_sites: Default::default(),
            password: None,
            enabled: true,
            mailbox: pochta_directory::MailboxSettings {
                vacation: Some(Vacation {
                    start: None,
                    end: Some(Day::from_days(100)),
                    subject: "В отпуске".into(),
                    text: "Вернусь в понедельник.\nIvan".into(),
                    interval_days: 7,
                }),
                ..Default::default()
            },
        };
        dir.users.insert(u.name.clone(), u.clone());
        for (name, kind) in [("ivan.alias", GroupKind::Alias), ("everyone", GroupKind::List)] {
            let g: Group = serde_json::from_value(serde_json::json!({
                "name": name, "kind": kind, "members": ["ivan@example.org"], "policy": "anyone",
            }))
            .unwrap();
            dir.groups.insert(g.name.clone(), g);
        }
        (dir, u)
    }

    fn ask(headers: &str, from: Option<&str>, day: i64) -> bool {
        let (dir, u) = setup();
        let from = from.map(|f| Address::parse(f).unwrap());
        let data = format!("{headers}\r\n\r\nhello\r\n");
        wants_reply(&dir, &u, from.as_ref(), data.as_bytes(), Day::from_days(day)).is_some()
    }

    #[test]
    fn answers_letters_to_him_only() {
        let from = Some("boss@example.net");
        assert!(ask("To: Ivan <IVAN@example.org>", from, 10));
        assert!(ask("To: x@example.net\r\nCc: ivan@hq.example.org", from, 10));
        assert!(ask("To: ivan.alias@example.org", from, 10));
        assert!(!ask("To: everyone@example.org", from, 10), "a list");
        assert!(!ask("To: x@example.net", from, 10), "a Bcc");
        assert!(!ask("To: ivan@example.org", from, 101), "the vacation is over");
        assert!(!ask("To: ivan@example.org", None, 10), "<>");
        assert!(!ask("To: ivan@example.org", Some("MAILER-DAEMON@example.net"), 10));
        assert!(!ask("To: ivan@example.org", Some("no-reply@example.net"), 10));
        assert!(!ask("To: ivan@example.org", Some("ivan@example.org"), 10), "himself");
        for h in [
            "Auto-Submitted: auto-replied",
            "Precedence: bulk",
            "Precedence: List",
            "List-Id: <x.example.net>",
            "List-Unsubscribe: <mailto:u@example.net>",
        ] {
            assert!(!ask(&format!("To: ivan@example.org\r\n{h}"), from, 10), "{h}");
        }
        assert!(ask("To: ivan@example.org\r\nAuto-Submitted: no", from, 10));
    }

    #[test]
    fn the_reply() {
        let (dir, u) = setup();
        let to = Address::parse("boss@example.net").unwrap();
        let data = b"Message-ID: <m1@example.net>\r\nReferences: <m0@example.net>\r\n\r\nhi\r\n";
        let r = reply(&dir, &u, u.mailbox.vacation.as_ref().unwrap(), &to, data, "r1@hq");
        let r = String::from_utf8(r).unwrap();
        for want in [
            "From: <ivan@example.org>\r\n",
            "To: <boss@example.net>\r\n",
            "Subject: =?UTF-8?B?0JIg0L7RgtC/0YPRgdC60LU=?=\r\n",
            "In-Reply-To: <m1@example.net>\r\n",
            "References: <m0@example.net> <m1@example.net>\r\n",
            "Auto-Submitted: auto-replied\r\n",
            "Content-Transfer-Encoding: base64\r\n",
        ] {
            assert!(r.contains(want), "{want} in {r}");
        }
    }

    #[test]
    fn once_per_sender_per_interval_and_across_restarts() {
        let (_, u) = setup();
        let tmp = tempfile::tempdir().unwrap();
        let a = Address::parse("a@example.net").unwrap();
        let b = Address::parse("B@example.net").unwrap();
        let log = ReplyLog::new(tmp.path().join("autoreply"));
        assert!(log.take(&u, &a, 7, Day::from_days(10)).unwrap());
        assert!(!log.take(&u, &a, 7, Day::from_days(16)).unwrap());
        assert!(log.take(&u, &b, 7, Day::from_days(16)).unwrap());
        let log = ReplyLog::new(tmp.path().join("autoreply"));
        assert!(!log.take(&u, &Address::parse("b@example.net").unwrap(), 7, Day::from_days(17)).unwrap());
        assert!(log.take(&u, &a, 7, Day::from_days(17)).unwrap());
    }
}
