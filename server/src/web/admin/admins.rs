//! Administrators in the browser: the list, create (the password is shown once), reset a
//! password (shown once), disable and enable (`manage::admins`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use std::collections::BTreeMap;

use pochta_directory::SiteId;

use crate::error::ApiError;
use crate::manage::scope::Scope;

use super::users::{Empty, OkQuery};
use crate::db::{self, auth::AdminRow};
use crate::manage;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::{Ctx, DomainAdmin, Page, Posted, urlencode};
use crate::web::{FormErrors, WebQuery, flash};

#[derive(Template)]
#[template(path = "admins.html")]
pub struct AdminsPage {
    pub c: Ctx,
    /// Each administrator with the sites they are limited to (none: the whole domain).
    pub admins: Vec<(AdminRow, Vec<SiteId>)>,
    /// Every site, for the choice of an administrator's sites: (id, name).
    pub sites: Vec<(SiteId, String)>,
    pub ok: Option<String>,
    /// A password just made, to hand over: (administrator, password).
    pub secret: Option<(String, String)>,
    pub name: String,
    pub errors: FormErrors,
}

async fn render(
    st: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    ok: Option<String>,
    secret: Option<(String, String)>,
    name: String,
    errors: FormErrors,
) -> Result<Response, WebError> {
    let dir = st.publisher.current().0;
    let admins = db::auth::admins(&st.db.pool)
        .await
        .map_err(|e| WebError::internal(e).with(ctx))?
        .into_iter()
        .map(|a| {
            let sites = manage::admins::site_list(&dir, &a.sites);
            (a, sites)
        })
        .collect();
    let sites = dir.sites.values().map(|s| (s.id.clone(), s.name.clone())).collect();
    let page = AdminsPage { c: ctx.clone(), admins, sites, ok, secret, name, errors };
    Ok(ctx.render(status, &page))
}

pub async fn list(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    render(&st, &ctx, StatusCode::OK, flash(&ctx, &q.ok), None, String::new(), FormErrors::default()).await
}

#[derive(Deserialize)]
pub struct NewAdmin {
    #[serde(default)]
    name: String,
    /// `site.<id>=on` for each chosen site; none chosen: the whole domain.
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// The sites a form's `site.<id>` checkboxes choose.
fn chosen_sites(st: &AppState, rest: &BTreeMap<String, String>) -> Result<Scope, ApiError> {
    let ids: Vec<&str> = rest.keys().filter_map(|k| k.strip_prefix("site.")).collect();
    manage::admins::parse_sites(&st.publisher.current().0, &ids)
}

pub async fn create(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, NewAdmin>,
) -> Result<Response, WebError> {
    let created = match chosen_sites(&st, &form.rest) {
        Ok(scope) => manage::admins::create(&st, &ctx.actor(), &form.name, &scope).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(password) => {
            let name = form.name.trim().to_owned();
            let ok = Some(ctx.t1("ok-admin-created", "name", &name));
            render(
                &st,
                &ctx,
                StatusCode::CREATED,
                ok,
                Some((name, password)),
                String::new(),
                FormErrors::default(),
            )
            .await
        }
        Err(e) if e.status.is_client_error() => {
            let errors = FormErrors::from_api(&e, ctx.lang, &["name"]);
            render(&st, &ctx, e.status, None, None, form.name, errors).await
        }
        Err(e) => Err(WebError::api(e, &ctx)),
    }
}

pub async fn reset(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    let keep = (name == ctx.name()).then(|| ctx.cookie.clone()).flatten();
    let password = manage::admins::reset(&st, &ctx.actor(), &name, keep.as_deref())
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    let ok = Some(ctx.t1("ok-admin-reset", "name", &name));
    render(&st, &ctx, StatusCode::OK, ok, Some((name, password)), String::new(), FormErrors::default()).await
}

#[derive(Deserialize)]
pub struct SitesForm {
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// Limits an administrator to the chosen sites, or (none chosen) gives them the whole domain.
pub async fn sites(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<DomainAdmin, SitesForm>,
) -> Result<Response, WebError> {
    let scope = chosen_sites(&st, &form.rest).map_err(|e| WebError::api(e, &ctx))?;
    manage::admins::set_sites(&st, &ctx.actor(), &name, &scope).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to(&format!("/admin/admins?ok=admin-sites-saved#{}", urlencode(&name))).into_response())
}

pub async fn state(
    State(st): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        // For someone who lost the phone and the recovery codes.
        "totp-off" => {
            if name == ctx.name() {
                return Ok(Redirect::to("/admin/account").into_response());
            }
            manage::two_factor::disable(&st, &ctx.actor(), &name, None)
                .await
                .map_err(|e| WebError::api(e, &ctx))?;
            return Ok(Redirect::to(&format!("/admin/admins?ok=admin-totp-off#{}", urlencode(&name)))
                .into_response());
        }
        _ => return Err(WebError::not_found().with(&ctx)),
    };
    manage::admins::set_disabled(&st, &ctx.actor(), &name, disabled)
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    let ok = if disabled { "admin-disabled" } else { "admin-enabled" };
    Ok(Redirect::to(&format!("/admin/admins?ok={ok}#{}", urlencode(&name))).into_response())
}
