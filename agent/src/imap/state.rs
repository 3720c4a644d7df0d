//! Dovecot's own files in a Maildir that a mailbox move must carry or remove: a folder's
//! `dovecot-keywords` (lines `<index> <name>`; index 0 is the keyword letter `a` in a file
//! name's flags), the mailbox's `subscriptions` (Dovecot 2.3: `V\t2`, an empty line, then one
//! mailbox name per line, the hierarchy separator written as a tab) and the index files.
//!
//! The receiving agent extends the first two the way Dovecot itself writes them: it takes the
//! dot-lock `<file>.lock` (created exclusively), writes the new text into it and renames it
//! over the file, so a reader sees the old or the new file whole. `subscriptions` is guarded
//! by that lock alone; Dovecot writes `dovecot-keywords` only under the folder's
//! `dovecot-uidlist.lock`, so the agent holds that one too (Dovecot 2.3
//! `maildir-keywords.c`, `subscription-file.c`). Names are only ever added, at the end. The
//! new file's modification time is at least one second past the old one's: Dovecot re-reads
//! `dovecot-keywords` only when its time in seconds has changed.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::durable::{self, Owner};

pub const KEYWORDS: &str = "dovecot-keywords";
pub const SUBSCRIPTIONS: &str = "subscriptions";
/// The dot-lock Dovecot holds on a folder while it syncs it (and writes its keywords).
const UIDLIST_LOCK: &str = "dovecot-uidlist.lock";

/// Keyword letters `a`–`z`: Dovecot's Maildir has no room for a 27th keyword in file names.
const MAX_KEYWORDS: usize = 26;

/// The keyword names of folder `folder_dir`, by letter (`a` first); a missing file has none.
pub fn keywords(folder_dir: &Path) -> Vec<Option<String>> {
    let text = std::fs::read_to_string(folder_dir.join(KEYWORDS)).unwrap_or_default();
    parse_keywords(&text)
}

fn parse_keywords(text: &str) -> Vec<Option<String>> {
    let mut out = vec![None; MAX_KEYWORDS];
    for line in text.lines() {
        let Some((i, name)) = line.split_once(' ') else { continue };
        if let Ok(i) = i.parse::<usize>()
            && i < MAX_KEYWORDS
            && valid_keyword(name)
        {
            out[i] = Some(name.to_owned());
        }
    }
    while out.last().is_some_and(Option::is_none) {
        out.pop();
    }
    out
}

/// An IMAP flag keyword (RFC 3501 `atom`, not a system flag): what may stand in the file.
pub fn valid_keyword(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('\\')
        && name.bytes().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(&b))
}

/// The names of the keyword letters among `flags`, given the folder's `keywords`.
pub fn names_of(flags: &str, keywords: &[Option<String>]) -> Vec<String> {
    flags
        .bytes()
        .filter(u8::is_ascii_lowercase)
        .filter_map(|b| keywords.get(usize::from(b - b'a'))?.clone())
        .collect()
}

/// The letters of keyword `names` in folder `folder_dir`, adding the names the folder's
/// `dovecot-keywords` lacks (as many as fit); names that do not fit are left out.
pub fn letters_for(folder_dir: &Path, names: &[String], owner: Option<Owner>) -> std::io::Result<String> {
    let names: Vec<&String> = names.iter().filter(|n| valid_keyword(n)).collect();
    if names.is_empty() {
        return Ok(String::new());
    }
    let path = folder_dir.join(KEYWORDS);
    let letters = |known: &[Option<String>]| -> String {
        names
            .iter()
            .filter_map(|n| known.iter().position(|k| k.as_deref() == Some(n.as_str())))
            .map(|i| char::from(b'a' + i as u8))
            .collect()
    };
    let known = keywords(folder_dir);
    if names.iter().all(|n| known.iter().any(|k| k.as_deref() == Some(n.as_str()))) {
        return Ok(letters(&known));
    }
    // Dovecot writes `dovecot-keywords` only while it holds the folder's uidlist lock (and
    // removes a `dovecot-keywords.lock` it finds): that lock is the one to hold. From the file
    // as it is now (Dovecot may have added one meanwhile).
    let _uidlist = Lock::take(&folder_dir.join(UIDLIST_LOCK))?;
    let mut known = Vec::new();
    rewrite_locked(&path, owner, |old| {
        known = parse_keywords(old);
        for n in &names {
            // Only at the end, never in a gap: a Dovecot that read the file before names a
            // letter in a gap `unknown-<n>` without looking again; past the end it re-reads.
            if !known.iter().any(|k| k.as_deref() == Some(n.as_str())) && known.len() < MAX_KEYWORDS {
                known.push(Some((*n).clone()));
            }
        }
        let mut text = String::new();
        for (i, k) in known.iter().enumerate() {
            if let Some(k) = k {
                text.push_str(&format!("{i} {k}\n"));
            }
        }
        (text != old).then_some(text)
    })?;
    Ok(letters(&known))
}

/// The subscription name of Maildir++ folder `folder` (its directory name without the dot;
/// empty for INBOX), as Dovecot 2.3 writes it in `subscriptions`.
pub fn subscription_name(folder: &str) -> String {
    if folder.is_empty() { "INBOX".to_owned() } else { folder.replace('.', "\t") }
}

/// The names in the mailbox's `subscriptions` file (`md` is the user's `Maildir`).
pub fn subscriptions(md: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(md.join(SUBSCRIPTIONS)).unwrap_or_default();
    parse_subscriptions(&text)
}

fn parse_subscriptions(text: &str) -> Vec<String> {
    let body = match text.strip_prefix("V\t") {
        // Version 2 and later: a header line, an empty line, then the names.
        Some(rest) => rest.split_once("\n\n").map_or("", |(_, b)| b),
        None => text,
    };
    body.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Adds `name` to the mailbox's `subscriptions` unless it is there already.
pub fn subscribe(md: &Path, name: &str, owner: Option<Owner>) -> std::io::Result<()> {
    if name.is_empty() || name.contains(['\n', '\r']) || subscriptions(md).iter().any(|s| s == name) {
        return Ok(());
    }
    rewrite_locked(&md.join(SUBSCRIPTIONS), owner, |old| {
        let mut names = parse_subscriptions(old);
        if names.iter().any(|s| s == name) {
            return None;
        }
        names.push(name.to_owned());
        let mut text = "V\t2\n\n".to_owned();
        for n in names {
            text.push_str(&n);
            text.push('\n');
        }
        Some(text)
    })
}

/// Removes Dovecot's state of mailbox `md` (its own and every Maildir++ folder's): the index
/// files and every other `dovecot*` file, and `subscriptions`. Letters (`new/`, `cur/`,
/// `tmp/`) and the folders themselves stay. Returns how many files went.
pub fn remove_all(md: &Path) -> std::io::Result<usize> {
    let mut dirs = vec![md.to_owned()];
    match std::fs::read_dir(md) {
        Ok(entries) => {
            for e in entries.flatten() {
                let name = e.file_name();
                if name.to_string_lossy().starts_with('.') && e.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(e.path());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    }
    let mut removed = 0;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut any = false;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let state = name.starts_with("dovecot") || name == SUBSCRIPTIONS || name == "subscriptions.lock";
            if state && e.file_type().is_ok_and(|t| t.is_file()) {
                match std::fs::remove_file(e.path()) {
                    Ok(()) => {
                        removed += 1;
                        any = true;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if any {
            durable::sync_dir(&dir)?;
        }
    }
    Ok(removed)
}

/// Replaces `path` with `change(old text)` under Dovecot's dot-lock; `None` leaves it.
fn rewrite_locked(
    path: &Path,
    owner: Option<Owner>,
    change: impl FnOnce(&str) -> Option<String>,
) -> std::io::Result<()> {
    let lock = path.with_file_name(format!(
        "{}.lock",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    ));
    let mut f = take_lock(&lock)?;
    let result = (|| {
        let old = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        let Some(text) = change(&old) else { return Ok(false) };
        f.write_all(text.as_bytes())?;
        if let Some(o) = owner {
            std::os::unix::fs::fchown(&f, Some(o.uid), Some(o.gid))?;
        }
        // Dovecot compares the time in seconds: the new file's is later than the old one's.
        let now = SystemTime::now();
        let old_time = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let time = old_time.map_or(now, |t| now.max(t + Duration::from_secs(1)));
        f.set_modified(time)?;
        f.sync_all()?;
        std::fs::rename(&lock, path)?;
        Ok(true)
    })();
    match result {
        Ok(true) => durable::sync_dir(path.parent().unwrap_or(Path::new("."))),
        Ok(false) => std::fs::remove_file(&lock),
        Err(e) => {
            let _ = std::fs::remove_file(&lock);
            Err(e)
        }
    }
}

/// A dot-lock held until dropped.
struct Lock(std::path::PathBuf);

impl Lock {
    fn take(path: &Path) -> std::io::Result<Lock> {
        take_lock(path)?;
        Ok(Lock(path.to_owned()))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates the dot-lock `lock`, waiting up to 10 s for another holder; a lock untouched for
/// two minutes (Dovecot's stale time for these files) is taken over.
fn take_lock(lock: &Path) -> std::io::Result<std::fs::File> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(lock) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(lock)
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().is_ok_and(|d| d > Duration::from_secs(120)));
                if stale {
                    let _ = std::fs::remove_file(lock);
                    continue;
                }
                if Instant::now() > deadline {
                    return Err(std::io::Error::new(e.kind(), format!("{} is held", lock.display())));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_mapped_by_name_and_added_where_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join(KEYWORDS), "0 $Work\n2 Old\n").unwrap();
        let known = keywords(d);
        assert_eq!(names_of("RSac", &known), ["$Work", "Old"]);
        assert_eq!(names_of("Sb", &known), Vec::<String>::new(), "an unknown letter has no name");
        let got = letters_for(d, &["Old".into(), "Urgent".into(), "$Work".into()], None).unwrap();
        assert_eq!(got, "cda", "a new name goes at the end, never into the gap at 1");
        assert_eq!(std::fs::read_to_string(d.join(KEYWORDS)).unwrap(), "0 $Work\n2 Old\n3 Urgent\n");
        assert!(!d.join("dovecot-keywords.lock").exists() && !d.join(UIDLIST_LOCK).exists());
        // While Dovecot holds the folder's uidlist lock, the file is not touched.
        std::fs::write(d.join(UIDLIST_LOCK), "").unwrap();
        let held = std::thread::spawn({
            let d = d.to_owned();
            move || letters_for(&d, &["Later".into()], None).unwrap()
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(!std::fs::read_to_string(d.join(KEYWORDS)).unwrap().contains("Later"));
        std::fs::remove_file(d.join(UIDLIST_LOCK)).unwrap();
        assert_eq!(held.join().unwrap(), "e");
        // A new folder gets the file; a name that is no keyword is left out.
        let e = d.join("empty");
        std::fs::create_dir(&e).unwrap();
        assert_eq!(letters_for(&e, &["$Late".into(), "\\Seen".into()], None).unwrap(), "a");
        assert_eq!(std::fs::read_to_string(e.join(KEYWORDS)).unwrap(), "0 $Late\n");
    }

    #[test]
    fn subscriptions_are_read_and_extended_in_dovecots_format() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path();
        assert_eq!(subscription_name("Work.Sub"), "Work\tSub");
        assert_eq!(subscription_name(""), "INBOX");
        subscribe(md, "Work", None).unwrap();
        subscribe(md, "Work\tSub", None).unwrap();
        subscribe(md, "Work", None).unwrap();
        assert_eq!(std::fs::read_to_string(md.join(SUBSCRIPTIONS)).unwrap(), "V\t2\n\nWork\nWork\tSub\n");
        assert_eq!(subscriptions(md), ["Work", "Work\tSub"]);
    }

    #[test]
    fn removing_the_state_keeps_every_letter() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path().join("Maildir");
        for d in ["cur", ".Work/cur"] {
            std::fs::create_dir_all(md.join(d)).unwrap();
        }
        for f in ["dovecot.index.log", "dovecot-uidlist", "subscriptions", "cur/1.a.h:2,S"] {
            std::fs::write(md.join(f), "x").unwrap();
        }
        for f in [".Work/dovecot-keywords", ".Work/maildirfolder", ".Work/cur/2.b.h:2,a"] {
            std::fs::write(md.join(f), "x").unwrap();
        }
        assert_eq!(remove_all(&md).unwrap(), 4);
        assert!(md.join("cur/1.a.h:2,S").exists() && md.join(".Work/cur/2.b.h:2,a").exists());
        assert!(md.join(".Work/maildirfolder").exists());
        assert!(!md.join("subscriptions").exists() && !md.join(".Work/dovecot-keywords").exists());
    }
}
