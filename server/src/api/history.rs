//! The change log read back as the audit log: who changed what, when.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pochta_directory::wire::Version;
use serde::{Deserialize, Serialize};

use super::{Json, Query};
use crate::auth::Admin;
use crate::db::{self, changelog::HistoryItem};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/changes", get(history)).route("/version", get(version))
}

#[derive(Deserialize)]
struct HistoryQuery {
    q: Option<String>,
    before: Option<u64>,
    limit: Option<i64>,
}

async fn history(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<HistoryItem>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let query = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    Ok(Json(db::changelog::history(&st.db.pool, query, q.before.map(Version), limit).await?))
}

#[derive(Serialize)]
struct VersionView {
    version: u64,
    deployment: String,
    domain: String,
    verify_key: String,
}

async fn version(_: Admin, State(st): State<AppState>) -> Json<VersionView> {
    let (dir, v) = st.publisher.current();
    Json(VersionView {
        version: v.0,
        deployment: st.publisher.deployment.to_hex(),
        domain: dir.domain.to_string(),
        verify_key: st.publisher.verifier().to_hex(),
    })
}
