//! The domain's DKIM keys: list, create (pending), activate (the rotation), retire, delete.
//! Answers never carry a private key. The rules live in `manage::dkim`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Json, Path};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::manage::dkim::{self, KeyView};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/dkim", get(list).post(create))
        .route("/dkim/{selector}", get(show).delete(remove))
        .route("/dkim/{selector}/activate", post(activate))
        .route("/dkim/{selector}/retire", post(retire))
}

async fn list(_: Admin, State(st): State<AppState>) -> Json<Vec<KeyView>> {
    Json(dkim::list(&st.publisher.current().0))
}

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(selector): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let (dir, _) = st.publisher.current();
    Ok(Json(KeyView::from(dkim::find(&dir, &selector)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    /// `rsa` (default) or `ed25519`.
    #[serde(default)]
    algorithm: String,
    /// Empty: `pochta-YYYYMM`.
    #[serde(default)]
    selector: String,
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let algorithm = dkim::parse_algorithm(&body.algorithm)?;
    let (selector, _) = dkim::create(&st, &admin.0, algorithm, &body.selector).await?;
    let Json(view) = show(admin, State(st), Path(selector.to_string())).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn activate(
    admin: Admin,
    State(st): State<AppState>,
    Path(selector): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    dkim::activate(&st, &admin.0, &selector).await?;
    show(admin, State(st), Path(selector)).await
}

async fn retire(
    admin: Admin,
    State(st): State<AppState>,
    Path(selector): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    dkim::retire(&st, &admin.0, &selector).await?;
    show(admin, State(st), Path(selector)).await
}

async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(selector): Path<String>,
) -> Result<StatusCode, ApiError> {
    dkim::delete(&st, &admin.0, &selector).await?;
    Ok(StatusCode::NO_CONTENT)
}
