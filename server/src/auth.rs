//! Who is calling: an API token (administrators, automation) or an enrolled agent.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// A caller holding a valid API token. `author` is what the change log records.
pub struct Admin {
    pub author: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let name = db::auth::token_name(&state.db.pool, token).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Admin { author: name })
    }
}

/// An enrolled agent, by its secret.
pub struct Agent(pub db::auth::AgentRow);

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let secret = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let agent =
            db::auth::agent_by_secret(&state.db.pool, secret).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Agent(agent))
    }
}
