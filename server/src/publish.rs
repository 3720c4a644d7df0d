//! The change log's writer. Every edit of the directory goes through `Publisher::begin` /
//! `Edit::commit`: the edit is checked against the in-memory directory with the same
//! `Directory::apply` the agents run, then its rows and its signed change set are written in one
//! transaction, and only after the commit does the in-memory directory move on and are the
//! agents told. One mutex serialises edits, so versions are gap-free by construction; the
//! `meta.version` guard in the database catches a second server process writing the same database.

use std::sync::Arc;

use pochta_directory::wire::{ChainHash, ChangeSet, DeploymentId, Signer, Snapshot, Verifier, Version};
use pochta_directory::{Directory, DirectoryError, Op};
use tokio::sync::{Mutex, MutexGuard, watch};

use crate::db::{self, Db, DbError, Tx};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Db(#[from] DbError),
}
impl From<sqlx::Error> for EditError {
    fn from(e: sqlx::Error) -> Self {
        EditError::Db(e.into())
    }
}

struct Head {
    dir: Arc<Directory>,
    version: Version,
    hash: ChainHash,
}

pub struct Publisher {
    db: Db,
    signer: Signer,
    pub deployment: DeploymentId,
    head: Mutex<Head>,
    /// The directory as of the last commit, for readers that must not wait for an edit.
    current: std::sync::RwLock<(Arc<Directory>, Version)>,
    version_tx: watch::Sender<Version>,
    snapshot: Mutex<Option<(Version, Arc<Vec<u8>>)>>,
}

/// An edit in progress: holds the edit lock and an open transaction.
pub struct Edit<'a> {
    publisher: &'a Publisher,
    head: MutexGuard<'a, Head>,
    /// Callers may write their own rows here (e.g. an agent enrollment); they commit with the set.
    pub tx: Tx<'static>,
    /// The version this edit undoes, when it is a revert (the history says so).
    pub reverts: Option<Version>,
}

impl Publisher {
    pub async fn load(db: Db, signer: Signer) -> Result<Publisher, DbError> {
        let meta = db::changelog::meta(&db.pool)
            .await?
            .ok_or_else(|| DbError::Corrupt("no meta row: run init".into()))?;
        let dir = Arc::new(db::directory::load(&db.pool, meta.domain.clone()).await?);
        let (version_tx, _) = watch::channel(meta.version);
        Ok(Publisher {
            db,
            signer,
            deployment: meta.deployment,
            current: std::sync::RwLock::new((dir.clone(), meta.version)),
            head: Mutex::new(Head { dir, version: meta.version, hash: meta.head }),
            version_tx,
            snapshot: Mutex::new(None),
        })
    }

    pub fn verifier(&self) -> Verifier {
        self.signer.verifier()
    }

    /// Signs a request only the server may make of an agent (its queue): see `manage::queue`.
    pub fn sign_request(&self, body: &[u8]) -> String {
        self.signer.sign_request(body)
    }

    /// The directory and version as of the last commit.
    pub fn current(&self) -> (Arc<Directory>, Version) {
        self.current.read().expect("not poisoned").clone()
    }

    pub fn version(&self) -> Version {
        *self.version_tx.borrow()
    }

    /// Wakes on every commit.
    pub fn subscribe(&self) -> watch::Receiver<Version> {
        self.version_tx.subscribe()
    }

    pub async fn begin(&self) -> Result<Edit<'_>, EditError> {
        let head = self.head.lock().await;
        let tx = self.db.pool.begin().await?;
        Ok(Edit { publisher: self, head, tx, reverts: None })
    }

    /// Checks and commits `ops` as one change set. Convenience for edits with no extra rows.
    /// `build` refuses with the caller's own error type, which the edit's failures convert into.
    pub async fn edit<E: From<EditError>>(
        &self,
        author: &str,
        build: impl FnOnce(&Directory) -> Result<Vec<Op>, E>,
    ) -> Result<Version, E> {
        let edit = self.begin().await?;
        let ops = build(edit.directory())?;
        Ok(edit.commit(author, ops).await?)
    }

    /// A signed snapshot of the directory at the current version, cached per version.
    pub async fn snapshot(&self) -> Arc<Vec<u8>> {
        let mut cache = self.snapshot.lock().await;
        let (dir, version, head) = {
            let h = self.head.lock().await;
            (h.dir.clone(), h.version, h.hash)
        };
        if let Some((v, frame)) = cache.as_ref()
            && *v == version
        {
            return frame.clone();
        }
        let snap =
            Snapshot { deployment: self.deployment, version, head, at: db::now(), directory: (*dir).clone() };
        let frame = Arc::new(tokio::task::block_in_place(|| snap.seal(&self.signer)));
        *cache = Some((version, frame.clone()));
        frame
    }
}

impl Edit<'_> {
    pub fn directory(&self) -> &Directory {
        &self.head.dir
    }

    /// Checks the ops, writes rows and the change set, commits, then publishes.
    /// With no ops, commits the caller's rows and publishes nothing.
    pub async fn commit(mut self, author: &str, ops: Vec<Op>) -> Result<Version, EditError> {
        if ops.is_empty() {
            self.tx.commit().await?;
            return Ok(self.head.version);
        }
        // One op at a time, so each op's prior is the record as the ops before it left it.
        let mut next = (*self.head.dir).clone();
        let mut priors = Vec::with_capacity(ops.len());
        for op in &ops {
            priors.push(crate::audit::prior(&next, op));
            next.apply(op)?;
        }
        let p = self.publisher;
        let set = ChangeSet {
            deployment: p.deployment,
            version: self.head.version.next(),
            prev: self.head.hash,
            at: db::now(),
            author: author.to_owned(),
            ops,
        };
        let (frame, hash) = set.seal(&p.signer);
        let entry = db::changelog::Entry {
            version: set.version,
            prev: self.head.version,
            hash,
            author,
            at: set.at,
            ops: &set.ops,
            frame: &frame,
            after: &next,
            priors: &priors,
            reverts: self.reverts,
        };
        db::changelog::append(&mut self.tx, &entry).await?;
        self.tx.commit().await?;
        let next = Arc::new(next);
        self.head.dir = next.clone();
        self.head.version = set.version;
        self.head.hash = hash;
        *p.current.write().expect("not poisoned") = (next, set.version);
        p.version_tx.send_replace(set.version);
        tracing::info!(version = %set.version, author, bytes = frame.len(), "change set committed");
        Ok(set.version)
    }
}
