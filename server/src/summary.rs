//! Per-site user counts and MX priorities, one per directory version: what the dashboard, the
//! sites and DNS pages and `/api/v1/sites` show beside the directory. Derived from the directory
//! alone, so the edit layer, the JSON API and the web pages can all read it.

use std::collections::HashMap;
use std::sync::Arc;

use pochta_directory::{Directory, Level, SiteId};

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
