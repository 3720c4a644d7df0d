//! Where a letter lives in a Maildir (the layout of Dovecot and Courier: `<root>/<user>/Maildir/
//! {tmp,new,cur}`, folders as Maildir++ `.<name>/`) and the names its copies get.
//!
//! Every copy is named so that the same letter always gets the same name in one mailbox —
//! from the queue id, the relaying agent's trace field, or the move id — and a repeated
//! delivery (after a crash, or a peer's retransmission) finds it there and is skipped.

use std::path::{Path, PathBuf};

use pochta_directory::LocalPart;

/// The name of one copy, without the host part and the `:2,` info of `cur/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyName {
    /// A letter of this agent's queue: `<created s>.Q<queue id>`.
    Queued { created_ms: i64, id: String },
    /// A copy relayed by a peer agent: `<created s>.R<digest of its relay field>`, the same
    /// for every retransmission of that copy (see [`super::trace::RelayMark`]).
    Relayed { created_ms: i64, digest: [u8; 10] },
    /// A letter of a mailbox moving here: `<secs>.M<move id>`.
    Moved { secs: u64, id: String },
}

impl CopyName {
    /// The file name in `new/` on host `host` (`/` and `:` would break the path or the info
    /// part, so they become `_`).
    pub fn file(&self, host: &str) -> String {
        let host = host.replace(['/', ':'], "_");
        match self {
            CopyName::Queued { created_ms, id } => format!("{}.Q{id}.{host}", created_ms / 1000),
            CopyName::Relayed { created_ms, digest } => {
                format!("{}.R{}.{host}", created_ms / 1000, hex::encode(digest))
            }
            CopyName::Moved { secs, id } => format!("{secs}.M{id}.{host}"),
        }
    }
}

/// The name in `cur/` of file `name` with Maildir flags `flags` (the `2,` info of the Maildir
/// specification, flags in ASCII order).
pub fn with_flags(name: &str, flags: &str) -> String {
    format!("{name}:2,{flags}")
}

/// A file name in `cur/` split into its unique part and its flags (empty without `:2,`).
pub fn split_info(name: &str) -> (&str, String) {
    let (unique, info) = name.split_once(':').unwrap_or((name, ""));
    let flags = info.strip_prefix("2,").unwrap_or("").chars().filter(char::is_ascii_alphabetic).collect();
    (unique, flags)
}

/// `<root>/<folded name>/Maildir` of `user`.
pub fn mailbox(root: &Path, user: &LocalPart) -> PathBuf {
    root.join(user_dir(user.folded())).join("Maildir")
}

/// A safe single path component for a folded local part: `[a-z0-9._+-]` kept, anything else
/// (and a leading dot) written as `%XX`.
pub fn user_dir(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len());
    for (i, b) in folded.bytes().enumerate() {
        let keep = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-') || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A folder name usable as `.<name>`: one path component that is not `.`/`..`.
pub fn valid_folder(f: &str) -> bool {
    !f.is_empty() && !f.starts_with('.') && !f.contains(['/', '\\', '\0', '\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_dirs_are_safe() {
        assert_eq!(user_dir("ivan.petrov"), "ivan.petrov");
        assert_eq!(user_dir(".."), "%2E.");
        assert_eq!(user_dir("a/b"), "a%2Fb");
        assert_eq!(user_dir("я"), "%D1%8F");
    }

    #[test]
    fn copy_names() {
        let q = CopyName::Queued { created_ms: 1_700_000_000_999, id: "19abc".into() };
        assert_eq!(q.file("mx:25/x"), "1700000000.Q19abc.mx_25_x");
        let r =
            crate::mail::trace::RelayMark::find(b"X-Pochta-Relay: hq-1 Q1 1700000000123\r\n\r\n").unwrap();
        let name = CopyName::Relayed { created_ms: r.created_ms, digest: r.digest }.file("br.example.org");
        assert!(name.starts_with("1700000000.R") && name.ends_with(".br.example.org"), "{name}");
        assert_eq!(CopyName::Moved { secs: 5, id: "ab".into() }.file("h"), "5.Mab.h");
        assert_eq!(split_info("1.a.h:2,RS"), ("1.a.h", "RS".into()));
        assert_eq!(split_info("1.a.h"), ("1.a.h", String::new()));
        assert_eq!(with_flags("1.a.h", "S"), "1.a.h:2,S");
    }
}
