//! The domain's settings (`GET`, `PUT /settings`).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pochta_directory::DomainSettings;
use serde::Deserialize;

use super::Json;
use crate::auth::Admin;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/settings", get(show).put(update))
}

async fn show(_: Admin, State(st): State<AppState>) -> Json<DomainSettings> {
    Json(st.publisher.current().0.settings.clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    unicode_names: bool,
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<SettingsBody>,
) -> Result<Json<DomainSettings>, ApiError> {
    crate::manage::settings::set_unicode_names(&st, &admin.0, body.unicode_names).await?;
    Ok(show(admin, State(st)).await)
}
