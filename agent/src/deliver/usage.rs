//! How many bytes a mailbox holds, for quotas and the stats report: the letters in `new/` and
//! `cur/` of INBOX and of every Maildir++ folder `.<name>/`, not Dovecot's index and cache
//! files (they live beside those directories, never in them).
//!
//! A size is one `readdir` per folder: the agent's own names carry the size (`,S=`, see
//! [`crate::mail::maildir`]), and so do Dovecot's; only a name without it costs a `stat`.
//! Sizes are cached for [`FRESH`], and a letter the agent files is added to the cached figure
//! at once, so letters arriving in a burst do not each scan the mailbox — and do not each find
//! the room the one before took.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mail::maildir;

/// How long a measured size is used before the mailbox is read again (a client may have
/// deleted letters meanwhile).
const FRESH: Duration = Duration::from_secs(5);

/// At most this many cached sizes; beyond it the cache starts over.
const MAX_CACHED: usize = 100_000;

#[derive(Default)]
pub struct MailboxSizes {
    cache: Mutex<HashMap<PathBuf, (Instant, u64)>>,
}

impl MailboxSizes {
    /// The bytes in the Maildir `md` (0 when it does not exist yet), from the cache when fresh.
    pub fn size(&self, md: &Path) -> u64 {
        if let Some((at, n)) = self.lock().get(md)
            && at.elapsed() < FRESH
        {
            return *n;
        }
        let n = measure(md);
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(md.to_owned(), (Instant::now(), n));
        n
    }

    /// `bytes` more were just filed into `md`.
    pub fn added(&self, md: &Path, bytes: u64) {
        if let Some((_, n)) = self.lock().get_mut(md) {
            *n += bytes;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Instant, u64)>> {
        self.cache.lock().expect("not poisoned")
    }
}

/// Reads the mailbox: INBOX and every `.<folder>/`, `new/` and `cur/` of each.
pub fn measure(md: &Path) -> u64 {
    let mut total = letters(md);
    let Ok(entries) = std::fs::read_dir(md) else { return total };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if let Some(folder) = name.strip_prefix('.')
            && maildir::valid_folder(folder)
            && e.file_type().is_ok_and(|t| t.is_dir())
        {
            total += letters(&e.path());
        }
    }
    total
}

/// The bytes of the letters in `new/` and `cur/` of one folder.
fn letters(folder: &Path) -> u64 {
    let mut total = 0;
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(folder.join(sub)) else { continue };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            total += match maildir::size_in_name(&name) {
                Some(n) => n,
                None => e.metadata().map_or(0, |m| if m.is_file() { m.len() } else { 0 }),
            };
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_letters_of_every_folder_and_nothing_else() {
        let md = tempfile::tempdir().unwrap();
        let md = md.path();
        for d in ["new", "cur", "tmp", ".Sent/cur", ".Sent/new"] {
            std::fs::create_dir_all(md.join(d)).unwrap();
        }
        std::fs::write(md.join("new/1.Qa.h,S=100"), b"short").unwrap(); // the name's size wins
        std::fs::write(md.join("cur/2.Qb.h:2,S"), b"12345").unwrap(); // no S=: stat
        std::fs::write(md.join(".Sent/cur/3.Qc.h,S=7:2,S"), b"").unwrap();
        std::fs::write(md.join("tmp/4.Qd.h,S=1000"), b"").unwrap(); // not filed yet
        std::fs::write(md.join("dovecot.index.cache"), vec![0; 5000]).unwrap();
        std::fs::write(md.join(".Sent/dovecot.index"), vec![0; 5000]).unwrap();
        assert_eq!(measure(md), 112);
        let sizes = MailboxSizes::default();
        assert_eq!(sizes.size(md), 112);
        sizes.added(md, 8);
        assert_eq!(sizes.size(md), 120);
        assert_eq!(measure(&md.join("missing")), 0);
    }
}
