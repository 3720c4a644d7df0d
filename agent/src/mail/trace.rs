//! The agents' own trace fields, which never leave the deployment.
//!
//! * [`RELAY`] — `X-Pochta-Relay: <agent id> <queue id> <created ms>`, put on top of every copy
//!   a relaying agent sends to another site. A sending agent that dies after the receiver's
//!   `250` but before it recorded the delivery sends the same copy again when it restarts; the
//!   receiving agent names Maildir files after this field and skips mailboxes that already hold
//!   the copy, so the letter is still delivered exactly once.
//! * [`MOVE`] — `X-Pochta-Move: id=<move id> secs=<s> folder=<hex> in=<new|cur> flags=<letters>
//!   mac=<hex>`, on a letter of a mailbox moving to another site: where it was filed (`folder`
//!   empty: INBOX) and with which Maildir flags. `mac` (HMAC-SHA-256 with the deployment's peer
//!   secret, truncated to 128 bits, checked in constant time) keeps anyone else from choosing
//!   where a letter lands.
//! * [`MOVE_STATE`] — `X-Pochta-Move-State: id=<move id> keywords=<hex>,<hex> subscribed=<yes|no>
//!   mac=<hex>`, just above the move field: the letter's IMAP keywords by name and whether its
//!   folder was subscribed. A field of its own, signed on its own over the same move id, because
//!   agents of older versions refuse a move field with a key they do not know (they would file
//!   the letter into INBOX with the field in it); they take this one out with the other trace
//!   fields above the move field and file the letter as before, without keywords.
//!
//! * [`FORWARDED`] — `X-Pochta-Forwarded: <user's official address> mac=<hex>`, put on top of
//!   the copy a user's forwarding sends on (see `queue::forward`). It counts forwarding hops
//!   and names the users whose forwarding a letter went through, so a loop stops. It leaves
//!   the deployment with the letter on purpose: a forward to an outside address that comes
//!   back must still be recognised. `mac` (as for the move field) keeps a stranger from
//!   writing the field himself to stop a user's forwarding of his letter.
//!
//! Architecture Invariant: [`RELAY`] stays inside the deployment: [`without_relay`] takes it out
//! of a letter leaving for an MX or a smarthost, and out of the headers a DSN quotes.

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

use super::header;
use super::maildir::CopyName;

pub const RELAY: &str = "X-Pochta-Relay";
pub const MOVE: &str = "X-Pochta-Move";
pub const MOVE_STATE: &str = "X-Pochta-Move-State";
pub const FORWARDED: &str = "X-Pochta-Forwarded";

/// The forwarding field of user `official`, signed with the peer secret, with its line ending.
pub fn forwarded_field(official: &pochta_directory::Address, secret: &str) -> String {
    let who = official.to_string().to_ascii_lowercase();
    let tag = hex::encode(&mac(secret, &format!("forwarded {who}")).finalize().into_bytes()[..16]);
    header::field(FORWARDED, &format!("{who} mac={tag}"))
}

/// The users (their addresses, lower case) whose forwarding the letter went through, newest
/// first, from the fields whose MAC is right; its length is the number of forwarding hops.
pub fn forwarded_by(data: &[u8], secret: &str) -> Vec<String> {
    header::fields(data)
        .filter(|f| f.is(FORWARDED))
        .filter_map(|f| {
            let (who, tag) = f.text()?.rsplit_once(" mac=")?;
            let tag = hex::decode(tag).ok().filter(|t| t.len() == 16)?;
            mac(secret, &format!("forwarded {who}")).verify_truncated_left(&tag).ok()?;
            Some(who.to_owned())
        })
        .collect()
}

/// The relay field for copy `id` of agent `agent_id`, accepted at `created_ms`, with its line
/// ending. The same bytes on every attempt: the receiver recognises a copy sent twice.
pub fn relay_field(agent_id: &str, id: &impl std::fmt::Display, created_ms: i64) -> String {
    header::field(RELAY, &format!("{agent_id} {id} {created_ms}"))
}

/// The topmost relay field of a letter (the last hop's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayMark {
    /// When the sending agent accepted the letter, unix ms.
    pub created_ms: i64,
    /// A digest of the whole value: the same for every retransmission of one copy, different
    /// for every other copy.
    pub digest: [u8; 10],
}

impl RelayMark {
    /// The name the copy gets in a Maildir.
    pub fn copy_name(&self) -> CopyName {
        CopyName::Relayed { created_ms: self.created_ms, digest: self.digest }
    }

    pub fn find(data: &[u8]) -> Option<RelayMark> {
        let value = header::first(data, RELAY)?.text()?.to_owned();
        let created_ms = value.split_whitespace().nth(2)?.parse().ok()?;
        let hash = Sha256::digest(value.as_bytes());
        Some(RelayMark { created_ms, digest: hash[..10].try_into().expect("10 of 32 bytes") })
    }
}

/// The letter without any relay field, or `None` when it has none (see the invariant above).
pub fn without_relay(data: &[u8]) -> Option<Vec<u8>> {
    header::without(data, RELAY)
}

/// Where a moved letter was filed at its old site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveMark {
    /// The same for every hand-over of one source file (hex).
    pub id: String,
    /// The leading seconds of the source file's name (its delivery time).
    pub secs: u64,
    /// The Maildir++ folder without its leading dot; empty for INBOX.
    pub folder: String,
    /// In `new/` (unread, never seen) rather than `cur/`.
    pub new: bool,
    /// The Maildir flags of `cur/` (`:2,<flags>`): the system flags, upper case; keyword
    /// letters mean nothing outside their folder, so keywords travel by name instead.
    pub flags: String,
    /// The IMAP keywords set on the letter, by name ([`MOVE_STATE`]).
    pub keywords: Vec<String>,
    /// Whether the letter's folder was subscribed ([`MOVE_STATE`]).
    pub subscribed: bool,
}

/// A moved letter as the receiver reads it: the mark, and where the letter as it was starts
/// (after the move field and every trace field above it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub mark: MoveMark,
    pub start: usize,
}

impl MoveMark {
    /// The name the letter gets in a Maildir: the same for every hand-over of one source file.
    pub fn copy_name(&self) -> CopyName {
        CopyName::Moved { secs: self.secs, id: self.id.clone() }
    }

    /// The signed fields (the state field, then the move field), with their line endings.
    pub fn field(&self, secret: &str) -> String {
        let value = self.signed_part();
        let tag = hex::encode(&mac(secret, &value).finalize().into_bytes()[..16]);
        let state = self.state_part();
        let state_tag =
            hex::encode(&mac(secret, &format!("move-state {state}")).finalize().into_bytes()[..16]);
        header::field(MOVE_STATE, &format!("{state} mac={state_tag}"))
            + &header::field(MOVE, &format!("{value} mac={tag}"))
    }

    fn state_part(&self) -> String {
        let keywords: Vec<String> = self.keywords.iter().map(|k| hex::encode(k.as_bytes())).collect();
        format!(
            "id={} keywords={} subscribed={}",
            self.id,
            keywords.join(","),
            if self.subscribed { "yes" } else { "no" }
        )
    }

    /// Reads a state field's signed part into `self` if it is for this move id.
    fn read_state(&mut self, signed: &str) -> Option<()> {
        let (mut keywords, mut subscribed, mut id) = (Vec::new(), false, None);
        for part in signed.split(' ') {
            let (k, v) = part.split_once('=')?;
            match k {
                "id" => id = Some(v),
                "keywords" => {
                    for k in v.split(',').filter(|k| !k.is_empty()) {
                        keywords.push(String::from_utf8(hex::decode(k).ok()?).ok()?);
                    }
                }
                "subscribed" => subscribed = v == "yes",
                // Room for more: a key of a later version is skipped.
                _ => {}
            }
        }
        (id? == self.id).then_some(())?;
        self.keywords = keywords;
        self.subscribed = subscribed;
        Some(())
    }

    fn signed_part(&self) -> String {
        format!(
            "id={} secs={} folder={} in={} flags={}",
            self.id,
            self.secs,
            hex::encode(self.folder.as_bytes()),
            if self.new { "new" } else { "cur" },
            self.flags
        )
    }

    /// The first move field of `data`'s header section, if its MAC is right and it names a
    /// folder that stays inside the Maildir.
    pub fn find(data: &[u8], secret: &str) -> Option<Moved> {
        let field = header::first(data, MOVE)?;
        let (signed, tag) = field.text()?.rsplit_once(" mac=")?;
        mac(secret, signed).verify_truncated_left(&hex::decode(tag).ok().filter(|t| t.len() == 16)?).ok()?;
        let mut m = MoveMark {
            id: String::new(),
            secs: 0,
            folder: String::new(),
            new: false,
            flags: String::new(),
            keywords: Vec::new(),
            subscribed: false,
        };
        for part in signed.split(' ') {
            let (k, v) = part.split_once('=')?;
            match k {
                "id" if !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()) => m.id = v.to_owned(),
                "secs" => m.secs = v.parse().ok()?,
                "folder" => m.folder = String::from_utf8(hex::decode(v).ok()?).ok()?,
                "in" => m.new = v == "new",
                "flags" if v.bytes().all(|b| b.is_ascii_alphabetic()) => m.flags = v.to_owned(),
                _ => return None,
            }
        }
        let folder_ok = m.folder.is_empty() || super::maildir::valid_folder(&m.folder);
        if m.id.is_empty() || !folder_ok {
            return None;
        }
        // The state field stands above the move field; without one (a sender of an older
        // version), no keywords and no subscription.
        let above = header::fields(data).take_while(|f| f.span.end <= field.span.start);
        for f in above.filter(|f| f.is(MOVE_STATE)) {
            let Some((signed, tag)) = f.text().and_then(|t| t.rsplit_once(" mac=")) else { continue };
            let Some(tag) = hex::decode(tag).ok().filter(|t| t.len() == 16) else { continue };
            if mac(secret, &format!("move-state {signed}")).verify_truncated_left(&tag).is_ok()
                && m.read_state(signed).is_some()
            {
                break;
            }
        }
        Some(Moved { mark: m, start: field.span.end })
    }
}

fn mac(secret: &str, value: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    m.update(value.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_fields_count_hops() {
        let a = pochta_directory::Address::parse("A.Ivanov@example.org").unwrap();
        let once = header::prepend(&forwarded_field(&a, "s"), b"Subject: x\r\n\r\nbody\r\n");
        let b = pochta_directory::Address::parse("b@example.org").unwrap();
        let twice = header::prepend(&forwarded_field(&b, "s"), &once);
        assert_eq!(forwarded_by(&twice, "s"), ["b@example.org", "a.ivanov@example.org"]);
        assert!(forwarded_by(&twice, "other secret").is_empty());
        let forged = header::prepend("X-Pochta-Forwarded: b@example.org\r\n", &once);
        assert_eq!(forwarded_by(&forged, "s"), ["a.ivanov@example.org"]);
        assert!(forwarded_by(b"Subject: x\r\n\r\nX-Pochta-Forwarded: in the body\r\n", "s").is_empty());
    }

    fn mark(folder: &str, new: bool, flags: &str) -> MoveMark {
        MoveMark {
            id: "abc123".into(),
            secs: 1700000000,
            folder: folder.into(),
            new,
            flags: flags.into(),
            keywords: vec![],
            subscribed: false,
        }
    }

    #[test]
    fn keywords_and_the_subscription_travel_signed_and_older_agents_still_file_the_letter() {
        let m = MoveMark {
            keywords: vec!["$Work".into(), "Личное".into()],
            subscribed: true,
            ..mark("Work", false, "S")
        };
        let f = m.field("s3cret");
        assert!(f.starts_with("X-Pochta-Move-State: "), "{f}");
        let data = format!("Received: by b\r\n{f}Subject: hi\r\n\r\nbody\r\n");
        let got = MoveMark::find(data.as_bytes(), "s3cret").unwrap();
        assert_eq!(got.mark, m);
        assert_eq!(&data[got.start..], "Subject: hi\r\n\r\nbody\r\n");
        // A forged or altered state field is ignored; the letter is still filed where it was.
        let forged = data.replace("subscribed=yes", "subscribed=no");
        let got = MoveMark::find(forged.as_bytes(), "s3cret").unwrap();
        assert_eq!(got.mark, MoveMark { keywords: vec![], subscribed: false, ..m.clone() });
        // The state field of another letter does not apply to this one.
        let other = MoveMark { id: "def456".into(), ..m.clone() }.field("s3cret");
        let (other_state, _) = other.split_at(other.find("X-Pochta-Move:").unwrap());
        let (_, this_move) = f.split_at(f.find("X-Pochta-Move:").unwrap());
        let mixed = format!("{other_state}{this_move}\r\n");
        assert!(MoveMark::find(mixed.as_bytes(), "s3cret").unwrap().mark.keywords.is_empty());
        // What an agent of the previous version reads: the move field alone, every key known.
        let (_, old_view) = f.split_at(f.find("X-Pochta-Move:").unwrap());
        let value = old_view.trim_end().strip_prefix("X-Pochta-Move: ").unwrap();
        for part in value.split(' ') {
            let key = part.split_once('=').unwrap().0;
            assert!(["id", "secs", "folder", "in", "flags", "mac"].contains(&key), "{key}");
        }
    }

    #[test]
    fn the_move_field_round_trips_and_needs_the_secret() {
        let f = mark("Sent Items", false, "RS").field("s3cret");
        let data = format!("Received: by b\r\nX-Pochta-Relay: a Q 1\r\n{f}Subject: hi\r\n\r\nbody\r\n");
        let m = MoveMark::find(data.as_bytes(), "s3cret").unwrap();
        assert_eq!(m.mark, mark("Sent Items", false, "RS"));
        assert_eq!(&data[m.start..], "Subject: hi\r\n\r\nbody\r\n");
        assert_eq!(MoveMark::find(data.as_bytes(), "other"), None);
        // Tampered with, or only in the body: nothing.
        assert_eq!(MoveMark::find(data.replace("flags=RS", "flags=S").as_bytes(), "s3cret"), None);
        assert_eq!(MoveMark::find(format!("Subject: x\r\n\r\n{f}").as_bytes(), "s3cret"), None);
        // A folder that would leave the Maildir is refused even when signed.
        let bad = mark("./../x", false, "").field("s3cret");
        assert_eq!(MoveMark::find(bad.as_bytes(), "s3cret"), None);
    }

    #[test]
    fn the_mac_is_standard_hmac_sha256_truncated() {
        // RFC 4231 test case 2 ("Jefe"), first 128 bits: what agents of older versions wrote.
        let m = mac("Jefe", "what do ya want for nothing?").finalize().into_bytes();
        assert_eq!(hex::encode(&m[..16]), "5bdcc146bf60754e6a042426089575c7");
    }

    #[test]
    fn the_relay_field_is_stripped_from_the_header_section_only() {
        let m = b"Received: from gw\r\nX-Pochta-Relay: hq-1 Q1 1700000000123\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n";
        assert_eq!(
            without_relay(m).unwrap(),
            b"Received: from gw\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n"
        );
        // Every one of them, in any case, folded, at the top, next to each other, or last.
        let m = b"x-pochta-relay: a Q 1\r\nX-POCHTA-RELAY : b Q 2\r\n\tfolded 3\r\nFrom: a@b\r\n \
                  continued\r\nX-Pochta-Relay: c Q 3\r\n\r\nbody\r\n";
        assert_eq!(without_relay(m).unwrap(), b"From: a@b\r\n continued\r\n\r\nbody\r\n");
        // Look-alikes stay; a letter without the field is not copied.
        let m = b"X-Pochta-Relayed: x\r\nX-Pochta: y\r\nSubject: X-Pochta-Relay: z\r\n\r\n";
        assert_eq!(without_relay(m), None);
        assert_eq!(without_relay(b"Subject: s\r\n\r\nX-Pochta-Relay: a b 1\r\n"), None);
        assert_eq!(without_relay(b""), None);
        assert_eq!(without_relay(b"X-Pochta-Relay: a Q 1"), Some(vec![]), "no body, no final CRLF");
    }

    #[test]
    fn the_topmost_relay_field_marks_the_copy() {
        let a = b"Received: x\r\nX-Pochta-Relay: hq-1 Q1 1700000000123\r\nx-pochta-relay: gw-1 Q9 5\r\nSubject: s\r\n\r\nX-Pochta-Relay: body 1 2\r\n";
        let mark = RelayMark::find(a).unwrap();
        assert_eq!(mark.created_ms, 1700000000123);
        // Another hop's Received on top does not change it; another sending agent's id does.
        let b = [b"Received: y\r\n".as_slice(), a].concat();
        assert_eq!(RelayMark::find(&b).unwrap(), mark);
        assert_ne!(RelayMark::find(b"X-Pochta-Relay: hq-2 Q1 1700000000123\r\n\r\n").unwrap(), mark);
        // Absent, malformed, or only in the body: no mark.
        assert_eq!(RelayMark::find(b"Subject: s\r\n\r\nX-Pochta-Relay: a b 1\r\n"), None);
        assert_eq!(RelayMark::find(b"X-Pochta-Relay: a b\r\n\r\n"), None);
        assert_eq!(relay_field("hq-1", &"Q1", 5), "X-Pochta-Relay: hq-1 Q1 5\r\n");
    }
}
