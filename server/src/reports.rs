//! What agents last reported about their site with their traffic stats: the endpoints mail
//! clients connect to, and the size of each mailbox.
//!
//! Kept in the database *and* in memory. In the database, because agents send `services` only
//! when it changes and `mailbox_sizes` only for mailboxes whose size changed: a server that
//! forgot them at a restart would show "not reported" until every agent restarted. In memory
//! (written through, loaded once at start), because the users page sorts 100,000 users by
//! usage and must not read a table to do it, and the moves board next door works the same way.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use pochta_directory::api::ClientServices;
use pochta_directory::{Directory, LocalPart, SiteId, User};

use crate::db::{self, DbError};

#[derive(Debug, Default)]
struct Inner {
    /// By agent id: its site and what it offers.
    services: BTreeMap<String, (String, ClientServices)>,
    /// By folded user name: the last size each site reported for his mailbox there.
    sizes: HashMap<String, Vec<(String, u64)>>,
}

#[derive(Debug, Default)]
pub struct AgentReports(RwLock<Inner>);

impl AgentReports {
    /// Reads what was stored before the restart.
    pub async fn load(pool: &sqlx::AnyPool) -> Result<AgentReports, DbError> {
        let mut inner = Inner::default();
        for (agent, site, s) in db::reports::services(pool).await? {
            inner.services.insert(agent, (site, s));
        }
        for (name, site, bytes) in db::reports::sizes(pool).await? {
            inner.sizes.entry(name).or_default().push((site, bytes));
        }
        Ok(AgentReports(RwLock::new(inner)))
    }

    /// Records one report of `agent` at `site`: its services when it sent them (none: keep the
    /// last), and the sizes it sent for mailboxes of users the directory has (an agent may still
    /// hold the Maildir of a deleted user; that is not anybody's usage). Only sizes that differ
    /// from the stored ones are written, so the full list after an agent's start costs one pass.
    pub async fn record(
        &self,
        pool: &sqlx::AnyPool,
        dir: &Directory,
        agent: &str,
        site: &str,
        services: Option<ClientServices>,
        sizes: &BTreeMap<String, u64>,
    ) -> Result<(), DbError> {
        let changed: Vec<(&str, u64)> = {
            let inner = self.read();
            sizes
                .iter()
                .filter(|(name, _)| LocalPart::parse(name).is_ok_and(|n| dir.user(&n).is_some()))
                .filter(|(name, bytes)| {
                    let known =
                        inner.sizes.get(name.as_str()).and_then(|v| v.iter().find(|(s, _)| s == site));
                    known.is_none_or(|(_, b)| b != *bytes)
                })
                .map(|(name, bytes)| (name.as_str(), *bytes))
                .collect()
        };
        db::reports::put_sizes(pool, site, &changed).await?;
        if let Some(s) = &services {
            db::reports::put_services(pool, agent, site, s).await?;
        }
        let mut inner = self.0.write().expect("the reports lock is never poisoned");
        for (name, bytes) in changed {
            let per_site = inner.sizes.entry(name.to_owned()).or_default();
            match per_site.iter_mut().find(|(s, _)| s == site) {
                Some(entry) => entry.1 = bytes,
                None => per_site.push((site.to_owned(), bytes)),
            }
        }
        if let Some(s) = services {
            inner.services.insert(agent.to_owned(), (site.to_owned(), s));
        }
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.0.read().expect("the reports lock is never poisoned")
    }

    /// A view for one page: one lock for every user on it.
    pub fn usage(&self) -> Usage<'_> {
        Usage(self.read())
    }

    /// What the agents of `site` that are still enrolled offer mail clients, without repeats;
    /// empty when none has said.
    pub fn services_at(&self, dir: &Directory, site: &SiteId) -> Vec<ClientServices> {
        let Some(s) = dir.site(site) else { return vec![] };
        let inner = self.read();
        let mut out: Vec<ClientServices> = Vec::new();
        for a in &s.agents {
            if let Some((_, services)) = inner.services.get(&a.id)
                && *services != ClientServices::default()
                && !out.contains(services)
            {
                out.push(services.clone());
            }
        }
        out
    }
}

/// Mailbox sizes under one read lock.
pub struct Usage<'a>(std::sync::RwLockReadGuard<'a, Inner>);

impl Usage<'_> {
    /// Bytes in a user's mailbox as his home site last reported; `None`: not reported yet.
    pub fn of(&self, u: &User) -> Option<u64> {
        let per_site = self.0.sizes.get(u.name.folded())?;
        per_site.iter().find(|(s, _)| s == u.site.as_str()).map(|(_, b)| *b)
    }
}
