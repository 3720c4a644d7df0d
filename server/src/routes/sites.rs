//! Sites: create, edit, delete, and enrollment codes for their agents.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use base64::Engine;
use pochta_directory::{Directory, Level, Op, Site, SiteId};
use serde::{Deserialize, Serialize};

use super::{Json, Path, parse};
use crate::auth::Admin;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

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

/// MX preferences as in the paper: level 0 first; level-1 sites after them, the one with the
/// most active users first; level 2 is not an MX.
pub fn mx_priorities(dir: &Directory) -> Vec<(SiteId, u16)> {
    let active = |s: &SiteId| dir.users_at(s).filter(|u| u.enabled).count();
    let mut zero: Vec<_> =
        dir.sites.values().filter(|s| s.level == Level::Zero).map(|s| s.id.clone()).collect();
    let mut one: Vec<_> =
        dir.sites.values().filter(|s| s.level == Level::One).map(|s| (active(&s.id), s.id.clone())).collect();
    zero.sort();
    one.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let ordered = zero.into_iter().chain(one.into_iter().map(|(_, id)| id));
    ordered.enumerate().map(|(i, id)| (id, 10 * (i as u16 + 1))).collect()
}

fn view(dir: &Directory, s: &Site) -> SiteView {
    let mx = mx_priorities(dir);
    SiteView {
        site: s.clone(),
        domain: dir.site_domain(&s.id).to_string(),
        users: dir.users_at(&s.id).count(),
        active_users: dir.users_at(&s.id).filter(|u| u.enabled).count(),
        mx_priority: mx.iter().find(|(id, _)| *id == s.id).map(|(_, p)| *p),
    }
}

async fn list(_: Admin, State(st): State<AppState>) -> Json<Vec<SiteView>> {
    let (dir, _) = st.publisher.current();
    Json(dir.sites.values().map(|s| view(&dir, s)).collect())
}

fn find<'a>(dir: &'a Directory, id: &str) -> Result<&'a Site, ApiError> {
    let id = parse("site", SiteId::parse(id))?;
    dir.site(&id).ok_or_else(|| ApiError::not_found(format!("there is no site '{id}'")))
}

async fn show(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SiteView>, ApiError> {
    let (dir, _) = st.publisher.current();
    Ok(Json(view(&dir, find(&dir, &id)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSite {
    id: String,
    name: String,
    level: Level,
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewSite>,
) -> Result<(StatusCode, Json<SiteView>), ApiError> {
    let id = parse("id", SiteId::parse(&body.id))?;
    let site = Site { id: id.clone(), name: body.name.trim().to_owned(), level: body.level, agents: vec![] };
    st.publisher
        .edit(&admin.author, |dir| {
            if dir.site(&id).is_some() {
                return Err(ApiError::conflict(format!("site '{id}' already exists")).into());
            }
            Ok(vec![Op::PutSite(site)])
        })
        .await?;
    let (dir, _) = st.publisher.current();
    Ok((StatusCode::CREATED, Json(view(&dir, find(&dir, id.as_str())?))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SitePatch {
    name: Option<String>,
    level: Option<Level>,
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(patch): Json<SitePatch>,
) -> Result<Json<SiteView>, ApiError> {
    st.publisher
        .edit(&admin.author, |dir| {
            let old = find(dir, &id)?;
            let mut s = old.clone();
            if let Some(n) = patch.name {
                s.name = n.trim().to_owned();
            }
            if let Some(l) = patch.level {
                s.level = l;
            }
            Ok(if &s == old { vec![] } else { vec![Op::PutSite(s)] })
        })
        .await?;
    show(admin, State(st), Path(id)).await
}

async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let mut edit = st.publisher.begin().await?;
    let site = find(edit.directory(), &id)?.clone();
    for a in &site.agents {
        db::auth::delete_agent(&mut edit.tx, &a.id).await?;
    }
    edit.commit(&admin.author, vec![Op::DeleteSite { id: site.id.clone() }]).await?;
    for a in &site.agents {
        st.pusher.forget(&a.id);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What an administrator hands to the agent's installer: server URL, server TLS pin and a
/// one-time token, in one string.
#[derive(Serialize, Deserialize)]
pub struct EnrollmentCode {
    pub server: String,
    pub tls_sha256: String,
    pub token: String,
}

impl EnrollmentCode {
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("serialises"))
    }
}

#[derive(Serialize)]
struct EnrollmentView {
    code: String,
    site: String,
    expires_at: i64,
}

async fn enrollment(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<EnrollmentView>), ApiError> {
    let (dir, _) = st.publisher.current();
    let site = find(&dir, &id)?;
    let (token, expires_at) =
        db::auth::create_enrollment(&st.db.pool, site.id.as_str(), st.config.enrollment_ttl_secs).await?;
    let code =
        EnrollmentCode { server: st.public_url.to_string(), tls_sha256: st.tls_sha256.to_string(), token };
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentView { code: code.encode(), site: site.id.to_string(), expires_at }),
    ))
}
