//! Users: list and search, create, edit, disable, delete, set password, move to another site.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use pochta_directory::model::{Forwarding, MailboxSettings, Vacation};
use pochta_directory::{Directory, SiteId, User};
use serde::{Deserialize, Deserializer, Serialize};

use super::{Json, Path, Query, parse};
use crate::auth::Admin;
use crate::error::ApiError;
use crate::manage;
use crate::manage::scope::Scope;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users.csv", get(export))
        .route("/users/{name}", get(show).patch(update).delete(remove))
        .route("/users/{name}/password", put(set_password))
        .route("/users/{name}/move", post(move_to))
        .route("/users/{name}/app-passwords", get(app_passwords).post(create_app_password))
        .route("/users/{name}/app-passwords/{id}", axum::routing::delete(revoke_app_password))
}

#[derive(serde::Deserialize)]
struct ExportQuery {
    #[serde(default)]
    excel: bool,
}

/// Every user as CSV in the import's columns (`?excel=true`: a byte-order mark and `;`).
async fn export(
    admin: Admin,
    State(st): State<AppState>,
    Query(q): Query<ExportQuery>,
) -> impl axum::response::IntoResponse {
    let dir = st.publisher.current().0;
    let usage = st.reports.usage();
    // A site administrator's file holds their users only.
    let users: Vec<&User> = dir.users.values().filter(|u| admin.scope().covers(&u.site)).collect();
    let body = crate::manage::import::export_users(users.into_iter(), |u| usage.of(u), q.excel);
    ([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], body)
}

#[derive(Serialize)]
pub(super) struct UserView {
    pub name: String,
    pub address: String,
    pub local_address: String,
    pub display_name: String,
    pub site: String,
    pub former_sites: Vec<String>,
    pub enabled: bool,
    pub has_password: bool,
    /// His own quota in bytes; `null`: the site's default.
    pub quota: Option<u64>,
    /// The quota in force (his own, else the site's); `null`: no limit.
    pub quota_in_force: Option<u64>,
    pub forward: Option<Forwarding>,
    pub vacation: Option<Vacation>,
    /// Bytes in his mailbox as his home site's agent last reported; `null`: not reported yet.
    pub mailbox_bytes: Option<u64>,
}

impl UserView {
    pub(super) fn new(dir: &Directory, u: &User, mailbox_bytes: Option<u64>) -> Self {
        UserView {
            name: u.name.to_string(),
            address: dir.official(&u.name).to_string(),
            local_address: format!("{}@{}", u.name, dir.site_domain(&u.site)),
            display_name: u.display_name.clone(),
            site: u.site.to_string(),
            former_sites: u.former_sites.iter().map(ToString::to_string).collect(),
            enabled: u.enabled,
            has_password: u.password.is_some(),
            quota: u.mailbox.quota,
            quota_in_force: dir.quota_of(u),
            forward: u.mailbox.forward.clone(),
            vacation: u.mailbox.vacation.clone(),
            mailbox_bytes,
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    site: Option<String>,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Page<T> {
    total: usize,
    offset: usize,
    items: Vec<T>,
}

/// Served from the in-memory directory: a scan of 100,000 users takes about a millisecond.
async fn list(
    admin: Admin,
    State(st): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<UserView>>, ApiError> {
    let (dir, _) = st.publisher.current();
    let site = q.site.filter(|s| !s.is_empty()).map(|s| parse("site", SiteId::parse(&s))).transpose()?;
    let search = manage::users::Search {
        q: q.q.unwrap_or_default(),
        site,
        offset: q.offset,
        limit: q.limit.unwrap_or(50).min(1000),
        scope: admin.scope().clone(),
        ..Default::default()
    };
    let usage = st.reports.usage();
    let (total, page) = manage::users::search(&dir, &search, &|u| usage.of(u));
    let items = page.into_iter().map(|u| UserView::new(&dir, u, usage.of(u))).collect();
    Ok(Json(Page { total, offset: q.offset, items }))
}

/// One user as the API shows him, with his mailbox usage.
fn view(st: &AppState, scope: &Scope, name: &str) -> Result<Json<UserView>, ApiError> {
    let (dir, _) = st.publisher.current();
    let u = scope.user(&dir, name)?;
    Ok(Json(UserView::new(&dir, u, st.reports.usage().of(u))))
}

async fn show(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    view(&st, admin.scope(), &name)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    #[serde(default)]
    display_name: String,
    site: String,
    password: Option<String>,
    #[serde(default = "yes")]
    enabled: bool,
    quota: Option<u64>,
    forward: Option<Forwarding>,
    vacation: Option<Vacation>,
}
fn yes() -> bool {
    true
}

/// For PATCH: a field that is absent stays as it is (`None`), one that is `null` is removed
/// (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

async fn create(
    admin: Admin,
    State(st): State<AppState>,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let new = manage::users::NewUser {
        name: body.name,
        display_name: body.display_name,
        site: body.site,
        password: body.password,
        enabled: body.enabled,
        mailbox: MailboxSettings { quota: body.quota, forward: body.forward, vacation: body.vacation },
    };
    let (name, _) = manage::users::create(&st, &admin.0, new).await?;
    Ok((StatusCode::CREATED, view(&st, admin.scope(), &name.to_string())?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    display_name: Option<String>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    quota: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    forward: Option<Option<Forwarding>>,
    #[serde(default, deserialize_with = "present")]
    vacation: Option<Option<Vacation>>,
}

async fn update(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(patch): Json<UserPatch>,
) -> Result<Json<UserView>, ApiError> {
    // One edit for every field: a refusal of any of them changes none.
    let patch = manage::users::UserPatch {
        display_name: patch.display_name,
        enabled: patch.enabled,
        quota: patch.quota,
        forward: patch.forward,
        vacation: patch.vacation,
    };
    manage::users::update(&st, &admin.0, &name, patch).await?;
    show(admin, State(st), Path(name)).await
}

/// Deleting a user also takes him out of every alias and list, in the same change set.
async fn remove(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    manage::users::delete(&st, &admin.0, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn set_password(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<NewPassword>,
) -> Result<StatusCode, ApiError> {
    manage::users::set_password(&st, &admin.0, &name, body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveTo {
    site: String,
}

/// Moves the user's home to another site. His old local address keeps working.
async fn move_to(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<MoveTo>,
) -> Result<Json<UserView>, ApiError> {
    manage::users::move_to(&st, &admin.0, &name, &body.site).await?;
    show(admin, State(st), Path(name)).await
}

/// An app password as the API shows it: never the password, which only its creation returns.
#[derive(Serialize)]
struct AppPasswordView {
    id: u32,
    label: String,
    /// Unix seconds.
    created: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

impl AppPasswordView {
    fn of(a: &pochta_directory::AppPassword, password: Option<String>) -> Self {
        AppPasswordView { id: a.id, label: a.label.clone(), created: a.created, password }
    }
}

async fn app_passwords(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Vec<AppPasswordView>>, ApiError> {
    let (dir, _) = st.publisher.current();
    let u = admin.scope().user(&dir, &name)?;
    Ok(Json(u.app_passwords.iter().map(|a| AppPasswordView::of(a, None)).collect()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAppPassword {
    label: String,
}

/// Makes an app password; the reply is the only place its password is ever shown.
async fn create_app_password(
    admin: Admin,
    State(st): State<AppState>,
    Path(name): Path<String>,
    Json(body): Json<NewAppPassword>,
) -> Result<(StatusCode, Json<AppPasswordView>), ApiError> {
    let made = manage::app_passwords::create(&st, &admin.0, &name, &body.label).await?;
    Ok((StatusCode::CREATED, Json(AppPasswordView::of(&made.app, Some(made.password)))))
}

async fn revoke_app_password(
    admin: Admin,
    State(st): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    // No app password has id 0: an id that is not a number is "no such app password".
    manage::app_passwords::revoke(&st, &admin.0, &name, id.parse().unwrap_or(0)).await?;
    Ok(StatusCode::NO_CONTENT)
}
