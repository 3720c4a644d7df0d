//! Administrators in the browser: the list, create (the password is shown once), reset a
//! password (shown once), disable and enable (`manage::admins`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::users::{Empty, OkQuery};
use crate::db::{self, auth::AdminRow};
use crate::manage;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, Page, Posted, urlencode};
use crate::web::{FormErrors, WebQuery, flash};

#[derive(Template)]
#[template(path = "admins.html")]
pub struct AdminsPage {
    pub c: Ctx,
    pub admins: Vec<AdminRow>,
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
    let admins = db::auth::admins(&st.db.pool).await.map_err(|e| WebError::internal(e).with(ctx))?;
    let page = AdminsPage { c: ctx.clone(), admins, ok, secret, name, errors };
    Ok(ctx.render(status, &page))
}

pub async fn list(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    render(&st, &ctx, StatusCode::OK, flash(&ctx, &q.ok), None, String::new(), FormErrors::default()).await
}

#[derive(Deserialize)]
pub struct NewAdmin {
    #[serde(default)]
    name: String,
}

pub async fn create(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, NewAdmin>,
) -> Result<Response, WebError> {
    match manage::admins::create(&st, ctx.name(), &form.name).await {
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
    Posted(ctx, ..): Posted<AdminOnly, Empty>,
) -> Result<Response, WebError> {
    let keep = (name == ctx.name()).then(|| ctx.cookie.clone()).flatten();
    let password = manage::admins::reset(&st, ctx.name(), &name, keep.as_deref())
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    let ok = Some(ctx.t1("ok-admin-reset", "name", &name));
    render(&st, &ctx, StatusCode::OK, ok, Some((name, password)), String::new(), FormErrors::default()).await
}

pub async fn state(
    State(st): State<AppState>,
    Path((name, action)): Path<(String, String)>,
    Posted(ctx, ..): Posted<AdminOnly, Empty>,
) -> Result<Response, WebError> {
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        // For someone who lost the phone and the recovery codes.
        "totp-off" => {
            if name == ctx.name() {
                return Ok(Redirect::to("/admin/account").into_response());
            }
            manage::two_factor::disable(&st, ctx.name(), &name, None)
                .await
                .map_err(|e| WebError::api(e, &ctx))?;
            return Ok(Redirect::to(&format!("/admin/admins?ok=admin-totp-off#{}", urlencode(&name)))
                .into_response());
        }
        _ => return Err(WebError::not_found().with(&ctx)),
    };
    manage::admins::set_disabled(&st, ctx.name(), &name, disabled)
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    let ok = if disabled { "admin-disabled" } else { "admin-enabled" };
    Ok(Redirect::to(&format!("/admin/admins?ok={ok}#{}", urlencode(&name))).into_response())
}
