//! The apply rules, without I/O: what a frame means for a replica at a given version, and how
//! a change set's ops change the working directory (with an undo log, so a set that fails
//! half-way, or whose commit fails, leaves the working directory exactly as it was).

use pochta_directory::dkim::{DkimKey, Selector};
use pochta_directory::wire::{ChainHash, Version, WireError};
use pochta_directory::{Directory, DirectoryError, DomainSettings, Group, LocalPart, Op, Site, SiteId, User};

use super::db::{self, EntryWrite};

/// Why a frame is refused. Nothing of a refused frame is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Bad signature, wrong deployment, malformed, too large, bad compression...
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("version 0 is not a change set")]
    VersionZero,
    #[error(
        "change set {version} does not continue this replica's history (it follows {prev}, the head is {head})"
    )]
    ChainMismatch { version: Version, prev: ChainHash, head: ChainHash },
    #[error("change set or snapshot {0} differs from the one already applied at that version")]
    Conflict(Version),
    #[error("change set {version} does not apply to this replica: {error}")]
    DoesNotApply { version: Version, error: DirectoryError },
    #[error("the snapshot is at version {snapshot}, behind this replica at {replica}")]
    OlderSnapshot { snapshot: Version, replica: Version },
    #[error(
        "change set {version} is more than {horizon} versions beyond this replica at {replica}: \
         not held; the agent fetches a snapshot instead",
        horizon = super::SNAPSHOT_HORIZON
    )]
    BeyondHorizon { version: Version, replica: Version },
}

/// What to do with a change-set frame whose header was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// At or below the replica's version: a duplicate or a conflicting old set.
    Old,
    /// Exactly the next version.
    Next,
    /// Beyond the next version: hold it until the gap is filled.
    Gap,
}

pub fn place(frame_version: Version, replica: Version) -> Result<Placement, Refusal> {
    if frame_version.0 == 0 {
        Err(Refusal::VersionZero)
    } else if frame_version <= replica {
        Ok(Placement::Old)
    } else if frame_version == replica.next() {
        Ok(Placement::Next)
    } else {
        Ok(Placement::Gap)
    }
}

/// The prior value of one record, to put back on undo.
enum Prior {
    Site(SiteId, Option<Site>),
    /// Boxed: a user record is the largest by far.
    User(LocalPart, Option<Box<User>>),
    Group(LocalPart, Option<Group>),
    Dkim(Selector, Option<DkimKey>),
    Settings(DomainSettings),
}

/// Undoes a set's ops on the working directory, last first.
#[must_use = "an undo log that is dropped cannot undo"]
pub struct Undo(Vec<Prior>);

impl Undo {
    pub fn revert(self, dir: &mut Directory) {
        for prior in self.0.into_iter().rev() {
            match prior {
                Prior::Site(k, Some(v)) => {
                    dir.sites.insert(k, v);
                }
                Prior::Site(k, None) => {
                    dir.sites.remove(&k);
                }
                Prior::User(k, Some(v)) => {
                    dir.users.insert(k, *v);
                }
                Prior::User(k, None) => {
                    dir.users.remove(&k);
                }
                Prior::Group(k, Some(v)) => {
                    dir.groups.insert(k, v);
                }
                Prior::Group(k, None) => {
                    dir.groups.remove(&k);
                }
                Prior::Dkim(k, Some(v)) => {
                    dir.dkim.insert(k, v);
                }
                Prior::Dkim(k, None) => {
                    dir.dkim.remove(&k);
                }
                Prior::Settings(s) => dir.settings = s,
            }
        }
    }
}

fn prior(dir: &Directory, op: &Op) -> Prior {
    match op {
        Op::PutSite(s) => Prior::Site(s.id.clone(), dir.sites.get(&s.id).cloned()),
        Op::DeleteSite { id } => Prior::Site(id.clone(), dir.sites.get(id).cloned()),
        Op::PutUser(User { name, .. }) | Op::SetPassword { name, .. } => {
            Prior::User(name.clone(), dir.users.get(name).cloned().map(Box::new))
        }
        Op::DeleteUser { name } => Prior::User(name.clone(), dir.users.get(name).cloned().map(Box::new)),
        Op::PutGroup(g) => Prior::Group(g.name.clone(), dir.groups.get(&g.name).cloned()),
        Op::DeleteGroup { name } => Prior::Group(name.clone(), dir.groups.get(name).cloned()),
        Op::PutDkimKey(DkimKey { selector, .. }) | Op::DeleteDkimKey { selector } => {
            Prior::Dkim(selector.clone(), dir.dkim.get(selector).cloned())
        }
        Op::PutSettings(_) => Prior::Settings(dir.settings.clone()),
    }
}

/// Applies all of `ops` to `dir`, or none of them. On success returns the entry rows to write
/// (one per touched record, as it now is) and the undo log.
pub fn apply_ops(dir: &mut Directory, ops: &[Op]) -> Result<(Vec<EntryWrite>, Undo), DirectoryError> {
    let mut undo = Undo(Vec::with_capacity(ops.len()));
    for op in ops {
        let before = prior(dir, op);
        if let Err(e) = dir.apply(op) {
            undo.revert(dir);
            return Err(e);
        }
        undo.0.push(before);
    }
    let mut writes: Vec<EntryWrite> = Vec::with_capacity(undo.0.len());
    for p in &undo.0 {
        let w = match p {
            Prior::Site(k, _) => {
                EntryWrite { kind: db::SITE, key: k.to_string(), body: dir.site(k).and_then(db::body) }
            }
            Prior::User(k, _) => EntryWrite {
                kind: db::USER,
                key: k.folded().to_owned(),
                body: dir.user(k).and_then(db::body),
            },
            Prior::Group(k, _) => EntryWrite {
                kind: db::GROUP,
                key: k.folded().to_owned(),
                body: dir.group(k).and_then(db::body),
            },
            Prior::Dkim(k, _) => {
                EntryWrite { kind: db::DKIM, key: k.to_string(), body: dir.dkim.get(k).and_then(db::body) }
            }
            Prior::Settings(_) => {
                EntryWrite { kind: db::SETTINGS, key: db::SETTINGS_KEY.into(), body: db::body(&dir.settings) }
            }
        };
        if !writes.iter().any(|x| x.kind == w.kind && x.key == w.key) {
            writes.push(w);
        }
    }
    Ok((writes, undo))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use pochta_directory::{Domain, Level};

    use super::*;

    fn site(id: &str) -> Site {
        Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            level: Level::One,
            agents: vec![],
            default_quota: None,
            outgoing: vec![],
        }
    }
    fn user(name: &str, site: &str) -> User {
        User {
            app_passwords: Vec::new(),
            name: LocalPart::parse(name).unwrap(),
            display_name: String::new(),
            site: SiteId::parse(site).unwrap(),
            former_sites: BTreeSet::new(),
            password: None,
            enabled: true,
            mailbox: Default::default(),
        }
    }

    #[test]
    fn placement() {
        assert_eq!(place(Version(0), Version(0)), Err(Refusal::VersionZero));
        assert_eq!(place(Version(1), Version(0)), Ok(Placement::Next));
        assert_eq!(place(Version(3), Version(1)), Ok(Placement::Gap));
        assert_eq!(place(Version(1), Version(1)), Ok(Placement::Old));
    }

    #[test]
    fn failed_set_changes_nothing_and_undo_restores() {
        let mut dir = Directory::new(Domain::parse("example.org").unwrap());
        dir.apply(&Op::PutSite(site("msk"))).unwrap();
        let before = dir.clone();
        // The second op refers to a site that does not exist: the whole set fails.
        let err = apply_ops(&mut dir, &[Op::PutUser(user("ivan", "msk")), Op::PutUser(user("petr", "spb"))]);
        assert!(err.is_err());
        assert_eq!(dir, before);

        let (writes, undo) = apply_ops(
            &mut dir,
            &[Op::PutUser(user("ivan", "msk")), Op::DeleteUser { name: LocalPart::parse("ivan").unwrap() }],
        )
        .unwrap();
        assert_eq!(writes.len(), 1, "one row per touched record");
        assert_eq!(writes[0].body, None, "the user was deleted in the end");
        undo.revert(&mut dir);
        assert_eq!(dir, before);
    }
}
