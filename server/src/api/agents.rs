//! Agent enrollment and the server's view of every agent.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use pochta_directory::api::{EnrollRequest, EnrollResponse, path};
use pochta_directory::api::{QueueAction, QueueAnswer};
use serde::{Deserialize, Serialize};

use super::{Json, Path, Query};
use crate::auth::Admin;
use crate::db::{self, auth::AgentRow};
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;
use pochta_directory::SiteId;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list))
        .route(path::ENROLL, post(enroll))
        .route("/agents/{id}", delete(remove))
        .route("/agents/{id}/queue", get(queue).post(queue_action))
}

/// Redeems a one-time token (`manage::agents::enroll`). The token is the only credential here.
async fn enroll(
    State(st): State<AppState>,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    Ok(Json(manage::agents::enroll(&st, req).await?))
}

#[derive(Serialize)]
struct AgentStatus {
    #[serde(flatten)]
    agent: AgentRow,
    /// Change sets the agent is behind the server.
    lag: u64,
    /// Seconds since the server last heard from it.
    silent_secs: Option<i64>,
}

async fn list(admin: Admin, State(st): State<AppState>) -> Result<Json<Vec<AgentStatus>>, ApiError> {
    let head = st.publisher.version().0;
    let now = db::now();
    let ours = |a: &db::auth::AgentRow| SiteId::parse(&a.site).is_ok_and(|s| admin.scope().covers(&s));
    let agents: Vec<_> = db::auth::agents(&st.db.pool).await?.into_iter().filter(ours).collect();
    Ok(Json(
        agents
            .into_iter()
            .map(|a| AgentStatus {
                lag: head.saturating_sub(a.applied),
                silent_secs: a.last_seen.map(|t| now - t),
                agent: a,
            })
            .collect(),
    ))
}

/// Forgets an agent: it can no longer pull, and its endpoint leaves the directory.
async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    manage::agents::remove(&st, &admin.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct QueueQuery {
    #[serde(default)]
    search: String,
}

/// The agent's mail queue, as the agent answers it (oldest first, at most 200 letters).
async fn queue(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueueAnswer>, ApiError> {
    let agent = manage::queue::agent(&st, admin.scope(), &id).await?;
    match manage::queue::ask(&st, &agent, &q.search, None).await {
        manage::queue::Reach::Answer(a) => Ok(Json(a)),
        manage::queue::Reach::Pulls => Err(manage::queue::pulls(&agent)),
        manage::queue::Reach::Failed(why) => Err(manage::queue::unreachable(&agent, &why)),
    }
}

#[derive(Deserialize)]
struct QueueActionBody {
    action: QueueAction,
    ids: Vec<String>,
}

/// Retries, bounces or deletes letters in the agent's queue; answers the queue after.
async fn queue_action(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<QueueActionBody>,
) -> Result<Json<QueueAnswer>, ApiError> {
    Ok(Json(manage::queue::act(&st, &admin.0, &id, body.action, body.ids).await?))
}
