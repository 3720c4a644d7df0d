//! The mailbox moves agents report with their traffic stats (`POST /api/v1/sync/stats`), for
//! the dashboard. Kept in memory: agents resend them with every report, and at once when a move
//! starts or ends.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pochta_directory::api::MoveProgress;

/// The moves each agent last reported (by agent id, with its site).
#[derive(Debug, Default)]
pub struct MoveBoard(Mutex<BTreeMap<String, (String, Vec<MoveProgress>)>>);

impl MoveBoard {
    /// Replaces what `agent` (of `site`) last reported about its mailbox moves.
    pub fn put(&self, agent: &str, site: &str, moves: Vec<MoveProgress>) {
        let mut all = self.0.lock().expect("the moves lock is never poisoned");
        if moves.is_empty() {
            all.remove(agent);
        } else {
            all.insert(agent.to_owned(), (site.to_owned(), moves));
        }
    }

    /// Every move in progress with its agent's site, by agent.
    pub fn all(&self) -> Vec<(String, MoveProgress)> {
        let all = self.0.lock().expect("the moves lock is never poisoned");
        all.values().flat_map(|(site, m)| m.iter().map(move |m| (site.clone(), m.clone()))).collect()
    }
}
