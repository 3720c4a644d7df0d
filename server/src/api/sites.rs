//! Sites: create, edit, delete, and enrollment codes for their agents.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use pochta_directory::{Directory, Level, Site};
use serde::{Deserialize, Serialize};

use super::{Json, Path};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;
use crate::summary::SiteSummary;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sites", get(list).post(create))
        .route("/sites/{id}", get(show).patch(update).delete(remove))
        .route("/sites/{id}/enrollment", post(enrollment))
}

#[derive(Serialize)]
struct SiteView {
    #[serde(flatten)]
    site: Site,
    domain: String,
    users: usize,
    active_users: usize,
    /// MX preference for the domain, or none for level 2 (not an MX).
    mx_priority: Option<u16>,
}

pub use crate::summary::mx_priorities;

fn view(dir: &Directory, summary: &SiteSummary, s: &Site) -> SiteView {
    let (users, active_users) = summary.users(&s.id);
    SiteView {
        site: s.clone(),
        domain: dir.site_domain(&s.id).to_string(),
        users,
        active_users,
        mx_priority: summary.mx_of(&s.id),
    }
}

async fn list(_: Admin, State(st): State<AppState>) -> Json<Vec<SiteView>> {
    let (dir, _, summary) = st.current_with_summary();
    Json(dir.sites.values().map(|s| view(&dir, &summary, s)).collect())
}

fn find<'a>(dir: &'a Directory, id: &str) -> Result<&'a Site, ApiError> {
    manage::sites::find(dir, id)
}

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SiteView>, ApiError> {
    let (dir, _, summary) = st.current_with_summary();
    Ok(Json(view(&dir, &summary, find(&dir, &id)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSite {
    id: String,
    name: String,
    level: Level,
    default_quota: Option<u64>,
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), ApiError> {
    let new = manage::sites::NewSite {
        id: body.id,
        name: body.name,
        level: body.level,
        default_quota: body.default_quota,
    };
    let (id, _) = manage::sites::create(&st, &admin.0, new).await?;
    let (dir, _, summary) = st.current_with_summary();
    Ok((StatusCode::CREATED, Json(view(&dir, &summary, find(&dir, id.as_str())?))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    name: Option<String>,
    level: Option<Level>,
    /// Absent: unchanged; `null`: no default quota.
    #[serde(default, deserialize_with = "present")]
    default_quota: Option<Option<u64>>,
    /// The addresses the site's mail leaves from, for SPF; `[]`: its agents'.
    outgoing: Option<Vec<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(patch): Json<SitePatch>,
) -> Result<Json<SiteView>, ApiError> {
    let patch = manage::sites::SitePatch {
        name: patch.name,
        level: patch.level,
        default_quota: patch.default_quota,
        outgoing: patch.outgoing,
    };
    manage::sites::update(&st, &admin.0, &id, patch).await?;
    show(admin, State(st), Path(id)).await
}

async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    manage::sites::delete(&st, &admin.0, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct EnrollmentView {
    code: String,
    site: String,
    expires_at: i64,
}

async fn enrollment(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EnrollmentView>), ApiError> {
    let (site, code, expires_at) = manage::sites::enrollment(&st, admin.scope(), &id).await?;
    Ok((StatusCode::CREATED, Json(EnrollmentView { code, site: site.to_string(), expires_at })))
}
