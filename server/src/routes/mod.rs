//! HTTP routes. `/api/v1` is the JSON API (tokens for people and automation, agent secrets for
//! the sync endpoints). Each module returns its `Router<AppState>`.

mod agents;
mod groups;
mod history;
pub mod sites;
mod sync;
mod tokens;
mod users;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;

use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(sites::router())
        .merge(users::router())
        .merge(groups::router())
        .merge(agents::router())
        .merge(sync::router())
        .merge(history::router())
        .merge(tokens::router())
        .layer(DefaultBodyLimit::max(1 << 20));
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// Parses a path or body field into a newtype, or answers 422 with the parser's message.
pub(crate) fn parse<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Result<T, crate::error::ApiError> {
    r.map_err(|e| crate::error::ApiError::bad_request(format!("{what}: {e}")))
}
