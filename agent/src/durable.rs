//! THE durable-write helper: every file is written, fsynced, named in its
//! directory and the directory fsynced before success is reported. Two shapes:
//!
//! * *beside* (Maildir, envelope rewrites): write a temporary file, fsync it, rename it into
//!   place, fsync the directory — readers never see a partial file under the final name;
//! * *direct* (new spool files, which nobody reads before they are acknowledged): write under
//!   the final name, then fsync the file and its directory *concurrently*; the file carries its
//!   own checksum, so recovery recognises (and removes) one a crash left incomplete. Both fsyncs
//!   still happen before success; they merely share the filesystem's journal commit.
//!
//! Group commit: callers hand over [`Write`]s and await the result; a small pool of committer
//! threads takes every pending job at once, writes all their files, fsyncs them in parallel
//! (the journal merges concurrent fsyncs into one commit), renames, fsyncs each touched
//! directory *once* for the whole batch, and then completes every job of the batch. No path
//! ever skips an fsync.
//!
//! A failed job is undone, never retried: whatever it wrote under a new name is removed
//! before its error is reported, so a letter the client was told 4xx never surfaces later (at
//! the next recovery or in a mailbox) and a partial file does not keep a full disk full. An
//! fsync that failed is not tried again either: the kernel may have dropped the dirty pages
//! and marked them clean, so a second fsync would report success for data that is gone (the
//! "fsyncgate" lesson PostgreSQL learned in 2018); the caller answers 4xx and the client
//! sends the bytes again.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

/// One file to make durable: `data` goes to `tmp`, which is renamed to `dest` (same
/// filesystem; for Maildir `tmp/` and `new/` of one mailbox); without `tmp`, straight to `dest`.
#[derive(Debug, Clone)]
pub struct Write {
    pub tmp: Option<PathBuf>,
    pub dest: PathBuf,
    pub data: Arc<[u8]>,
    /// Who the file belongs to, when not the agent (mailboxes Dovecot serves as another user).
    pub owner: Option<Owner>,
    /// `dest` is a new name (a letter, a spool file), removed when the job fails; a rewrite
    /// of an existing file keeps whatever `dest` holds.
    pub fresh: bool,
}

/// A file's owner (user and group id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// Gives `path` to this owner.
    pub fn chown(self, path: &Path) -> std::io::Result<()> {
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
    }
}

impl Write {
    /// A write whose temporary file sits beside `dest` as `.name.tmp`.
    pub fn beside(dest: PathBuf, data: Arc<[u8]>) -> Self {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp"));
        Self { tmp: Some(tmp), dest, data, owner: None, fresh: false }
    }

    /// A write straight to `dest`: only for files whose content proves itself complete.
    pub fn direct(dest: PathBuf, data: Arc<[u8]>) -> Self {
        Self { tmp: None, dest, data, owner: None, fresh: true }
    }

    /// Through a temporary file in `tmp`, renamed to `dest`.
    pub fn via(tmp: PathBuf, dest: PathBuf, data: Arc<[u8]>) -> Self {
        Self { tmp: Some(tmp), dest, data, owner: None, fresh: true }
    }

    /// The file is given to `owner` before it is made durable and visible.
    pub fn owned_by(self, owner: Option<Owner>) -> Self {
        Self { owner, ..self }
    }
}

struct Job {
    writes: Vec<Write>,
    done: tokio::sync::oneshot::Sender<std::io::Result<()>>,
}

/// Most jobs one committer takes into one batch.
const MAX_BATCH: usize = 512;

/// The group-commit writer. Cheap to share (`Arc`); dropping the last handle stops the
/// committer threads once their work is done.
pub struct Durable {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Durable {
    /// Starts `committers` threads (at least one).
    pub fn new(committers: usize) -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..committers.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("pochta-commit-{i}"))
                .spawn(move || committer(rx))
                .expect("a committer thread starts");
        }
        Arc::new(Self { tx: Mutex::new(Some(tx)) })
    }

    /// Makes all `writes` durable; returns once each file is fsynced, renamed into place and
    /// its directory fsynced. On error, some of the files may exist.
    pub async fn commit(&self, writes: Vec<Write>) -> std::io::Result<()> {
        if writes.is_empty() {
            return Ok(());
        }
        let (done, rx) = tokio::sync::oneshot::channel();
        let sent = match self.tx.lock().expect("not poisoned").as_ref() {
            Some(tx) => tx.send(Job { writes, done }).is_ok(),
            None => false,
        };
        if !sent {
            return Err(std::io::Error::other("the durable writer is stopped"));
        }
        rx.await.unwrap_or_else(|_| Err(std::io::Error::other("the durable writer stopped")))
    }

    /// Stops accepting work; committers finish what they have and exit.
    pub fn close(&self) {
        self.tx.lock().expect("not poisoned").take();
    }
}

fn committer(rx: Arc<Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let batch = {
            let rx = rx.lock().expect("not poisoned");
            let Ok(first) = rx.recv() else { return };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            batch
        };
        run_batch(batch);
    }
}

/// Most threads one batch uses for its fsyncs.
const MAX_PARALLEL: usize = 32;

/// Runs `f` on every item, spread over up to [`MAX_PARALLEL`] threads; results in order.
fn parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() <= 1 {
        return items.iter().map(&f).collect();
    }
    let threads = items.len().min(MAX_PARALLEL);
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> =
            items.chunks(chunk).map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>())).collect();
        handles.into_iter().flat_map(|h| h.join().expect("an fsync thread does not panic")).collect()
    })
}

enum Step<'a> {
    /// Write, fsync, rename (a *beside* write).
    Renamed(&'a Write),
    /// fsync an already written file (a *direct* write).
    SyncFile(&'a std::fs::File),
    /// fsync a directory.
    SyncDir(&'a Path),
}

fn run_batch(batch: Vec<Job>) {
    // 1. Direct files are written now (page cache only); their fsyncs join step 2.
    let mut results: Vec<std::io::Result<()>> = Vec::with_capacity(batch.len());
    let mut opened: Vec<Vec<Option<std::fs::File>>> = Vec::with_capacity(batch.len());
    for job in &batch {
        let mut files = Vec::with_capacity(job.writes.len());
        let r = job.writes.iter().try_for_each(|w| {
            files.push(match w.tmp {
                Some(_) => None,
                None => Some(write_file(&w.dest, &w.data)?),
            });
            Ok(())
        });
        results.push(r);
        opened.push(files);
    }
    // 2. In parallel: temporary files written, fsynced and renamed; direct files fsynced; and
    //    the directories of direct files fsynced (their names exist already).
    let mut steps: Vec<(usize, Step)> = Vec::new();
    let mut direct_dirs: BTreeSet<&Path> = BTreeSet::new();
    for (j, (job, files)) in batch.iter().zip(&opened).enumerate() {
        if results[j].is_err() {
            continue;
        }
        for (w, f) in job.writes.iter().zip(files) {
            match f {
                None => steps.push((j, Step::Renamed(w))),
                Some(f) => {
                    steps.push((j, Step::SyncFile(f)));
                    direct_dirs.extend(w.dest.parent());
                }
            }
        }
    }
    steps.extend(direct_dirs.iter().map(|d| (usize::MAX, Step::SyncDir(d))));
    let done = parallel(&steps, |(_, step)| match step {
        Step::Renamed(w) => write_renamed(w),
        Step::SyncFile(f) => f.sync_all(),
        Step::SyncDir(d) => sync_dir(d),
    });
    let mut failed_dirs: Vec<(PathBuf, String)> = Vec::new();
    for ((j, step), r) in steps.iter().zip(done) {
        let Err(e) = r else { continue };
        match step {
            Step::SyncDir(d) => failed_dirs.push((d.to_path_buf(), e.to_string())),
            Step::Renamed(_) | Step::SyncFile(_) => {
                if results[*j].is_ok() {
                    results[*j] = Err(e);
                }
            }
        }
    }
    drop(opened);
    // 3. The directories that received a renamed file, once each for the whole batch.
    let mut dirs: BTreeSet<&Path> = BTreeSet::new();
    for (job, r) in batch.iter().zip(&results) {
        if r.is_ok() {
            dirs.extend(job.writes.iter().filter(|w| w.tmp.is_some()).filter_map(|w| w.dest.parent()));
        }
    }
    let dirs: Vec<&Path> = dirs.into_iter().collect();
    for (d, r) in dirs.iter().zip(parallel(&dirs, |d| sync_dir(d))) {
        if let Err(e) = r {
            failed_dirs.push((d.to_path_buf(), e.to_string()));
        }
    }
    // 4. Complete every job.
    for (job, mut r) in batch.into_iter().zip(results) {
        if r.is_ok()
            && let Some((d, e)) = failed_dirs
                .iter()
                .find(|(d, _)| job.writes.iter().any(|w| w.dest.parent() == Some(d.as_path())))
        {
            r = Err(std::io::Error::other(format!("fsync of {}: {e}", d.display())));
        }
        if let Err(e) = &r {
            undo(&job.writes, e);
        }
        let _ = job.done.send(r);
    }
}

/// Removes what a failed job wrote: every temporary file, and each new name it may have
/// created. The directories are fsynced after (best effort: if that fails too, a removed name
/// may come back after a crash, and recovery then finds a file the client was refused — the
/// spool's checksum and the Maildir names make it a duplicate the client's retry replaces).
fn undo(writes: &[Write], why: &std::io::Error) {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for w in writes {
        let mut gone = |p: &Path| match std::fs::remove_file(p) {
            Ok(()) => {
                dirs.extend(p.parent().map(Path::to_path_buf));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(path = %p.display(), error = %e, "cannot remove a failed write"),
        };
        if let Some(tmp) = &w.tmp {
            gone(tmp);
        }
        if w.fresh {
            gone(&w.dest);
        }
    }
    for d in dirs {
        let _ = sync_dir(&d);
    }
    tracing::warn!(files = writes.len(), error = %why, "a durable write failed and was undone");
}

fn write_file(path: &Path, data: &[u8]) -> std::io::Result<std::fs::File> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    f.write_all(data)?;
    Ok(f)
}

fn write_renamed(w: &Write) -> std::io::Result<()> {
    let tmp = w.tmp.as_deref().expect("a renamed write has a temporary file");
    let f = write_file(tmp, &w.data)?;
    if let Some(o) = w.owner {
        std::os::unix::fs::fchown(&f, Some(o.uid), Some(o.gid))?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(tmp, &w.dest)
}

/// fsync of a directory: makes the names created or renamed in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, fsyncing each parent that gained an entry, so the
/// new directory survives a crash.
pub fn create_dir_durable(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        create_dir_durable(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent()
        && !parent.as_os_str().is_empty()
    {
        sync_dir(parent)?;
    }
    Ok(())
}
