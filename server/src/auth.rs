//! Who is calling: an API token (administrators, automation) or an enrolled agent.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::db;
use crate::error::ApiError;
use crate::manage::scope::{Actor, Scope};
use crate::state::AppState;

fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::trim).filter(|t| !t.is_empty())
}

/// A caller holding a valid API token: what the change log records (the token's name) and
/// what its administrator may touch.
pub struct Admin(pub Actor);

impl Admin {
    pub fn scope(&self) -> &Scope {
        &self.0.scope
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        let (name, sites) =
            db::auth::token_owner(&state.db.pool, token).await?.ok_or_else(ApiError::unauthorized)?;
        Ok(Admin(Actor { name, scope: Scope::from_stored(&sites) }))
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
