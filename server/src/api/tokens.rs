//! API tokens, made by an administrator with their password, and the code from the app when
//! they have two-factor login on. Wrong tries count against the same per-account and
//! per-client limits as the login page's.

use axum::Router;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::Json;
use crate::db;
use crate::error::ApiError;
use crate::manage::two_factor;
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
    /// The code from the authenticator app (or a recovery code), for administrators with
    /// two-factor login on.
    #[serde(default)]
    code: String,
}

/// The client's address, when the server was started with it (always, outside unit tests).
struct Client(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

#[derive(Serialize)]
struct TokenResponse {
    token: String,
}

async fn create(
    State(st): State<AppState>,
    Client(client): Client,
    Json(req): Json<TokenRequest>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let now = db::now();
    if let Some(wait) = st.web.limiter.wait(&req.admin, client, now) {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed tries; wait {secs} s"),
        )
        .key("login-too-many-seconds")
        .arg("seconds", secs));
    }
    let failed = || {
        st.web.limiter.failed(&req.admin, client, now);
        ApiError::new(StatusCode::UNAUTHORIZED, "wrong administrator name or password")
    };
    let Some(hash) = db::auth::admin_password(&st.db.pool, &req.admin).await? else { return Err(failed()) };
    if !st.verify_password(hash, req.password).await {
        return Err(failed());
    }
    if db::auth::admin_must_change_password(&st.db.pool, &req.admin).await? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this administrator must first choose a new password in the web application",
        )
        .key("err-admin-must-change"));
    }
    if two_factor::is_on(&st, &req.admin).await? {
        if req.code.trim().is_empty() {
            // Not a wrong try: the client did not know a code is needed.
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this administrator has two-factor login on: send the code from the app as \"code\"",
            )
            .key("err-totp-needed"));
        }
        match two_factor::verify(&st, &req.admin, &req.code).await {
            Ok(_) => {}
            Err(e) if e.status.is_server_error() => return Err(e),
            Err(_) => {
                st.web.limiter.failed(&req.admin, client, now);
                return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong or already used code")
                    .key("err-totp-code"));
            }
        }
    }
    st.web.limiter.succeeded(&req.admin, client);
    let label = if req.name.trim().is_empty() {
        req.admin.clone()
    } else {
        format!("{} ({})", req.admin, req.name.trim())
    };
    let token = db::auth::create_token(&st.db.pool, &label, &req.admin).await?;
    Ok((StatusCode::CREATED, Json(TokenResponse { token })))
}
