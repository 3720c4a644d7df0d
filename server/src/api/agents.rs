//! Agent enrollment and the server's view of every agent.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use pochta_directory::api::{EnrollRequest, EnrollResponse, path};
use serde::Serialize;

use super::{Json, Path};
use crate::auth::Admin;
use crate::db::{self, auth::AgentRow};
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/agents", get(list))
        .route(path::ENROLL, post(enroll))
        .route("/agents/{id}", delete(remove))
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

async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<Vec<AgentStatus>>, ApiError> {
    let head = st.publisher.version().0;
    let now = db::now();
    let agents = db::auth::agents(&st.db.pool).await?;
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
    manage::agents::remove(&st, &admin.author, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
