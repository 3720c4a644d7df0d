//! How the pages show an agent: applied version, lag, last contact and whether it is stale
//! (the dashboard and a site's page).

use crate::db::auth::AgentRow;

/// An agent not heard from for this long is shown as stale. Pushed agents check in hourly,
/// pulling agents hold a long poll of up to 30 minutes.
pub const STALE_SECS: i64 = 2 * 3600;
/// An agent behind the server and silent for this long is stale too.
pub const LAGGING_STALE_SECS: i64 = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    InSync,
    CatchingUp,
    Stale,
    Never,
}

pub struct AgentView {
    pub id: String,
    pub site: String,
    pub url: String,
    pub applied: u64,
    pub lag: u64,
    pub last_seen: Option<i64>,
    pub silent_secs: i64,
    pub state: AgentState,
}

impl AgentView {
    pub fn state_key(&self) -> &'static str {
        match self.state {
            AgentState::InSync => "agent-in-sync",
            AgentState::CatchingUp => "agent-catching-up",
            AgentState::Stale => "agent-stale",
            AgentState::Never => "agent-never",
        }
    }
    pub fn state_class(&self) -> &'static str {
        match self.state {
            AgentState::InSync => "ok",
            AgentState::CatchingUp => "warn",
            AgentState::Stale | AgentState::Never => "bad",
        }
    }
    pub fn pulls(&self) -> bool {
        self.url.is_empty()
    }
}

pub fn agent_views(agents: Vec<AgentRow>, head: u64, now: i64) -> Vec<AgentView> {
    agents
        .into_iter()
        .map(|a| {
            let lag = head.saturating_sub(a.applied);
            let silent = a.last_seen.map_or(i64::MAX, |t| (now - t).max(0));
            let state = match a.last_seen {
                None => AgentState::Never,
                Some(_) if silent > STALE_SECS || (lag > 0 && silent > LAGGING_STALE_SECS) => {
                    AgentState::Stale
                }
                Some(_) if lag > 0 => AgentState::CatchingUp,
                Some(_) => AgentState::InSync,
            };
            AgentView {
                id: a.id,
                site: a.site,
                url: a.url,
                applied: a.applied,
                lag,
                last_seen: a.last_seen,
                silent_secs: silent,
                state,
            }
        })
        .collect()
}
