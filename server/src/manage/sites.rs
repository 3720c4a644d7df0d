//! Sites: create, edit, delete, enrollment codes for their agents, and MX priorities.

use std::collections::HashMap;
use std::sync::Arc;

use pochta_directory::api::EnrollmentCode;
use pochta_directory::wire::Version;
use pochta_directory::{Directory, Level, Op, Site, SiteId};

use super::parse_field;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub fn find<'a>(dir: &'a Directory, id: &str) -> Result<&'a Site, ApiError> {
    let id = parse_field("site", "site", "err-site-id", SiteId::parse(id))?;
    dir.site(&id).ok_or_else(|| {
        ApiError::not_found(format!("there is no site '{id}'")).key("err-no-such-site").arg("site", &id)
    })
}

pub fn parse_level(level: &str) -> Result<Level, ApiError> {
    level.trim().parse::<u8>().ok().and_then(|l| Level::try_from(l).ok()).ok_or_else(|| {
        ApiError::bad_request(format!("level: '{}' is not a server level (0, 1 or 2)", level.trim()))
            .key("err-level")
            .arg("level", level.trim())
            .field("level")
    })
}

/// A site's human name: not empty, one line, at most 200 characters.
fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.contains(['\n', '\r']) {
        return Err(ApiError::bad_request("name: give the site a name of one line, at most 200 characters")
            .key("err-site-name")
            .field("name"));
    }
    Ok(name.to_owned())
}

/// MX preferences as in the paper: level 0 first; level-1 sites after them, the one with the
/// most active users first; level 2 is not an MX.
pub fn mx_priorities(dir: &Directory) -> Vec<(SiteId, u16)> {
    SiteSummary::of(dir, 0).mx
}

fn mx_from(dir: &Directory, active: impl Fn(&SiteId) -> usize) -> Vec<(SiteId, u16)> {
    let mut zero: Vec<_> =
        dir.sites.values().filter(|s| s.level == Level::Zero).map(|s| s.id.clone()).collect();
    let mut one: Vec<_> =
        dir.sites.values().filter(|s| s.level == Level::One).map(|s| (active(&s.id), s.id.clone())).collect();
    zero.sort();
    one.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let ordered = zero.into_iter().chain(one.into_iter().map(|(_, id)| id));
    ordered.enumerate().map(|(i, id)| (id, 10 * (i as u16 + 1))).collect()
}

/// Per-site user counts and MX priorities of one directory version: one pass over every user
/// (milliseconds with 100,000), so pages keep one per version in a [`SiteSummaries`].
#[derive(Debug)]
pub struct SiteSummary {
    pub version: u64,
    /// (users, active users) per site; sites without users are absent.
    counts: HashMap<SiteId, (usize, usize)>,
    pub mx: Vec<(SiteId, u16)>,
}

impl SiteSummary {
    pub fn of(dir: &Directory, version: u64) -> SiteSummary {
        let mut by_site: HashMap<&SiteId, (usize, usize)> = HashMap::with_capacity(dir.sites.len());
        for u in dir.users.values() {
            let e = by_site.entry(&u.site).or_default();
            e.0 += 1;
            e.1 += usize::from(u.enabled);
        }
        let counts: HashMap<SiteId, (usize, usize)> =
            by_site.into_iter().map(|(id, c)| (id.clone(), c)).collect();
        let mx = mx_from(dir, |id| counts.get(id).map_or(0, |c| c.1));
        SiteSummary { version, counts, mx }
    }

    /// (users, active users) at `site`.
    pub fn users(&self, site: &SiteId) -> (usize, usize) {
        self.counts.get(site).copied().unwrap_or_default()
    }

    /// The site's MX preference; `None` when it is not an MX (level 2).
    pub fn mx_of(&self, site: &SiteId) -> Option<u16> {
        self.mx.iter().find(|(id, _)| id == site).map(|(_, p)| *p)
    }
}

/// The [`SiteSummary`] of the newest directory version asked for; recomputed only when the
/// version moves.
#[derive(Debug, Default)]
pub struct SiteSummaries(std::sync::Mutex<Option<Arc<SiteSummary>>>);

impl SiteSummaries {
    /// The summary of `dir`, which must be the directory at `version` (as `Publisher::current`
    /// returns them). Computed outside the lock; a slower reader of an older version never
    /// replaces a newer summary.
    pub fn get(&self, dir: &Directory, version: u64) -> Arc<SiteSummary> {
        if let Some(s) = self.0.lock().expect("not poisoned").as_ref().filter(|s| s.version == version) {
            return s.clone();
        }
        let fresh = Arc::new(SiteSummary::of(dir, version));
        let mut slot = self.0.lock().expect("not poisoned");
        if slot.as_ref().is_none_or(|s| s.version < version) {
            *slot = Some(fresh.clone());
        }
        fresh
    }
}

pub struct NewSite {
    pub id: String,
    pub name: String,
    pub level: Level,
}

pub async fn create(st: &AppState, author: &str, new: NewSite) -> Result<(SiteId, Version), ApiError> {
    let id = parse_field("id", "id", "err-site-id", SiteId::parse(&new.id))
        .map_err(|e| e.arg("id", new.id.trim()))?;
    let name = check_name(&new.name)?;
    let site = Site { id: id.clone(), name, level: new.level, agents: vec![] };
    let v = st
        .publisher
        .edit::<ApiError>(author, |dir| {
            if dir.site(&id).is_some() {
                return Err(ApiError::conflict(format!("site '{id}' already exists"))
                    .key("err-site-exists")
                    .arg("site", &id)
                    .field("id"));
            }
            Ok(vec![Op::PutSite(site)])
        })
        .await?;
    Ok((id, v))
}

#[derive(Default)]
pub struct SitePatch {
    pub name: Option<String>,
    pub level: Option<Level>,
}

pub async fn update(st: &AppState, author: &str, id: &str, patch: SitePatch) -> Result<Version, ApiError> {
    let name = patch.name.as_deref().map(check_name).transpose()?;
    let v = st
        .publisher
        .edit::<ApiError>(author, |dir| {
            let old = find(dir, id)?;
            let mut s = old.clone();
            if let Some(n) = name {
                s.name = n;
            }
            if let Some(l) = patch.level {
                s.level = l;
            }
            Ok(if &s == old { vec![] } else { vec![Op::PutSite(s)] })
        })
        .await?;
    Ok(v)
}

/// Deletes an empty site and forgets its agents.
pub async fn delete(st: &AppState, author: &str, id: &str) -> Result<Version, ApiError> {
    let mut edit = st.publisher.begin().await?;
    let site = find(edit.directory(), id)?.clone();
    for a in &site.agents {
        db::auth::delete_agent(&mut edit.tx, &a.id).await?;
    }
    let v = edit.commit(author, vec![Op::DeleteSite { id: site.id.clone() }]).await?;
    for a in &site.agents {
        st.pusher.forget(&a.id);
    }
    Ok(v)
}

/// A one-time enrollment code for a new agent of the site, and when it expires.
pub async fn enrollment(st: &AppState, id: &str) -> Result<(SiteId, String, i64), ApiError> {
    let (dir, _) = st.publisher.current();
    let site = find(&dir, id)?;
    let (token, expires_at) =
        db::auth::create_enrollment(&st.db.pool, site.id.as_str(), st.config.enrollment_ttl_secs).await?;
    let code =
        EnrollmentCode { server: st.public_url.to_string(), tls_sha256: st.tls_sha256.to_string(), token };
    Ok((site.id.clone(), code.encode(), expires_at))
}
