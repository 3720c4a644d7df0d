//! The spool on disk: `<data>/queue/<NN>/` subdirectories (spread to avoid one hot
//! directory), per message:
//!
//! * `<id>.msg` — written once at acceptance: `POCHTA-Q2 <n>\n`, the envelope as `n` octets
//!   of JSON, `\n`, the message (`size` octets), then the hex SHA-256 of everything before it.
//!   One file written under its final name, so acceptance costs one file fsync and one
//!   (shared) directory fsync, issued together; a file a crash left incomplete fails its
//!   checksum and is removed at start (it was never acknowledged). `POCHTA-Q1` files (no
//!   checksum, written through a temporary file) are still read.
//! * `<id>.env` — the envelope with per-recipient states, rewritten (durably) after each
//!   delivery to another server; when present it supersedes the copy inside `.msg`.
//!
//! Removal deletes `.msg` first: an `.env` without its `.msg` is a finished message's leftover
//! and is removed at start; a `.msg` is never left with an older envelope than the truth.
//! Control requests from `pochta-agent queue` are files `ctl/<id>.<action>`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::QueueId;
use super::envelope::Envelope;
use crate::durable::{self, Durable, Write};

const MAGIC: &[u8] = b"POCHTA-Q2 ";
const MAGIC_V1: &[u8] = b"POCHTA-Q1 ";
/// Hex SHA-256 at the end of a `POCHTA-Q2` file.
const SUM_LEN: usize = 64;

pub struct Spool {
    root: PathBuf,
    dirs: u32,
    durable: Arc<Durable>,
}

/// A message found on disk.
pub struct Found {
    pub env: Envelope,
    pub dir: PathBuf,
}

impl Spool {
    /// Opens (creating) the spool at `root` with `dirs` subdirectories.
    pub fn open(root: &Path, dirs: u32, durable: Arc<Durable>) -> std::io::Result<Self> {
        let dirs = dirs.clamp(1, 256);
        for i in 0..dirs {
            durable::create_dir_durable(&root.join(format!("{i:02x}")))?;
        }
        durable::create_dir_durable(&root.join("ctl"))?;
        Ok(Self { root: root.to_owned(), dirs, durable })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn durable(&self) -> &Arc<Durable> {
        &self.durable
    }

    /// The subdirectory for a new message with sequence number `seq`.
    pub fn dir_for(&self, seq: u64) -> PathBuf {
        self.root.join(format!("{:02x}", seq % u64::from(self.dirs)))
    }

    /// Writes a new message durably (one file).
    pub async fn store_new(&self, dir: &Path, env: &Envelope, data: &[u8]) -> std::io::Result<()> {
        let json = serde_json::to_vec(env).map_err(std::io::Error::other)?;
        let mut buf = Vec::with_capacity(MAGIC.len() + 12 + json.len() + data.len());
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(json.len().to_string().as_bytes());
        buf.push(b'\n');
        buf.extend_from_slice(&json);
        buf.push(b'\n');
        buf.extend_from_slice(data);
        let sum = hex::encode(Sha256::digest(&buf));
        buf.extend_from_slice(sum.as_bytes());
        let dest = msg_path(dir, &env.id);
        self.durable.commit(vec![Write::direct(dest, buf.into())]).await
    }

    /// Rewrites the envelope durably.
    pub async fn save_env(&self, dir: &Path, env: &Envelope) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(env).map_err(std::io::Error::other)?;
        self.durable.commit(vec![Write::beside(env_path(dir, &env.id), json.into())]).await
    }

    /// Removes a message: `.msg` first, then `.env`.
    pub fn remove(&self, dir: &Path, id: &QueueId) -> std::io::Result<()> {
        for p in [msg_path(dir, id), env_path(dir, id)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The message's content.
    pub fn read_data(&self, dir: &Path, id: &QueueId) -> std::io::Result<Vec<u8>> {
        read_data(dir, id)
    }

    /// Every queued message. With `clean`, also removes what a crash left behind: temporary
    /// files, and envelopes whose message is gone (finished, or never acknowledged).
    pub fn load_all(&self, clean: bool) -> Vec<Found> {
        load_all(&self.root, clean)
    }

    /// Control requests waiting: `(id, action)`.
    pub fn control_requests(&self) -> Vec<(QueueId, String, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.root.join("ctl")) else { return vec![] };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (id, action) = name.rsplit_once('.')?;
                Some((QueueId(id.to_owned()), action.to_owned(), e.path()))
            })
            .collect()
    }

    /// Asks the (running or next) agent to act on a message: `retry`, `delete` or `bounce`.
    pub fn request(root: &Path, id: &QueueId, action: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(root.join("ctl"))?;
        std::fs::write(root.join("ctl").join(format!("{id}.{action}")), b"")
    }
}

fn msg_path(dir: &Path, id: &QueueId) -> PathBuf {
    dir.join(format!("{id}.msg"))
}
fn env_path(dir: &Path, id: &QueueId) -> PathBuf {
    dir.join(format!("{id}.env"))
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// The envelope embedded in a `.msg` file and the range of the message in it. A `POCHTA-Q2`
/// file that is short or fails its checksum is [`std::io::ErrorKind::UnexpectedEof`]: a crash
/// cut it before it was acknowledged.
fn parse(raw: &[u8]) -> std::io::Result<(Envelope, std::ops::Range<usize>)> {
    let incomplete = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "incomplete queue file");
    let (rest, v2) = if let Some(r) = raw.strip_prefix(MAGIC) {
        (r, true)
    } else if let Some(r) = raw.strip_prefix(MAGIC_V1) {
        (r, false)
    } else if MAGIC.starts_with(&raw[..raw.len().min(MAGIC.len())]) || raw.iter().all(|&b| b == 0) {
        // Cut inside the magic, or a size that reached the disk before the data did.
        return Err(incomplete());
    } else {
        return Err(bad("not a queue file"));
    };
    if v2 {
        let Some(body_len) = raw.len().checked_sub(SUM_LEN) else { return Err(incomplete()) };
        let sum = hex::encode(Sha256::digest(&raw[..body_len]));
        if sum.as_bytes() != &raw[body_len..] {
            return Err(incomplete());
        }
    }
    let nl = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("truncated queue file"))?;
    let len: usize = std::str::from_utf8(&rest[..nl])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad envelope length"))?;
    let start = MAGIC.len() + nl + 1;
    let json = raw.get(start..start + len).ok_or_else(|| bad("truncated envelope"))?;
    let env: Envelope = serde_json::from_slice(json).map_err(std::io::Error::other)?;
    let data_start = start + len + 1;
    let data_end = if v2 { raw.len() - SUM_LEN } else { raw.len() };
    if data_start > data_end || (v2 && (data_end - data_start) as u64 != env.size) {
        return Err(bad("the message length does not match its envelope"));
    }
    Ok((env, data_start..data_end))
}

/// The current envelope of message `stem` in `dir`: `.env` when present, else the one in `.msg`.
fn load_one(dir: &Path, stem: &str) -> std::io::Result<Envelope> {
    let id = QueueId(stem.to_owned());
    match std::fs::read(env_path(dir, &id)) {
        Ok(json) => return serde_json::from_slice(&json).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let raw = std::fs::read(msg_path(dir, &id))?;
    Ok(parse(&raw)?.0)
}

/// Every message in the spool at `root` (see [`Spool::load_all`]); reads only, unless `clean`.
pub fn load_all(root: &Path, clean: bool) -> Vec<Found> {
    let mut found = Vec::new();
    let Ok(subdirs) = std::fs::read_dir(root) else { return found };
    let mut subdirs: Vec<PathBuf> = subdirs
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n != "ctl"))
        .collect();
    subdirs.sort();
    for dir in subdirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> =
            entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in &names {
            let path = dir.join(name);
            if name.starts_with('.') && name.ends_with(".tmp") {
                if clean {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            if let Some(stem) = name.strip_suffix(".env") {
                if clean && !names.iter().any(|n| n.strip_suffix(".msg") == Some(stem)) {
                    let _ = std::fs::remove_file(&path);
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".msg") else { continue };
            match load_one(&dir, stem) {
                Ok(env) => found.push(Found { env, dir: dir.clone() }),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    // Cut by a crash before its 250: never acknowledged, so never ours.
                    tracing::info!(file = %path.display(), "incomplete queue file (never acknowledged) removed");
                    if clean {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "unreadable queue file; left in place")
                }
            }
        }
    }
    found
}

/// The content of message `id` stored in `dir`.
pub fn read_data(dir: &Path, id: &QueueId) -> std::io::Result<Vec<u8>> {
    let mut raw = std::fs::read(msg_path(dir, id))?;
    let (_, range) = parse(&raw)?;
    raw.truncate(range.end);
    raw.drain(..range.start);
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::envelope::OriginRecord;

    #[tokio::test]
    async fn a_cut_queue_file_is_recognised_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let spool = Spool::open(tmp.path(), 2, Durable::new(1)).unwrap();
        let env = |id: &str, size: usize| Envelope {
            id: QueueId(id.into()),
            reverse_path: None,
            recipients: vec![],
            origin: OriginRecord::Bounce,
            client_ip: std::net::IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            created: 1,
            attempts: 0,
            next_try: 1,
            size: size as u64,
            targets: None,
        };
        let dir = spool.dir_for(0);
        let data = vec![b'x'; 5000];
        spool.store_new(&dir, &env("whole", data.len()), &data).await.unwrap();
        spool.store_new(&dir, &env("cut", data.len()), &data).await.unwrap();
        assert_eq!(spool.read_data(&dir, &QueueId("whole".into())).unwrap(), data);
        let cut = dir.join("cut.msg");
        let whole = std::fs::read(&cut).unwrap();
        let len = whole.len();
        for keep in [0, 5, 40, len - 100, len - 1] {
            std::fs::write(&cut, &whole[..keep]).unwrap();
            assert_eq!(spool.load_all(false).len(), 1, "cut at {keep}");
            // A size that reached the disk before the data did.
            let mut zeroed = whole[..keep].to_vec();
            zeroed.resize(len, 0);
            std::fs::write(&cut, &zeroed).unwrap();
            let found = spool.load_all(false);
            assert_eq!(found.len(), 1, "cut at {keep}");
            assert_eq!(found[0].env.id.0, "whole");
        }
        spool.load_all(true);
        assert!(!cut.exists());
        assert!(dir.join("whole.msg").exists());
    }
}
