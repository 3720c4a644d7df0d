//! Where a letter lives in a Maildir (the layout of Dovecot and Courier: `<root>/<user>/Maildir/
//! {tmp,new,cur}`, folders as Maildir++ `.<name>/`) and the names its copies get.
//!
//! Every copy is named so that the same letter always gets the same name in one mailbox —
//! from the queue id, the relaying agent's trace field, or the move id — and a repeated
//! delivery (after a crash, or a peer's retransmission) finds it there and is skipped.
//!
//! Names carry the letter's exact size as Maildir++ `,S=<bytes>` (Dovecot takes it as the
//! physical size), so a mailbox's size is one `readdir` per folder, not a `stat` per letter.
//! Names written before that have no `S=` and are still recognised: [`unique_part`] compares
//! names without it.

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
    /// The file name in `new/` on host `host` of a letter of `size` bytes: [`CopyName::base`]
    /// with the Maildir++ size `,S=<size>`.
    pub fn file(&self, host: &str, size: u64) -> String {
        format!("{},S={size}", self.base(host))
    }

    /// The name without the size (`/` and `:` of `host` would break the path or the info
    /// part, so they become `_`): what names of one copy have in common, with or without `S=`.
    pub fn base(&self, host: &str) -> String {
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

/// A file name's unique part without its `:2,` info and its Maildir++ `,X=` fields: the same
/// for a name written with `S=` and one written before sizes were.
pub fn unique_part(name: &str) -> &str {
    let unique = name.split_once(':').map_or(name, |(u, _)| u);
    // The `,S=`/`,W=` fields follow the unique name; a host name has no comma.
    unique.split_once(",S=").or_else(|| unique.split_once(",W=")).map_or(unique, |(u, _)| u)
}

/// The size a file name records (Maildir++ `,S=<bytes>`), if it does.
pub fn size_in_name(name: &str) -> Option<u64> {
    let unique = name.split_once(':').map_or(name, |(u, _)| u);
    unique.split(',').skip(1).find_map(|f| f.strip_prefix("S=")?.parse().ok())
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
        assert_eq!(q.file("mx:25/x", 42), "1700000000.Q19abc.mx_25_x,S=42");
        assert_eq!(q.base("mx:25/x"), "1700000000.Q19abc.mx_25_x");
        let r =
            crate::mail::trace::RelayMark::find(b"X-Pochta-Relay: hq-1 Q1 1700000000123\r\n\r\n").unwrap();
        let name = CopyName::Relayed { created_ms: r.created_ms, digest: r.digest }.base("br.example.org");
        assert!(name.starts_with("1700000000.R") && name.ends_with(".br.example.org"), "{name}");
        assert_eq!(CopyName::Moved { secs: 5, id: "ab".into() }.file("h", 7), "5.Mab.h,S=7");
        assert_eq!(split_info("1.a.h:2,RS"), ("1.a.h", "RS".into()));
        assert_eq!(split_info("1.a.h"), ("1.a.h", String::new()));
        assert_eq!(with_flags("1.a.h", "S"), "1.a.h:2,S");
    }

    #[test]
    fn sizes_in_names() {
        assert_eq!(size_in_name("1.Qab.h,S=1234"), Some(1234));
        assert_eq!(size_in_name("1.Qab.h,S=1234,W=1260:2,RS"), Some(1234));
        assert_eq!(size_in_name("1.Qab.h:2,S"), None);
        assert_eq!(size_in_name("1.Qab.h"), None);
        assert_eq!(unique_part("1.Qab.h,S=1234:2,RS"), "1.Qab.h");
        assert_eq!(unique_part("1.Qab.h:2,S"), "1.Qab.h");
        assert_eq!(unique_part("1.Qab.h"), "1.Qab.h");
    }
}
