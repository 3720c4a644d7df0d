//! API tokens, made by an administrator with his password.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::Json;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/tokens", post(create))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    admin: String,
    password: String,
    /// A label for the audit log, e.g. "provisioning script".
    #[serde(default)]
    name: String,
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
}

async fn create(
    State(st): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let denied = || ApiError::new(StatusCode::UNAUTHORIZED, "wrong administrator name or password");
    let hash = db::auth::admin_password(&st.db.pool, &req.admin).await?.ok_or_else(denied)?;
    if !st.verify_password(hash, req.password).await {
        return Err(denied());
    }
    let label = if req.name.trim().is_empty() {
        req.admin.clone()
    } else {
        format!("{} ({})", req.admin, req.name.trim())
    };
    let token = db::auth::create_token(&st.db.pool, &label, &req.admin).await?;
    Ok((StatusCode::CREATED, Json(TokenResponse { token })))
}
