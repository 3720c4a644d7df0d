//! What agents report with their traffic stats (`POST /api/v1/sync/stats`) that the dashboard
//! shows as it is now: mailbox moves in progress and warnings (a scanner out). Kept in memory:
//! agents resend them with every report while they last, and a report without them ends them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pochta_directory::api::{AgentFacts, AgentWarning, MoveProgress};

/// What each agent last reported (by agent id, with its site).
#[derive(Debug)]
pub struct Board<T>(Mutex<BTreeMap<String, (String, Vec<T>)>>);

impl<T> Default for Board<T> {
    fn default() -> Self {
        Self(Mutex::new(BTreeMap::new()))
    }
}

/// Mailbox moves in progress, by the agent of the site they leave.
pub type MoveBoard = Board<MoveProgress>;

/// Warnings agents report, by agent.
pub type WarningBoard = Board<AgentWarning>;

/// What agents say about themselves (version, free disk), by agent: kept until the next facts
/// (a report without them changes nothing); sent hourly.
pub type FactsBoard = Board<AgentFacts>;

impl<T: Clone> Board<T> {
    /// Replaces what `agent` (of `site`) last reported.
    pub fn put(&self, agent: &str, site: &str, items: Vec<T>) {
        let mut all = self.0.lock().expect("the board's lock is never poisoned");
        if items.is_empty() {
            all.remove(agent);
        } else {
            all.insert(agent.to_owned(), (site.to_owned(), items));
        }
    }

    /// Every item with its agent's site, by agent.
    pub fn all(&self) -> Vec<(String, T)> {
        let all = self.0.lock().expect("the board's lock is never poisoned");
        all.values().flat_map(|(site, m)| m.iter().map(move |m| (site.clone(), m.clone()))).collect()
    }

    /// Every item with its agent's id and site.
    pub fn by_agent(&self) -> Vec<(String, String, T)> {
        let all = self.0.lock().expect("the board's lock is never poisoned");
        all.iter()
            .flat_map(|(agent, (site, m))| m.iter().map(move |m| (agent.clone(), site.clone(), m.clone())))
            .collect()
    }
}
