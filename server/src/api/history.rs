//! The change log read back as the audit log: who changed what, when.

use axum::Router;
use axum::extract::Path;
use axum::extract::State;
use axum::routing::{get, post};
use pochta_directory::wire::Version;
use serde::{Deserialize, Serialize};

use super::{Json, Query};
use crate::audit::Kind;
use crate::auth::Admin;
use crate::db::{
    self,
    changelog::{Filter, HistoryItem},
};
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/changes", get(history))
        .route("/changes/{version}/revert", post(revert))
        .route("/version", get(version))
}

#[derive(Deserialize)]
struct HistoryQuery {
    q: Option<String>,
    author: Option<String>,
    object: Option<String>,
    site: Option<String>,
    kind: Option<String>,
    /// Unix seconds.
    since: Option<i64>,
    until: Option<i64>,
    before: Option<u64>,
    limit: Option<i64>,
}

async fn history(
    admin: Admin,
    State(st): State<AppState>,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<HistoryItem>>, ApiError> {
    admin.scope().need_domain()?;
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let given = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let kind = match given(q.kind) {
        None => None,
        Some(k) => Some(Kind::parse(&k).ok_or_else(|| {
            ApiError::bad_request(format!("kind '{k}' is none of {}", Kind::ALL.map(Kind::as_str).join(", ")))
                .field("kind")
        })?),
    };
    let filter = Filter {
        text: given(q.q),
        author: given(q.author),
        object: given(q.object),
        site: given(q.site),
        kind,
        since: q.since,
        until: q.until,
    };
    Ok(Json(db::changelog::history(&st.db.pool, &filter, q.before.map(Version), limit).await?))
}

#[derive(Serialize)]
struct Reverted {
    /// The new change set that undid `reverts`.
    version: u64,
    reverts: u64,
}

/// Undoes one change set as a new one; 409 with the reason when it cannot be (later changes to
/// the same records, DKIM keys, a set older than the log's prior records).
async fn revert(
    admin: Admin,
    State(st): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<Reverted>, ApiError> {
    let version: u64 =
        version.parse().map_err(|_| ApiError::not_found(format!("there is no version '{version}'")))?;
    let new = manage::history::revert(&st, &admin.0, version).await?;
    Ok(Json(Reverted { version: new.0, reverts: version }))
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
