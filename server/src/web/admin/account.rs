//! An administrator's own account: a password of their own, two-factor login (`manage::two_factor`) on and off, and
//! fresh recovery codes. Turning it on is two steps: a new key shown as a QR code, then a
//! code from the app, so the key is only stored once the app is known to have it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::users::OkQuery;
use crate::db;
use crate::manage;
use crate::manage::two_factor;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, Page, Posted};
use crate::web::{FormErrors, WebQuery};

/// A key being set up: not stored yet, carried by the form until a code confirms it.
pub struct Setup {
    pub secret: String,
    /// The key in groups of four, for typing it into an app by hand.
    pub spaced: String,
    pub qr: String,
}

impl Setup {
    fn new(ctx: &Ctx, secret: String) -> Setup {
        let spaced =
            secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c)).collect::<Vec<_>>().join(" ");
        let qr = two_factor::qr_svg(&two_factor::otpauth_url(&secret, ctx.name(), &ctx.domain));
        Setup { secret, spaced, qr }
    }
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub c: Ctx,
    pub ok: Option<String>,
    pub two_factor: bool,
    pub codes_left: i64,
    pub setup: Option<Setup>,
    /// Recovery codes just made, shown this once.
    pub codes: Vec<String>,
    /// Which form the errors belong to: "password", "enable", "codes" or "disable".
    pub form: String,
    pub errors: FormErrors,
}

struct View {
    status: StatusCode,
    ok: Option<String>,
    setup: Option<Setup>,
    codes: Vec<String>,
    form: &'static str,
    errors: FormErrors,
}

impl View {
    fn ok(ok: Option<String>) -> View {
        View {
            status: StatusCode::OK,
            ok,
            setup: None,
            codes: vec![],
            form: "",
            errors: FormErrors::default(),
        }
    }
}

async fn render(st: &AppState, ctx: &Ctx, v: View) -> Result<Response, WebError> {
    let internal = |e| WebError::api(e, ctx);
    let two_factor = two_factor::is_on(st, ctx.name()).await.map_err(internal)?;
    let codes_left = db::auth::recovery_codes_left(&st.db.pool, ctx.name())
        .await
        .map_err(|e| WebError::internal(e).with(ctx))?;
    let page = AccountPage {
        c: ctx.clone(),
        ok: v.ok,
        two_factor,
        codes_left,
        setup: v.setup,
        codes: v.codes,
        form: v.form.to_owned(),
        errors: v.errors,
    };
    Ok(ctx.render(v.status, &page))
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    let ok = match q.ok.as_str() {
        "totp-off" => Some(ctx.t("ok-totp-off")),
        "password" => Some(ctx.t("ok-password-changed")),
        _ => None,
    };
    render(&st, &ctx, View::ok(ok)).await
}

/// The first step of turning it on: a new key to scan.
pub async fn setup(State(st): State<AppState>, Page(ctx, ..): Page<AdminOnly>) -> Result<Response, WebError> {
    if two_factor::is_on(&st, ctx.name()).await.map_err(|e| WebError::api(e, &ctx))? {
        return Ok(Redirect::to("/admin/account").into_response());
    }
    let setup = Setup::new(&ctx, two_factor::new_secret());
    render(&st, &ctx, View { setup: Some(setup), ..View::ok(None) }).await
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    code: String,
}

/// A refusal shown next to the code field of `form`; anything else is an error page.
async fn refused(
    st: &AppState,
    ctx: &Ctx,
    e: crate::error::ApiError,
    form: &'static str,
    setup: Option<Setup>,
) -> Result<Response, WebError> {
    if e.status.is_server_error() {
        return Err(WebError::api(e, ctx));
    }
    let errors = FormErrors::from_api(&e, ctx.lang, &["code"]);
    let status = crate::web::refused(e.status);
    render(st, ctx, View { status, setup, form, errors, ..View::ok(None) }).await
}

pub async fn enable(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, CodeForm>,
) -> Result<Response, WebError> {
    match two_factor::enable(&st, ctx.name(), &form.secret, &form.code).await {
        Ok(codes) => {
            let ok = Some(ctx.t("ok-totp-on"));
            render(&st, &ctx, View { codes, ..View::ok(ok) }).await
        }
        Err(e) => {
            let setup = Setup::new(&ctx, form.secret.trim().to_owned());
            refused(&st, &ctx, e, "enable", Some(setup)).await
        }
    }
}

pub async fn renew_codes(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, CodeForm>,
) -> Result<Response, WebError> {
    match two_factor::renew_recovery_codes(&st, ctx.name(), &form.code).await {
        Ok(codes) => {
            let ok = Some(ctx.t("ok-totp-codes"));
            render(&st, &ctx, View { codes, ..View::ok(ok) }).await
        }
        Err(e) => refused(&st, &ctx, e, "codes", None).await,
    }
}

pub async fn disable(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, CodeForm>,
) -> Result<Response, WebError> {
    match two_factor::disable(&st, &ctx.actor(), ctx.name(), Some(&form.code)).await {
        Ok(()) => Ok(Redirect::to("/admin/account?ok=totp-off").into_response()),
        Err(e) => refused(&st, &ctx, e, "disable", None).await,
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Changes one's own password: the current one first (wrong tries count against the login
/// limit), then the strength rules; every other session ends.
pub async fn change_password(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, PasswordForm>,
) -> Result<Response, WebError> {
    let again = |errors: FormErrors| {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        render(&st, &ctx, View { status, form: "password", errors, ..View::ok(None) })
    };
    let now = db::now();
    if let Some(wait) = st.web.limiter.wait(ctx.name(), ctx.client, now) {
        return again(FormErrors::field("current", crate::web::ratelimit::wait_message(&ctx, wait))).await;
    }
    let hash = db::auth::admin_password(&st.db.pool, ctx.name())
        .await
        .map_err(|e| WebError::internal(e).with(&ctx))?;
    let current_ok = match hash {
        Some(h) => st.verify_password(h, form.current.clone()).await,
        None => false,
    };
    if !current_ok {
        st.web.limiter.failed(ctx.name(), ctx.client, now);
        return again(FormErrors::field("current", ctx.t("err-current-password"))).await;
    }
    if form.password != form.confirm {
        return again(FormErrors::field("confirm", ctx.t("err-password-mismatch"))).await;
    }
    match manage::admins::set_own_password(&st, ctx.name(), &form.password, ctx.cookie.as_deref()).await {
        Ok(()) => Ok(Redirect::to("/admin/account?ok=password").into_response()),
        Err(e) if e.status.is_server_error() => Err(WebError::api(e, &ctx)),
        Err(e) => again(FormErrors::from_api(&e, ctx.lang, &["password"])).await,
    }
}
