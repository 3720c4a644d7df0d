//! THE durable-write helper (STYLE.md habit 7): write to a temporary file, fsync it, rename it
//! into place, fsync the directory — and only then report success. The spool and Maildir
//! delivery both write through it; nothing else in the agent writes mail to disk.
//!
//! Group commit: callers hand over [`Write`]s and await the result; a small pool of committer
//! threads takes every pending job at once, writes and fsyncs all their files, renames them,
//! fsyncs each touched directory *once* for the whole batch, and then completes every job of
//! the batch. Under load, one directory fsync covers many messages; several committers keep
//! several fsyncs in flight so the device's queue stays busy. No path ever skips an fsync.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

/// One file to make durable: `data` goes to `tmp`, which is renamed to `dest` (same
/// filesystem; for Maildir `tmp/` and `new/` of one mailbox).
#[derive(Debug, Clone)]
pub struct Write {
    pub tmp: PathBuf,
    pub dest: PathBuf,
    pub data: Arc<[u8]>,
}

impl Write {
    /// A write whose temporary file sits beside `dest` as `.name.tmp`.
    pub fn beside(dest: PathBuf, data: Arc<[u8]>) -> Self {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp"));
        Self { tmp, dest, data }
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

fn run_batch(batch: Vec<Job>) {
    // 1. Every file of every job: write and fsync its temporary file, then rename it.
    let mut results: Vec<std::io::Result<()>> = Vec::with_capacity(batch.len());
    for job in &batch {
        results.push(job.writes.iter().try_for_each(write_one));
    }
    // 2. Each directory that received a file, once for the whole batch.
    let mut dirs: BTreeSet<&Path> = BTreeSet::new();
    for (job, r) in batch.iter().zip(&results) {
        if r.is_ok() {
            dirs.extend(job.writes.iter().filter_map(|w| w.dest.parent()));
        }
    }
    let mut failed_dirs: Vec<(PathBuf, String)> = Vec::new();
    for d in dirs {
        if let Err(e) = sync_dir(d) {
            failed_dirs.push((d.to_owned(), e.to_string()));
        }
    }
    // 3. Complete every job.
    for (job, mut r) in batch.into_iter().zip(results) {
        if r.is_ok()
            && let Some((d, e)) = failed_dirs
                .iter()
                .find(|(d, _)| job.writes.iter().any(|w| w.dest.parent() == Some(d.as_path())))
        {
            r = Err(std::io::Error::other(format!("fsync of {}: {e}", d.display())));
        }
        let _ = job.done.send(r);
    }
}

fn write_one(w: &Write) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&w.tmp)?;
    f.write_all(&w.data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&w.tmp, &w.dest)
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
