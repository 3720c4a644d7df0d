//! The local replica: the SQLite file (`db`), the apply rules (`apply`) and the one entry point
//! that changes it, [`Replica::offer`] (plus [`Replica::install_snapshot`] for bootstrap).
//!
//! Architecture Invariant: every apply goes through one async mutex, so pushes, the puller and
//! the gap filler never interleave; change set N+1 is committed only on top of N, in one SQLite
//! transaction with its version and head; the in-memory directory is swapped only after that
//! commit. Look-ups read the in-memory `Arc<Directory>` and never touch SQLite.

pub mod apply;
pub mod db;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use pochta_directory::wire::{
    self, ChainHash, ChangeSet, DeploymentId, FrameKind, Snapshot, Verified, Verifier, Version,
};
use pochta_directory::{Directory, Domain};
use tokio::sync::Notify;

pub use apply::Refusal;
use apply::{Placement, Undo};
pub use db::{Db, DbError, StoredState};

/// At most this many out-of-order sets are held while a gap is being filled...
pub const MAX_HELD_SETS: usize = 4096;
/// ...and at most this many bytes of them. Sets beyond are dropped; catch-up fetches them again.
pub const MAX_HELD_BYTES: usize = 64 << 20;
/// A signed set further than this beyond the replica's version is not held: the gap before it
/// may never be filled (the server prunes old frames; an attacker replaying a captured future
/// set would pin it in memory), and replaying a thousand sets costs more than a snapshot. The
/// set is refused and the agent fetches a snapshot from the server instead.
pub const SNAPSHOT_HORIZON: u64 = 1000;

/// What the replica holds right now, swapped as a whole after each commit.
#[derive(Debug)]
pub struct Live {
    pub directory: Arc<Directory>,
    pub version: Version,
    pub head: ChainHash,
    /// Retained frames cover `(base, version]`.
    pub base: Version,
}

/// The last exchange with the central server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Contact {
    /// Unix seconds.
    pub last_contact: Option<i64>,
    pub server_version: Option<Version>,
}

impl Contact {
    /// Seconds since the last contact with the server; `None` if there never was one.
    pub fn staleness_secs(&self) -> Option<u64> {
        self.last_contact.map(|t| u64::try_from(crate::clock::unix_now() - t).unwrap_or(0))
    }

    /// Whether the replica is stale: never in contact with the server, or not for longer than
    /// `after_secs` (the rule of `/status`, SMTP's RCPT policy and `resolve` alike).
    pub fn is_stale(&self, after_secs: u64) -> bool {
        Contact::stale(self.staleness_secs(), after_secs)
    }

    /// The rule itself, for a staleness already measured (one clock reading per report).
    pub fn stale(staleness_secs: Option<u64>, after_secs: u64) -> bool {
        staleness_secs.is_none_or(|s| s > after_secs)
    }
}

/// The result of an offer that refused nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    /// The replica's version after processing.
    pub version: Version,
    /// Out-of-order sets now held, waiting for a gap to be filled.
    pub held: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// Frame `index` was refused; frames before it were processed, none after it.
    #[error("frame {index}{at} refused: {reason}", at = version_note(*frame_version))]
    Refused { index: usize, frame_version: Version, reason: Refusal, version: Version },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// " (version N)" when the frame's header could be read at all.
fn version_note(v: Version) -> String {
    if v.0 == 0 { String::new() } else { format!(" (version {v})") }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot refused: {0}")]
    Refused(Refusal),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The retained frames a peer asked for.
pub enum Retained {
    Frames(Vec<Vec<u8>>),
    /// This replica no longer has the frames right after the requested version.
    Gone {
        base: Version,
    },
}

struct HeldSet {
    frame: Vec<u8>,
    set: Verified<ChangeSet>,
}

#[derive(Default)]
struct Pending {
    held: BTreeMap<Version, HeldSet>,
    held_bytes: usize,
    /// A set was held since the last publish: a new gap, so ask for a catch-up.
    fresh_gap: bool,
}

impl Pending {
    fn remove(&mut self, v: Version) -> Option<HeldSet> {
        let h = self.held.remove(&v)?;
        self.held_bytes -= h.frame.len();
        Some(h)
    }
}

/// The working state of one offer: the version and head reached so far and, once something
/// is applied, a private copy of the directory.
struct Cursor {
    version: Version,
    head: ChainHash,
    base: Version,
    dir: Option<Directory>,
}

pub struct Replica {
    db: Db,
    verifier: Verifier,
    deployment: DeploymentId,
    live: RwLock<Arc<Live>>,
    contact: Mutex<Contact>,
    pending: tokio::sync::Mutex<Pending>,
    held: AtomicUsize,
    catch_up: Notify,
    /// A set beyond [`SNAPSHOT_HORIZON`] was seen: the next catch-up starts from a snapshot.
    snapshot_wanted: AtomicBool,
    /// The live version, for tasks that act on changes (see [`Replica::subscribe`]).
    changes: tokio::sync::watch::Sender<Version>,
}

impl Replica {
    /// Loads the replica from `db` into memory.
    pub async fn load(
        db: Db,
        domain: &Domain,
        verifier: Verifier,
        deployment: DeploymentId,
    ) -> Result<Self, DbError> {
        let (state, directory) = db.load(domain).await?;
        let live = Live {
            directory: Arc::new(directory),
            version: state.version,
            head: state.head,
            base: state.base,
        };
        let contact = Contact { last_contact: state.last_contact, server_version: state.server_version };
        Ok(Self {
            db,
            verifier,
            deployment,
            live: RwLock::new(Arc::new(live)),
            contact: Mutex::new(contact),
            pending: tokio::sync::Mutex::new(Pending::default()),
            held: AtomicUsize::new(0),
            catch_up: Notify::new(),
            snapshot_wanted: AtomicBool::new(false),
            changes: tokio::sync::watch::Sender::new(state.version),
        })
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    /// The replica as it is now.
    pub fn live(&self) -> Arc<Live> {
        self.live.read().expect("the live lock is never poisoned").clone()
    }

    pub fn directory(&self) -> Arc<Directory> {
        self.live().directory.clone()
    }

    pub fn version(&self) -> Version {
        self.live().version
    }

    /// Changes whenever a new directory goes live (after each applied batch of change sets
    /// or snapshot); the value is the live version.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<Version> {
        self.changes.subscribe()
    }

    /// Out-of-order sets held right now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn contact(&self) -> Contact {
        *self.contact.lock().expect("the contact lock is never poisoned")
    }

    /// Waits until a gap (or anyone) asks for a catch-up fetch.
    /// Whether a set beyond the snapshot horizon was seen since the last installed snapshot.
    pub fn snapshot_wanted(&self) -> bool {
        self.snapshot_wanted.load(Ordering::Acquire)
    }

    /// The server answered the snapshot request (with or without a newer snapshot).
    pub fn snapshot_answered(&self) {
        self.snapshot_wanted.store(false, Ordering::Release);
    }

    pub async fn catch_up_requested(&self) {
        self.catch_up.notified().await;
    }

    /// Asks the sync loop to catch up now.
    pub fn request_catch_up(&self) {
        self.catch_up.notify_one();
    }

    /// Records an exchange with the central server, and the head it reported (or implied).
    pub async fn note_contact(&self, server_version: Option<Version>) {
        let at = crate::clock::unix_now();
        let server_version = {
            let mut c = self.contact.lock().expect("the contact lock is never poisoned");
            c.last_contact = Some(at);
            if let Some(v) = server_version {
                c.server_version = Some(v);
            }
            c.server_version
        };
        if let Err(e) = self.db.record_contact(at, server_version).await {
            tracing::warn!(error = %e, "cannot record the contact with the server");
        }
    }

    /// Like [`note_contact`](Self::note_contact) for a push: the server's head is at least the
    /// highest version it pushed.
    pub async fn note_push(&self, pushed: Option<Version>) {
        let known = self.contact().server_version;
        let v = match (known, pushed) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.note_contact(v).await;
    }

    /// Retained frames after `after`, for a peer catching up from this agent.
    pub async fn retained_after(
        &self,
        after: Version,
        max_count: u32,
        max_bytes: usize,
    ) -> Result<Retained, DbError> {
        let live = self.live();
        if after < live.base {
            return Ok(Retained::Gone { base: live.base });
        }
        Ok(Retained::Frames(self.db.frames_after(after, max_count, max_bytes).await?))
    }

    /// Offers change-set frames in order. Each is applied, recognised as a duplicate, held for
    /// a gap, or refused; processing stops at the first refused frame.
    pub async fn offer(&self, frames: &[&[u8]]) -> Result<Offered, OfferError> {
        let mut pending = self.pending.lock().await;
        let live = self.live();
        let mut cur = Cursor { version: live.version, head: live.head, base: live.base, dir: None };
        let mut stop = None;
        for (index, frame) in frames.iter().enumerate() {
            let frame_version = wire::peek(frame).map(|h| h.version).unwrap_or_default();
            match self.offer_one(&mut cur, &mut pending, frame).await {
                Ok(()) => {}
                Err(OneError::Refused(reason)) => {
                    tracing::warn!(version = %frame_version, replica = %cur.version, %reason, "change set refused");
                    stop = Some(Stop::Refused { index, frame_version, reason });
                    break;
                }
                Err(OneError::Db(e)) => {
                    stop = Some(Stop::Db(e));
                    break;
                }
            }
            if let Err(e) = self.drain(&mut cur, &mut pending).await {
                stop = Some(Stop::Db(e));
                break;
            }
        }
        // Whatever stopped the loop, what was committed before it becomes live.
        self.publish(&live, cur, &mut pending);
        let version = self.version();
        match stop {
            None => Ok(Offered { version, held: pending.held.len() }),
            Some(Stop::Refused { index, frame_version, reason }) => {
                Err(OfferError::Refused { index, frame_version, reason, version })
            }
            Some(Stop::Db(e)) => Err(OfferError::Db(e)),
        }
    }

    /// Verifies and installs a snapshot, replacing everything, then applies any held sets
    /// that follow it.
    pub async fn install_snapshot(&self, frame: &[u8]) -> Result<Version, SnapshotError> {
        let mut pending = self.pending.lock().await;
        let snap = Snapshot::open(frame, &self.verifier, &self.deployment)
            .map_err(|e| SnapshotError::Refused(Refusal::Wire(e)))?;
        let live = self.live();
        if snap.version <= live.version {
            let reason = if snap.version < live.version {
                Refusal::OlderSnapshot { snapshot: snap.version, replica: live.version }
            } else if snap.head != live.head {
                Refusal::Conflict(snap.version)
            } else {
                return Ok(live.version);
            };
            tracing::warn!(%reason, "snapshot refused");
            return Err(SnapshotError::Refused(reason));
        }
        if snap.directory.domain != live.directory.domain {
            tracing::warn!(
                snapshot = %snap.directory.domain, replica = %live.directory.domain,
                "the snapshot names another mail domain; the snapshot wins"
            );
        }
        self.db.replace_all(&snap.directory, snap.version, snap.head).await?;
        tracing::info!(version = %snap.version, users = snap.directory.users.len(), "installed snapshot");
        self.snapshot_wanted.store(false, Ordering::Release);
        let mut cur =
            Cursor { version: snap.version, head: snap.head, base: snap.version, dir: Some(snap.directory) };
        let stale: Vec<Version> = pending.held.range(..=snap.version).map(|(v, _)| *v).collect();
        for v in stale {
            pending.remove(v);
        }
        let drained = self.drain(&mut cur, &mut pending).await;
        self.publish(&live, cur, &mut pending);
        drained?;
        Ok(self.version())
    }

    /// Makes the cursor's state the live one, if it moved.
    fn publish(&self, before: &Live, cur: Cursor, pending: &mut Pending) {
        self.held.store(pending.held.len(), Ordering::Relaxed);
        if let Some(dir) = cur.dir
            && (cur.version != before.version || cur.base != before.base)
        {
            let live =
                Live { directory: Arc::new(dir), version: cur.version, head: cur.head, base: cur.base };
            *self.live.write().expect("the live lock is never poisoned") = Arc::new(live);
            self.changes.send_replace(cur.version);
        }
        if std::mem::take(&mut pending.fresh_gap) && !pending.held.is_empty() {
            self.catch_up.notify_one();
        }
    }

    async fn offer_one(&self, cur: &mut Cursor, pending: &mut Pending, frame: &[u8]) -> Result<(), OneError> {
        let header = wire::peek(frame)?;
        if header.kind != FrameKind::ChangeSet {
            return Err(wire::WireError::WrongKind {
                expected: FrameKind::ChangeSet,
                got: header.kind as u8,
            }
            .into());
        }
        if header.deployment != self.deployment {
            return Err(wire::WireError::WrongDeployment {
                expected: self.deployment,
                got: header.deployment,
            }
            .into());
        }
        match apply::place(header.version, cur.version)? {
            Placement::Old => self.check_duplicate(cur, header.version, frame).await,
            Placement::Next => {
                let set = ChangeSet::open(frame, &self.verifier, &self.deployment)?;
                self.apply_set(cur, frame, &set).await
            }
            Placement::Gap => {
                // Verified first: only the deployment's own sets may ask for a snapshot.
                let set = ChangeSet::open(frame, &self.verifier, &self.deployment)?;
                if header.version.0 > cur.version.0.saturating_add(SNAPSHOT_HORIZON) {
                    self.snapshot_wanted.store(true, Ordering::Release);
                    self.catch_up.notify_one();
                    return Err(
                        Refusal::BeyondHorizon { version: header.version, replica: cur.version }.into()
                    );
                }
                hold(pending, header.version, frame, set);
                Ok(())
            }
        }
    }

    /// A set at or below the replica's version is a no-op when it is the one applied there,
    /// and refused when it differs.
    async fn check_duplicate(&self, cur: &Cursor, version: Version, frame: &[u8]) -> Result<(), OneError> {
        let retained = self.db.retained(version).await?;
        if let Some((_, kept)) = &retained
            && kept.as_slice() == frame
        {
            return Ok(());
        }
        let set = ChangeSet::open(frame, &self.verifier, &self.deployment)?;
        let known = match retained {
            Some((hash, _)) => Some(hash),
            None if version == cur.version => Some(cur.head),
            // Before the snapshot this replica started from: nothing to compare it with, and
            // the signature says it is the deployment's own.
            None => None,
        };
        match known {
            Some(hash) if hash != set.hash => Err(Refusal::Conflict(version).into()),
            _ => Ok(()),
        }
    }

    async fn apply_set(
        &self,
        cur: &mut Cursor,
        frame: &[u8],
        set: &Verified<ChangeSet>,
    ) -> Result<(), OneError> {
        let version = set.value.version;
        if set.value.prev != cur.head {
            return Err(Refusal::ChainMismatch { version, prev: set.value.prev, head: cur.head }.into());
        }
        let dir = cur.dir.get_or_insert_with(|| (*self.live().directory).clone());
        let (entries, undo): (_, Undo) = apply::apply_ops(dir, &set.value.ops)
            .map_err(|error| Refusal::DoesNotApply { version, error })?;
        if let Err(e) = self.db.commit_change(&entries, version, set.hash, frame).await {
            undo.revert(dir);
            return Err(e.into());
        }
        drop(undo);
        tracing::debug!(%version, ops = set.value.ops.len(), author = %set.value.author, "applied change set");
        cur.version = version;
        cur.head = set.hash;
        Ok(())
    }

    /// Applies held sets that now follow the replica's version.
    async fn drain(&self, cur: &mut Cursor, pending: &mut Pending) -> Result<(), DbError> {
        while let Some((&v, _)) = pending.held.first_key_value() {
            if v <= cur.version {
                pending.remove(v);
                continue;
            }
            if v != cur.version.next() {
                break;
            }
            let held = pending.remove(v).expect("just seen");
            match self.apply_set(cur, &held.frame, &held.set).await {
                Ok(()) => {}
                Err(OneError::Refused(reason)) => {
                    tracing::warn!(version = %v, %reason, "held change set refused");
                }
                Err(OneError::Db(e)) => return Err(e),
            }
        }
        Ok(())
    }
}

fn hold(pending: &mut Pending, version: Version, frame: &[u8], set: Verified<ChangeSet>) {
    if let Some(existing) = pending.held.get(&version) {
        if existing.set.hash != set.hash {
            tracing::warn!(%version, "two different signed change sets for one version; keeping the first");
        }
        return;
    }
    while pending.held.len() >= MAX_HELD_SETS || pending.held_bytes + frame.len() > MAX_HELD_BYTES {
        match pending.held.last_key_value() {
            Some((&last, _)) if last > version => {
                pending.remove(last);
            }
            _ => {
                tracing::debug!(%version, "too many held change sets; this one will be fetched later");
                return;
            }
        }
    }
    tracing::debug!(%version, "holding change set until the gap before it is filled");
    pending.held_bytes += frame.len();
    pending.fresh_gap = true;
    pending.held.insert(version, HeldSet { frame: frame.to_vec(), set });
}

enum OneError {
    Refused(Refusal),
    Db(DbError),
}

/// Why an offer stopped before its last frame.
enum Stop {
    Refused { index: usize, frame_version: Version, reason: Refusal },
    Db(DbError),
}
impl From<Refusal> for OneError {
    fn from(r: Refusal) -> Self {
        OneError::Refused(r)
    }
}
impl From<wire::WireError> for OneError {
    fn from(e: wire::WireError) -> Self {
        OneError::Refused(Refusal::Wire(e))
    }
}
impl From<DbError> for OneError {
    fn from(e: DbError) -> Self {
        OneError::Db(e)
    }
}
