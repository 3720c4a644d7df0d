//! The replica's SQLite file: the only place with SQL in the agent.
//!
//! Architecture Invariant: every write that changes the directory also writes the version and
//! the head hash it belongs to, in the same transaction, so the file is always one exact
//! version of the directory.

use std::path::Path;
use std::time::Duration;

use pochta_directory::dkim::DkimKey;
use pochta_directory::wire::{ChainHash, Version};
use pochta_directory::{Directory, Domain, Group, Site, User};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/agent");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("replica database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("replica database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the replica database is corrupt: {0}")]
    Corrupt(String),
}

/// Where the replica stands, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub version: Version,
    pub head: ChainHash,
    /// Retained frames cover `(base, version]`.
    pub base: Version,
    pub domain: Option<Domain>,
    pub last_contact: Option<i64>,
    pub server_version: Option<Version>,
}

/// One row of `entries` to write (`Some` body) or delete (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryWrite {
    pub kind: &'static str,
    pub key: String,
    pub body: Option<String>,
}

pub const SITE: &str = "site";
pub const USER: &str = "user";
pub const GROUP: &str = "group";
pub const DKIM: &str = "dkim";
pub const SETTINGS: &str = "settings";
/// The one settings row's key.
pub const SETTINGS_KEY: &str = "domain";

#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
}

fn to_i64(v: Version) -> i64 {
    i64::try_from(v.0).unwrap_or(i64::MAX)
}
fn to_version(v: i64) -> Version {
    Version(u64::try_from(v).unwrap_or(0))
}

impl Db {
    /// Opens (creating it if needed) and migrates the replica at `path`: WAL, `synchronous=FULL`.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn state(&self) -> Result<StoredState, DbError> {
        type Row = (i64, String, i64, Option<String>, Option<i64>, Option<i64>);
        let (version, head, base, domain, last_contact, server_version): Row = sqlx::query_as(
            "SELECT version, head, base, domain, last_contact, server_version FROM state WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        let head = ChainHash::parse(&head).map_err(|e| DbError::Corrupt(format!("head: {e}")))?;
        let domain = match domain {
            Some(d) => Some(Domain::parse(&d).map_err(|e| DbError::Corrupt(format!("domain: {e}")))?),
            None => None,
        };
        Ok(StoredState {
            version: to_version(version),
            head,
            base: to_version(base),
            domain,
            last_contact,
            server_version: server_version.map(to_version),
        })
    }

    /// The stored state and the directory it describes. `domain` is used until a snapshot has
    /// named one.
    pub async fn load(&self, domain: &Domain) -> Result<(StoredState, Directory), DbError> {
        let state = self.state().await?;
        let mut dir = Directory::new(state.domain.clone().unwrap_or_else(|| domain.clone()));
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT kind, key, body FROM entries").fetch_all(&self.pool).await?;
        let corrupt =
            |kind: &str, key: &str, e: serde_json::Error| DbError::Corrupt(format!("{kind} '{key}': {e}"));
        for (kind, key, body) in rows {
            match kind.as_str() {
                SITE => {
                    let s: Site = serde_json::from_str(&body).map_err(|e| corrupt(&kind, &key, e))?;
                    dir.sites.insert(s.id.clone(), s);
                }
                USER => {
                    let u: User = serde_json::from_str(&body).map_err(|e| corrupt(&kind, &key, e))?;
                    dir.users.insert(u.name.clone(), u);
                }
                GROUP => {
                    let g: Group = serde_json::from_str(&body).map_err(|e| corrupt(&kind, &key, e))?;
                    dir.groups.insert(g.name.clone(), g);
                }
                DKIM => {
                    let k: DkimKey = serde_json::from_str(&body).map_err(|e| corrupt(&kind, &key, e))?;
                    dir.dkim.insert(k.selector.clone(), k);
                }
                SETTINGS => {
                    dir.settings = serde_json::from_str(&body).map_err(|e| corrupt(&kind, &key, e))?;
                }
                other => return Err(DbError::Corrupt(format!("unknown entry kind '{other}'"))),
            }
        }
        Ok((state, dir))
    }

    /// The retained frame of `version` and its chain hash, if this replica has it.
    pub async fn retained(&self, version: Version) -> Result<Option<(ChainHash, Vec<u8>)>, DbError> {
        let row: Option<(String, Vec<u8>)> =
            sqlx::query_as("SELECT hash, frame FROM changes WHERE version = ?")
                .bind(to_i64(version))
                .fetch_optional(&self.pool)
                .await?;
        match row {
            None => Ok(None),
            Some((hash, frame)) => {
                let hash = ChainHash::parse(&hash).map_err(|e| DbError::Corrupt(format!("hash: {e}")))?;
                Ok(Some((hash, frame)))
            }
        }
    }

    /// Retained frames after `after`, in order, at most `max_count` of them and, past the first,
    /// no more than `max_bytes` in all.
    pub async fn frames_after(
        &self,
        after: Version,
        max_count: u32,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, DbError> {
        let rows: Vec<(Vec<u8>,)> =
            sqlx::query_as("SELECT frame FROM changes WHERE version > ? ORDER BY version LIMIT ?")
                .bind(to_i64(after))
                .bind(i64::from(max_count))
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut total = 0;
        for (frame,) in rows {
            if !out.is_empty() && total + frame.len() > max_bytes {
                break;
            }
            total += frame.len();
            out.push(frame);
        }
        Ok(out)
    }

    /// Applies one change set: its entries, its frame and the new version and head, in one
    /// transaction.
    pub async fn commit_change(
        &self,
        entries: &[EntryWrite],
        version: Version,
        hash: ChainHash,
        frame: &[u8],
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        write_entries(&mut tx, entries).await?;
        sqlx::query("INSERT OR REPLACE INTO changes (version, hash, frame) VALUES (?, ?, ?)")
            .bind(to_i64(version))
            .bind(hash.to_hex())
            .bind(frame)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE state SET version = ?, head = ? WHERE id = 1")
            .bind(to_i64(version))
            .bind(hash.to_hex())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the whole replica with a snapshot, in one transaction. Retained frames are
    /// dropped: this replica can serve peers only what comes after the snapshot.
    pub async fn replace_all(
        &self,
        dir: &Directory,
        version: Version,
        head: ChainHash,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM entries").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM changes").execute(&mut *tx).await?;
        write_entries(&mut tx, &all_entries(dir)).await?;
        sqlx::query("UPDATE state SET version = ?, head = ?, base = ?, domain = ? WHERE id = 1")
            .bind(to_i64(version))
            .bind(head.to_hex())
            .bind(to_i64(version))
            .bind(dir.domain.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records an exchange with the central server.
    pub async fn record_contact(&self, at: i64, server_version: Option<Version>) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE state SET last_contact = ?, server_version = COALESCE(?, server_version) WHERE id = 1",
        )
        .bind(at)
        .bind(server_version.map(to_i64))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

async fn write_entries(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    entries: &[EntryWrite],
) -> Result<(), DbError> {
    for e in entries {
        match &e.body {
            Some(body) => {
                sqlx::query(
                    "INSERT INTO entries (kind, key, body) VALUES (?, ?, ?) \
                     ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                )
                .bind(e.kind)
                .bind(&e.key)
                .bind(body)
                .execute(&mut **tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM entries WHERE kind = ? AND key = ?")
                    .bind(e.kind)
                    .bind(&e.key)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    Ok(())
}

pub(crate) fn body<T: serde::Serialize>(v: &T) -> Option<String> {
    Some(serde_json::to_string(v).expect("directory records always serialise"))
}

/// Every record of `dir` as entry rows.
pub fn all_entries(dir: &Directory) -> Vec<EntryWrite> {
    let sites = dir.sites.values().map(|s| EntryWrite { kind: SITE, key: s.id.to_string(), body: body(s) });
    let users =
        dir.users.values().map(|u| EntryWrite { kind: USER, key: u.name.folded().to_owned(), body: body(u) });
    let groups = dir.groups.values().map(|g| EntryWrite {
        kind: GROUP,
        key: g.name.folded().to_owned(),
        body: body(g),
    });
    let keys =
        dir.dkim.values().map(|k| EntryWrite { kind: DKIM, key: k.selector.to_string(), body: body(k) });
    let settings = (!dir.settings.is_default()).then(|| EntryWrite {
        kind: SETTINGS,
        key: SETTINGS_KEY.into(),
        body: body(&dir.settings),
    });
    sites.chain(users).chain(groups).chain(keys).chain(settings).collect()
}
