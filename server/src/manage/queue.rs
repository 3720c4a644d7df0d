//! The mail queues of the agents, for administrators: the server asks an agent, the agent
//! acts on and answers from its own queue (`POST /queue` on the agent, signed with the
//! server's key so no other agent can ask). An agent without a URL (it pulls its changes,
//! typically behind NAT) cannot be asked; the page says so and how to reach it at the site.

use super::scope::{Actor, Scope};
use std::time::Duration;

use pochta_directory::api::{QueueAction, QueueAnswer, QueueRequest, SIGNATURE_HEADER, path};

use crate::db::{self, auth::AgentRow};
use crate::error::ApiError;
use crate::state::AppState;

/// Ids in one action at most (a page's worth).
pub const MAX_IDS: usize = pochta_directory::api::QUEUE_PAGE;

/// What one agent's queue looks like from here.
pub enum Reach {
    Answer(QueueAnswer),
    /// The agent has no URL: it pulls, nothing can connect to it.
    Pulls,
    /// It did not answer, or refused: why.
    Failed(String),
}

pub struct AgentQueue {
    pub agent: AgentRow,
    pub reach: Reach,
}

/// Asks `agent` for its queue (matching `search`), acting on `ids` first if `action` is given.
pub async fn ask(
    st: &AppState,
    agent: &AgentRow,
    search: &str,
    action: Option<(QueueAction, Vec<String>)>,
) -> Reach {
    if agent.url.is_empty() {
        return Reach::Pulls;
    }
    let (action, ids) = action.map_or((None, vec![]), |(a, ids)| (Some(a), ids));
    let req = QueueRequest {
        agent: agent.id.clone(),
        at: db::now(),
        search: search.trim().to_owned(),
        action,
        ids,
    };
    let body = serde_json::to_vec(&req).expect("serialises");
    let signature = st.publisher.sign_request(&body);
    let client = match pochta_transport::pinned_client(&agent.tls_sha256) {
        Ok(c) => c,
        Err(e) => return Reach::Failed(e.to_string()),
    };
    let sent = client
        .post(format!("{}{}", agent.url, path::QUEUE))
        .header(SIGNATURE_HEADER, signature)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return Reach::Failed(format!("cannot reach {}: {e}", agent.url)),
    };
    let status = resp.status();
    let bytes = resp.bytes().await.unwrap_or_default();
    if !status.is_success() {
        let why = serde_json::from_slice::<pochta_directory::api::ErrorBody>(&bytes)
            .map_or_else(|_| status.to_string(), |e| e.error);
        return Reach::Failed(format!("{status}: {why}"));
    }
    serde_json::from_slice(&bytes).map_or_else(|e| Reach::Failed(format!("a bad answer: {e}")), Reach::Answer)
}

/// Every agent of `site` with its queue, all asked at once (a slow agent does not add up).
pub async fn of_site(
    st: &AppState,
    scope: &Scope,
    site: &str,
    search: &str,
) -> Result<Vec<AgentQueue>, ApiError> {
    if let Ok(id) = pochta_directory::SiteId::parse(site) {
        scope.need_site(&id)?;
    }
    let agents: Vec<AgentRow> =
        db::auth::agents(&st.db.pool).await?.into_iter().filter(|a| a.site == site).collect();
    let asks: Vec<_> = agents
        .iter()
        .map(|a| {
            let (st, a, search) = (st.clone(), a.clone(), search.to_owned());
            tokio::spawn(async move { ask(&st, &a, &search, None).await })
        })
        .collect();
    let mut out = Vec::with_capacity(agents.len());
    for (agent, task) in agents.into_iter().zip(asks) {
        let reach = task.await.unwrap_or_else(|e| Reach::Failed(e.to_string()));
        out.push(AgentQueue { agent, reach });
    }
    Ok(out)
}

/// The agent `id`, or 404 (also when it serves a site outside `scope`).
pub async fn agent(st: &AppState, scope: &Scope, id: &str) -> Result<AgentRow, ApiError> {
    let ours = |a: &AgentRow| pochta_directory::SiteId::parse(&a.site).is_ok_and(|s| scope.covers(&s));
    db::auth::agents(&st.db.pool).await?.into_iter().find(|a| a.id == id && ours(a)).ok_or_else(|| {
        ApiError::not_found(format!("there is no agent '{id}'")).key("err-no-such-agent").arg("agent", id)
    })
}

/// Acts on letters in one agent's queue and returns its queue after the request.
pub async fn act(
    st: &AppState,
    by: &Actor,
    agent_id: &str,
    action: QueueAction,
    ids: Vec<String>,
) -> Result<QueueAnswer, ApiError> {
    if ids.is_empty() {
        return Err(ApiError::bad_request("choose at least one letter").key("err-queue-none-chosen"));
    }
    if ids.len() > MAX_IDS {
        return Err(ApiError::bad_request(format!("at most {MAX_IDS} letters at once"))
            .key("err-queue-too-many")
            .arg("max", MAX_IDS));
    }
    let agent = agent(st, &by.scope, agent_id).await?;
    match ask(st, &agent, "", Some((action, ids.clone()))).await {
        Reach::Answer(a) => {
            tracing::info!(author = %by.name, agent = %agent.id, ?action, ids = ?a.acted, gone = ?a.gone, "queue action");
            Ok(a)
        }
        Reach::Pulls => Err(pulls(&agent)),
        Reach::Failed(why) => Err(unreachable(&agent, &why)),
    }
}

pub fn pulls(agent: &AgentRow) -> ApiError {
    ApiError::conflict(format!(
        "agent {} pulls its changes and cannot be reached from the server; use `pochta-agent queue` at its site",
        agent.id
    ))
    .key("err-queue-pulls")
    .arg("agent", &agent.id)
}

pub fn unreachable(agent: &AgentRow, why: &str) -> ApiError {
    ApiError::new(axum::http::StatusCode::BAD_GATEWAY, format!("agent {} did not answer: {why}", agent.id))
        .key("err-queue-unreachable")
        .arg("agent", &agent.id)
        .arg("reason", why)
}
