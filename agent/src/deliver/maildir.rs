//! Local delivery: `<root>/<user>/Maildir/{tmp,new,cur}`, each copy written to `tmp/` and
//! renamed into `new/` through the durable-write helper, all mailboxes of one message in one
//! group commit.
//!
//! File names are [`CopyName`]s, the same for every delivery of one copy, so a message is never
//! written twice into one mailbox: after a crash, a recovered message first looks for its
//! name in `new/` and `cur/` and skips mailboxes that already have it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pochta_directory::LocalPart;

use crate::durable::{self, Durable, Owner, Write};
use crate::imap::state;
use crate::mail::maildir::{self, CopyName};
use crate::mail::trace::MoveMark;

pub struct Maildirs {
    root: PathBuf,
    host: String,
    durable: Arc<Durable>,
    /// Mailboxes known to have their three directories.
    made: Mutex<HashSet<PathBuf>>,
    /// The user Dovecot reads mailboxes as, when the agent runs as root ([`crate::imap`]):
    /// every directory and letter here is given to it.
    owner: Option<Owner>,
}

impl Maildirs {
    pub fn new(root: PathBuf, host: &str, durable: Arc<Durable>) -> Self {
        Self { root, host: host.to_owned(), durable, made: Mutex::new(HashSet::new()), owner: None }
    }

    /// Gives every mailbox directory and letter written from now on to `owner`.
    pub fn with_owner(self, owner: Option<Owner>) -> Self {
        Self { owner, ..self }
    }

    /// The group-commit writer, shared with the spool.
    pub fn durable(&self) -> &Arc<Durable> {
        &self.durable
    }

    /// `<root>/<folded name>/Maildir`; characters that are unsafe in a path are escaped.
    pub fn path(&self, user: &LocalPart) -> PathBuf {
        maildir::mailbox(&self.root, user)
    }

    /// The mailbox's INBOX, or its Maildir++ folder `.<folder>`.
    fn folder(&self, user: &LocalPart, folder: Option<&str>) -> PathBuf {
        let md = self.path(user);
        match folder {
            Some(f) => md.join(format!(".{f}")),
            None => md,
        }
    }

    fn ensure(&self, md: &Path) -> std::io::Result<()> {
        if self.made.lock().expect("not poisoned").contains(md) {
            return Ok(());
        }
        for sub in ["tmp", "new", "cur"] {
            durable::create_dir_durable(&md.join(sub))?;
        }
        if let Some(o) = self.owner {
            // The user's directory (Dovecot's home), the Maildir (or folder) and its three.
            let parent = md.parent().filter(|p| *p != self.root);
            for d in parent.into_iter().map(Path::to_path_buf).chain([md.to_owned()]) {
                o.chown(&d)?;
            }
            for sub in ["tmp", "new", "cur"] {
                o.chown(&md.join(sub))?;
            }
        }
        self.made.lock().expect("not poisoned").insert(md.to_owned());
        Ok(())
    }

    /// Whether the mailbox already holds the message (in `new/`, or read and moved to `cur/`),
    /// named `name` or, written before names carried sizes, `base`.
    fn holds(md: &Path, name: &str, base: &str) -> bool {
        if md.join("new").join(name).exists() || md.join("new").join(base).exists() {
            return true;
        }
        let Ok(entries) = std::fs::read_dir(md.join("cur")) else { return false };
        entries.flatten().any(|e| maildir::unique_part(&e.file_name().to_string_lossy()) == base)
    }

    /// Delivers `data` into each mailbox's `new/` as `name` (of the Maildir++ folder
    /// `.<folder>/` when one is given: Junk for spam); one result per user, in order.
    /// With `check`, skips mailboxes that already hold the message (recovery after a crash);
    /// a copy relayed by a peer is always checked: the peer may have sent it before.
    pub async fn deliver(
        &self,
        users: &[LocalPart],
        name: &CopyName,
        data: Arc<[u8]>,
        check: bool,
        folder: Option<&str>,
    ) -> Vec<std::io::Result<()>> {
        let check = check || matches!(name, CopyName::Relayed { .. });
        let (base, name) = (name.base(&self.host), name.file(&self.host, data.len() as u64));
        let mut results: Vec<Option<std::io::Result<()>>> = Vec::with_capacity(users.len());
        let mut writes = Vec::new();
        let mut which = Vec::new();
        for (i, user) in users.iter().enumerate() {
            let md = self.folder(user, folder);
            if let Err(e) = self.ensure(&md) {
                results.push(Some(Err(e)));
                continue;
            }
            if check && Self::holds(&md, &name, &base) {
                results.push(Some(Ok(())));
                continue;
            }
            results.push(None);
            which.push(i);
            let write = Write::via(md.join("tmp").join(&name), md.join("new").join(&name), data.clone());
            writes.push(write.owned_by(self.owner));
        }
        if !writes.is_empty() {
            // One commit for all mailboxes: on failure, find out which ones made it.
            match self.durable.commit(writes).await {
                Ok(()) => which.iter().for_each(|&i| results[i] = Some(Ok(()))),
                Err(e) => {
                    for &i in &which {
                        let md = self.folder(&users[i], folder);
                        results[i] = Some(if md.join("new").join(&name).exists() {
                            durable::sync_dir(&md.join("new"))
                        } else {
                            Err(std::io::Error::new(e.kind(), e.to_string()))
                        });
                    }
                }
            }
        }
        results.into_iter().map(|r| r.expect("every mailbox has a result")).collect()
    }
}

impl Maildirs {
    /// Files a letter of a mailbox moving here ([`crate::mailbox_move`]) into each mailbox:
    /// into `new/`, or `cur/` with its flags, of INBOX or the Maildir++ folder `.<folder>/`,
    /// named by the move id ([`CopyName::Moved`]) — a mailbox that already holds that name is
    /// skipped, so a letter sent twice is filed once. `data` is the letter without the move's
    /// trace. Its keywords get the letters of the destination folder's `dovecot-keywords`
    /// (extended when needed), and a subscribed folder joins the mailbox's `subscriptions`,
    /// both before the letter is there ([`crate::imap::state`]).
    pub async fn file_moved(
        &self,
        users: &[LocalPart],
        moved: &MoveMark,
        data: Arc<[u8]>,
    ) -> Vec<std::io::Result<()>> {
        let copy = moved.copy_name();
        let (base, name) = (copy.base(&self.host), copy.file(&self.host, data.len() as u64));
        let mut results = Vec::with_capacity(users.len());
        for user in users {
            let mut md = self.path(user);
            if !moved.folder.is_empty() {
                md = md.join(format!(".{}", moved.folder));
            }
            if let Err(e) = self.ensure(&md) {
                results.push(Err(e));
                continue;
            }
            if Self::holds(&md, &name, &base) {
                results.push(Ok(()));
                continue;
            }
            // Dovecot's keywords and subscriptions first, so Dovecot never sees the letter
            // before the keyword names its letters stand for.
            let state = {
                let (md, top, owner) = (md.clone(), self.path(user), self.owner);
                let (keywords, folder, subscribed) =
                    (moved.keywords.clone(), moved.folder.clone(), moved.subscribed);
                tokio::task::spawn_blocking(move || {
                    if subscribed {
                        state::subscribe(&top, &state::subscription_name(&folder), owner)?;
                    }
                    state::letters_for(&md, &keywords, owner)
                })
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r)
            };
            let keywords = match state {
                Ok(k) => k,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let dest = if moved.new && keywords.is_empty() {
                md.join("new").join(&name)
            } else {
                let mut flags: Vec<char> =
                    moved.flags.chars().filter(char::is_ascii_uppercase).chain(keywords.chars()).collect();
                flags.sort_unstable();
                flags.dedup();
                md.join("cur").join(maildir::with_flags(&name, &flags.into_iter().collect::<String>()))
            };
            let write = Write::via(md.join("tmp").join(&name), dest, data.clone()).owned_by(self.owner);
            results.push(self.durable.commit(vec![write]).await);
        }
        results
    }
}

/// Removes the files in the `tmp/` of every mailbox and folder under `root` that were last
/// changed more than `grace` ago: what a crash between writing and renaming left behind
/// (never a letter: a letter is in `new/` or `cur/`). Returns how many were removed.
pub fn sweep_tmp(root: &Path, grace: std::time::Duration) -> usize {
    let Some(cutoff) = std::time::SystemTime::now().checked_sub(grace) else { return 0 };
    let mut removed = 0;
    let Ok(users) = std::fs::read_dir(root) else { return 0 };
    for user in users.flatten() {
        let md = user.path().join("Maildir");
        let folders = std::fs::read_dir(&md).into_iter().flatten().flatten().filter_map(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            (name.starts_with('.') && name.len() > 1 && e.path().is_dir()).then(|| e.path())
        });
        for dir in std::iter::once(md.clone()).chain(folders) {
            let Ok(files) = std::fs::read_dir(dir.join("tmp")) else { continue };
            for f in files.flatten() {
                let old = f.metadata().ok().filter(|m| m.is_file()).and_then(|m| m.modified().ok());
                if old.is_some_and(|t| t < cutoff) && std::fs::remove_file(f.path()).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}
