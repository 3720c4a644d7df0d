//! Mailbox moves: when the replica says a user's home site is no longer this agent's site but
//! letters of his are still in a Maildir here, each letter is handed to the queue for
//! `user@domain` (a peer-like message: routed, never expanded) and goes to his new home site
//! like any relayed copy. On top it carries the move trace field ([`crate::mail::trace::MOVE`]),
//! telling the receiving agent where the letter was filed and with which Maildir flags. The
//! receiver ([`crate::deliver::maildir`]) files the copy under a name made from the move id —
//! the same every time the same source file is sent — and without the trace fields above and
//! including this one.
//!
//! Architecture Invariant: a source file is removed only after the queue holds its copy
//! durably, so a crash at any point repeats at most the hand-over of one letter, which the
//! receiver recognises by its move id: a letter is never lost and never filed twice.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pochta_directory::wire::Version;
use pochta_directory::{Address, Directory, LocalPart, SiteId};
use sha2::{Digest as _, Sha256};
use tokio::sync::watch;

use crate::deliver::DirectorySource;
use crate::imap::state;
use crate::mail::maildir::{self, valid_folder};
use crate::mail::trace::MoveMark;
use crate::mail::{crlf, header};
use crate::queue::{Incoming, Origin, Queue, QueueError, QueueId};

/// At most this many moved letters of this agent wait in the queue at once: a large mailbox
/// does not fill the queue (or its memory) while the new site is slow or away.
const WINDOW: usize = 16;

/// Without a change set, the Maildirs are looked at again this often (a delivery that was in
/// flight when the user moved may have filed a letter after the last look).
const RESCAN: Duration = Duration::from_secs(60);

pub use pochta_directory::api::{MoveEnd, MoveProgress};

/// Ended moves kept for the server while it cannot be reached; the oldest go first.
const ENDED_KEPT: usize = 100;

/// The moves in progress and those ended but not yet reported, shared with `/status` and the
/// stats reporter.
#[derive(Clone, Default)]
pub struct Progress {
    moves: Arc<Mutex<Moves>>,
    /// Signalled when a move starts or ends, so the dashboard hears of it promptly.
    changed: Arc<tokio::sync::Notify>,
}

#[derive(Default)]
struct Moves {
    /// By user, with the moment the move began.
    running: BTreeMap<String, (Instant, MoveProgress)>,
    /// Ended moves the server has not taken yet, oldest first.
    ended: VecDeque<MoveProgress>,
}

impl Progress {
    /// The moves in progress (with the time they have taken so far), then the ended ones the
    /// server has not taken yet.
    pub fn list(&self) -> Vec<MoveProgress> {
        let m = self.lock();
        let running = m
            .running
            .values()
            .map(|(at, p)| MoveProgress { elapsed_secs: at.elapsed().as_secs(), ..p.clone() });
        running.chain(m.ended.iter().cloned()).collect()
    }

    /// Whether a move is going on now (the reporter then reports every few seconds).
    pub fn running(&self) -> bool {
        !self.lock().running.is_empty()
    }

    /// Completes when a move has started or ended since the last call (or now).
    pub async fn started_or_ended(&self) {
        self.changed.notified().await;
    }

    /// Records a move's progress; the first call for a user starts his move (public for tests
    /// of what reports carry).
    pub fn set(&self, p: MoveProgress) {
        let mut m = self.lock();
        match m.running.get_mut(&p.user) {
            Some((_, old)) => *old = p,
            None => {
                m.running.insert(p.user.clone(), (Instant::now(), p));
                self.changed.notify_one();
            }
        }
    }

    /// Ends `user`'s move: with how it ended, kept until a report carrying it is taken
    /// ([`Progress::taken`]); without (the agent is stopping, the move resumes at the next
    /// start), forgotten.
    pub fn end(&self, user: &str, end: Option<MoveEnd>) {
        let mut m = self.lock();
        let Some((at, p)) = m.running.remove(user) else { return };
        if let Some(end) = end {
            if m.ended.len() >= ENDED_KEPT {
                m.ended.pop_front();
            }
            m.ended.push_back(MoveProgress { elapsed_secs: at.elapsed().as_secs(), ended: Some(end), ..p });
        }
        self.changed.notify_one();
    }

    /// The server took a report with `reported`: the ended moves in it are not sent again.
    pub fn taken(&self, reported: &[MoveProgress]) {
        self.lock().ended.retain(|e| !reported.contains(e));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Moves> {
        self.moves.lock().expect("not poisoned")
    }
}

/// How a hand-over stopped.
enum Handed {
    /// Every letter was handed over but `kept`, too large to move.
    All {
        kept: u64,
    },
    MovedBack,
    /// The agent is stopping.
    Stopped,
}

/// What the mover needs to know about this agent.
pub struct MoverConfig {
    pub site: SiteId,
    pub agent_id: String,
    pub peer_secret: String,
    pub maildir_root: PathBuf,
    pub directory: DirectorySource,
    /// Letters larger than this (the SMTP message size limit, less room for trace fields)
    /// stay where they are: the new site would refuse them for good, and a letter the queue
    /// gives up on is lost once its source is gone.
    pub max_size: usize,
}

pub struct Mover {
    cfg: MoverConfig,
    queue: Arc<Queue>,
    progress: Progress,
}

/// One letter in a Maildir here.
struct Found {
    path: PathBuf,
    /// The Maildir++ folder without its leading dot; empty for INBOX.
    folder: String,
    /// The unique part of the file name (before `:`).
    unique: String,
    new: bool,
    /// The system flags (upper case letters).
    flags: String,
    /// The names of its keywords (from the folder's `dovecot-keywords`).
    keywords: Vec<String>,
    /// Whether its folder is subscribed.
    subscribed: bool,
    /// Its size in bytes (from the name's `S=` where Dovecot wrote one, else the file's).
    size: u64,
}

impl Mover {
    pub fn new(cfg: MoverConfig, queue: Arc<Queue>, progress: Progress) -> Self {
        Self { cfg, queue, progress }
    }

    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Looks at start, after every change of `changes` (the replica's version) and every
    /// minute, until `stop` turns true.
    pub async fn run(self, mut changes: watch::Receiver<Version>, mut stop: watch::Receiver<bool>) {
        loop {
            changes.mark_unchanged();
            match self.pass(&stop).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(letters = n, "mailbox move pass done"),
                Err(e) => tracing::warn!(error = %e, "mailbox move pass failed; trying again later"),
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() {
                    // The replica is gone: keep the periodic look only.
                    changes = watch::channel(Version(0)).1;
                },
                _ = tokio::time::sleep(RESCAN) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// One look at every Maildir here: moves the letters of every user who lives elsewhere
    /// now. Returns the letters handed over. Stops early (with what it did) when `stop` turns.
    pub async fn pass(&self, stop: &watch::Receiver<bool>) -> std::io::Result<usize> {
        let root = self.cfg.maildir_root.clone();
        let dir = (self.cfg.directory)();
        let me = self.cfg.site.clone();
        let away = tokio::task::spawn_blocking(move || users_away(&root, &dir, &me))
            .await
            .map_err(std::io::Error::other)??;
        let mut moved = 0;
        for (user, site) in away {
            if *stop.borrow() {
                break;
            }
            moved += self.move_user(&user, &site, stop).await?;
        }
        Ok(moved)
    }

    async fn move_user(
        &self,
        user: &LocalPart,
        to: &SiteId,
        stop: &watch::Receiver<bool>,
    ) -> std::io::Result<usize> {
        let md = maildir::mailbox(&self.cfg.maildir_root, user);
        let scan = md.clone();
        let found =
            tokio::task::spawn_blocking(move || letters(&scan)).await.map_err(std::io::Error::other)?;
        if found.is_empty() {
            self.clean(user, md).await;
            return Ok(0);
        }
        let name = user.to_string();
        let mut p = MoveProgress {
            user: name.clone(),
            to_site: to.to_string(),
            remaining: found.len() as u64,
            remaining_bytes: found.iter().map(|f| f.size).sum(),
            ..Default::default()
        };
        self.progress.set(p.clone());
        tracing::info!(user = %name, to = %to, letters = found.len(), bytes = p.remaining_bytes, "moving a mailbox");
        let result = self.hand_over(user, found, &mut p, stop).await;
        let end = match &result {
            Ok(Handed::All { kept }) => Some(MoveEnd::Done { kept: *kept }),
            Ok(Handed::MovedBack) => Some(MoveEnd::MovedBack),
            Ok(Handed::Stopped) => None,
            Err(e) => Some(MoveEnd::Failed { reason: e.to_string() }),
        };
        self.progress.end(&name, end);
        match result {
            Ok(Handed::All { .. }) => {
                tracing::info!(user = %name, to = %to, letters = p.moved, bytes = p.moved_bytes, "mailbox moved");
                self.clean(user, md).await;
            }
            Ok(_) => {}
            Err(e) => return Err(e),
        }
        Ok(p.moved as usize)
    }

    /// Once no letter of `user` is left here, removes Dovecot's state of his Maildir (index
    /// files, keywords, subscriptions): they describe letters that live elsewhere now, and a
    /// move back must start clean. A letter is never removed.
    async fn clean(&self, user: &LocalPart, md: PathBuf) {
        let dir = (self.cfg.directory)();
        if dir.user(user).is_none_or(|u| u.site == self.cfg.site) {
            return;
        }
        let done = tokio::task::spawn_blocking(move || {
            if letters(&md).is_empty() { crate::imap::state::remove_all(&md) } else { Ok(0) }
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r);
        match done {
            Ok(0) => {}
            Ok(n) => tracing::info!(user = %user, files = n, "mailbox moved: Dovecot's state here removed"),
            Err(e) => {
                tracing::warn!(user = %user, error = %e, "cannot remove Dovecot's state of a moved mailbox")
            }
        }
    }

    async fn hand_over(
        &self,
        user: &LocalPart,
        found: Vec<Found>,
        p: &mut MoveProgress,
        stop: &watch::Receiver<bool>,
    ) -> std::io::Result<Handed> {
        let mut in_queue: VecDeque<QueueId> = VecDeque::new();
        let mut kept = 0;
        for f in found {
            // Moved back here meanwhile: the rest stays.
            let dir = (self.cfg.directory)();
            if dir.user(user).is_none_or(|u| u.site == self.cfg.site) {
                return Ok(Handed::MovedBack);
            }
            let address = Address::new(user.clone(), dir.domain.clone());
            loop {
                in_queue.retain(|id| self.queue.contains(id));
                if in_queue.len() < WINDOW {
                    break;
                }
                if *stop.borrow() {
                    return Ok(Handed::Stopped);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if *stop.borrow() {
                return Ok(Handed::Stopped);
            }
            let data = match tokio::fs::read(&f.path).await {
                Ok(d) => d,
                // Gone already (read and expunged by the user, or moved by an earlier pass).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    p.remaining = p.remaining.saturating_sub(1);
                    p.remaining_bytes = p.remaining_bytes.saturating_sub(f.size);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if data.len() > self.cfg.max_size {
                tracing::warn!(user = %p.user, file = %f.path.display(), size = data.len(), "a letter too large to move stays here");
                kept += 1;
                p.remaining = p.remaining.saturating_sub(1);
                p.remaining_bytes = p.remaining_bytes.saturating_sub(f.size);
                continue;
            }
            let mark = MoveMark {
                id: move_id(&self.cfg.agent_id, user, &f),
                secs: leading_secs(&f.unique),
                folder: f.folder.clone(),
                new: f.new,
                flags: f.flags.clone(),
                keywords: f.keywords.clone(),
                subscribed: f.subscribed,
            };
            let msg = Incoming {
                reverse_path: None,
                recipients: vec![address],
                origin: Origin::Peer { agent_id: self.cfg.agent_id.clone() },
                client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
                data: header::prepend(&mark.field(&self.cfg.peer_secret), &crlf(&data)),
            };
            let qid = loop {
                match self.queue.enqueue_own(msg.clone()).await {
                    Ok(id) => break id,
                    Err(QueueError::Full) if !*stop.borrow() => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(QueueError::Full) => return Ok(Handed::Stopped),
                    Err(QueueError::Io(e)) => return Err(e),
                    Err(e @ QueueError::Refused(_)) => return Err(std::io::Error::other(e.to_string())),
                }
            };
            // Durable in the queue: only now may the source go.
            match std::fs::remove_file(&f.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            in_queue.push_back(qid);
            p.moved += 1;
            p.moved_bytes += f.size;
            p.remaining = p.remaining.saturating_sub(1);
            p.remaining_bytes = p.remaining_bytes.saturating_sub(f.size);
            self.progress.set(p.clone());
        }
        Ok(Handed::All { kept })
    }
}

/// Users with a Maildir here whose home site is another site, with that site.
fn users_away(root: &Path, dir: &Directory, me: &SiteId) -> std::io::Result<Vec<(LocalPart, SiteId)>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let here: std::collections::HashSet<String> =
        entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if here.is_empty() {
        return Ok(vec![]);
    }
    Ok(dir
        .users
        .values()
        .filter(|u| u.site != *me && here.contains(&maildir::user_dir(u.name.folded())))
        .map(|u| (u.name.clone(), u.site.clone()))
        .collect())
}

/// Every letter in `md` (INBOX and Maildir++ folders), `new/` before `cur/`. A letter in
/// `new/` with flags (Dovecot renames it there when a client sets flags before it is seen)
/// counts as in `cur/`.
fn letters(md: &Path) -> Vec<Found> {
    let subscribed = state::subscriptions(md);
    let mut out = Vec::new();
    let mut folders = vec![(md.to_owned(), String::new())];
    if let Ok(entries) = std::fs::read_dir(md) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(folder) = name.strip_prefix('.')
                && valid_folder(folder)
                && e.file_type().is_ok_and(|t| t.is_dir())
            {
                folders.push((e.path(), folder.to_owned()));
            }
        }
    }
    for (path, folder) in folders {
        let keywords = state::keywords(&path);
        let sub = subscribed.contains(&state::subscription_name(&folder));
        for new in [true, false] {
            let dir = path.join(if new { "new" } else { "cur" });
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            let mut files: Vec<_> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            files.sort();
            for name in files {
                let path = dir.join(&name);
                let size = maildir::size_in_name(&name)
                    .or_else(|| std::fs::metadata(&path).ok().map(|m| m.len()))
                    .unwrap_or(0);
                let (unique, flags) = maildir::split_info(&name);
                let system: String = flags.chars().filter(char::is_ascii_uppercase).collect();
                let keywords = state::names_of(&flags, &keywords);
                out.push(Found {
                    path,
                    size,
                    folder: folder.clone(),
                    unique: unique.to_owned(),
                    new: new && system.is_empty() && keywords.is_empty(),
                    flags: system,
                    keywords,
                    subscribed: sub,
                });
            }
        }
    }
    out
}

/// The same for every hand-over of one source file.
fn move_id(agent: &str, user: &LocalPart, f: &Found) -> String {
    let key = format!("{agent}\0{}\0{}\0{}", user.folded(), f.folder, f.unique);
    hex::encode(&Sha256::digest(key.as_bytes())[..12])
}

fn leading_secs(unique: &str) -> u64 {
    let digits: String = unique.chars().take_while(char::is_ascii_digit).take(12).collect();
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_found_in_inbox_and_folders_with_their_flags() {
        let tmp = tempfile::tempdir().unwrap();
        let md = tmp.path().join("Maildir");
        for d in ["new", "cur", "tmp", ".Sent/cur", ".Sent/new"] {
            std::fs::create_dir_all(md.join(d)).unwrap();
        }
        std::fs::write(md.join("new/1.a.h"), "x").unwrap();
        std::fs::write(md.join("cur/2.b.h:2,RS"), "x").unwrap();
        std::fs::write(md.join("tmp/3.c.h"), "x").unwrap();
        std::fs::write(md.join(".Sent/cur/4.d.h:2,S"), "x").unwrap();
        std::fs::write(md.join(".Sent/new/5.e.h,S=1,W=2:2,FSba"), "x").unwrap();
        std::fs::write(md.join(".Sent/dovecot-keywords"), "0 $Work\n1 Later\n").unwrap();
        std::fs::write(md.join("subscriptions"), "V\t2\n\nSent\n").unwrap();
        let mut got: Vec<_> = letters(&md)
            .into_iter()
            .map(|f| (f.folder, f.unique, f.new, f.flags, f.keywords.join(" "), f.subscribed))
            .collect();
        got.sort();
        let s = String::from;
        assert_eq!(
            got,
            vec![
                (s(""), s("1.a.h"), true, s(""), s(""), false),
                (s(""), s("2.b.h"), false, s("RS"), s(""), false),
                (s("Sent"), s("4.d.h"), false, s("S"), s(""), true),
                (s("Sent"), s("5.e.h,S=1,W=2"), false, s("FS"), s("Later $Work"), true),
            ]
        );
    }
}
