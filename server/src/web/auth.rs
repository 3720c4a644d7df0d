//! Logging in and out. Administrators log in with their name, end users with their official
//! address; both get the same answer for an unknown name and a wrong password, and both are
//! rate limited per account and per client address.
//!
//! An administrator with two-factor login on gets, for the right password, a *pending* session
//! good only for `/login/code` for five minutes; the code from the app (or a recovery code)
//! turns it into an administrator's session with a new id. Wrong codes count against the same
//! per-account limit as wrong passwords, and a right password does not reset it: only a right
//! code does, so knowing the password buys no more guesses at the code.

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pochta_directory::{Address, PasswordHash};
use serde::Deserialize;

use super::FormErrors;
use super::error::WebError;
use super::session::{self, Anyone, Ctx, Page, Posted};
use crate::db::{self, web::Role};
use crate::manage::two_factor;
use crate::state::AppState;
use crate::web::WebQuery;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/code", get(code_page).post(code))
        .route("/login/password", get(renew_page).post(renew))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Ctx,
    login: String,
    next: String,
    errors: FormErrors,
}

#[derive(Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

async fn login_page(Page(ctx, ..): Page<Anyone>, WebQuery(q): WebQuery<LoginQuery>) -> Response {
    // Half way through a two-factor login one may start again.
    if ctx.who.as_ref().is_some_and(|w| w.role != Role::Pending) {
        return Redirect::to("/").into_response();
    }
    let next = session::safe_next(&q.next).unwrap_or_default();
    ctx.render(
        StatusCode::OK,
        &LoginPage { c: ctx.clone(), login: String::new(), next, errors: FormErrors::default() },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// A hash to verify against when the name is unknown, so that the answer takes as long.
fn dummy_hash() -> &'static PasswordHash {
    static H: OnceLock<PasswordHash> = OnceLock::new();
    H.get_or_init(|| PasswordHash::create("pochta-no-such-account"))
}

/// Who a login names, and the hash to check, if any.
async fn lookup(st: &AppState, login: &str) -> Result<Option<(Role, String, String)>, WebError> {
    let login = login.trim();
    if login.contains('@') {
        let Ok(addr) = Address::parse(login) else { return Ok(None) };
        let (dir, _) = st.publisher.current();
        // The official address, or a local one of the user's site (or a former one).
        if !dir.is_ours(addr.domain()) {
            return Ok(None);
        }
        let Some(u) = dir.user(addr.local()) else { return Ok(None) };
        if !u.enabled {
            return Ok(None);
        }
        let Some(hash) = &u.password else { return Ok(None) };
        Ok(Some((Role::User, u.name.folded().to_owned(), hash.0.clone())))
    } else {
        let hash = db::auth::admin_password(&st.db.pool, login).await.map_err(WebError::internal)?;
        Ok(hash.map(|h| (Role::Admin, login.to_owned(), h)))
    }
}

async fn login(State(st): State<AppState>, Posted(ctx, form, ..): Posted<Anyone, LoginForm>) -> Response {
    let now = db::now();
    let next = session::safe_next(&form.next).unwrap_or_default();
    let page = |errors: FormErrors| LoginPage {
        c: ctx.clone(),
        login: form.login.clone(),
        next: next.clone(),
        errors,
    };
    if let Some(wait) = st.web.limiter.wait(&form.login, ctx.client, now) {
        let msg = super::ratelimit::wait_message(&ctx, wait);
        let mut r = ctx
            .render(StatusCode::TOO_MANY_REQUESTS, &page(FormErrors { fields: vec![], general: Some(msg) }));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        r.headers_mut().insert(header::RETRY_AFTER, secs.max(1).into());
        return r;
    }
    let found = match lookup(&st, &form.login).await {
        Ok(f) => f,
        Err(e) => return e.with(&ctx).into_response(),
    };
    let hash = found.as_ref().map_or_else(|| dummy_hash().0.clone(), |(_, _, h)| h.clone());
    let ok = st.verify_password(hash, form.password.clone()).await && found.is_some();
    let Some((role, subject, _)) = found.filter(|_| ok) else {
        st.web.limiter.failed(&form.login, ctx.client, now);
        tracing::info!(client = ?ctx.client, "failed web login");
        let msg = ctx.t("login-failed");
        return ctx
            .render(StatusCode::UNAUTHORIZED, &page(FormErrors { fields: vec![], general: Some(msg) }));
    };
    if role == Role::Admin {
        match two_factor::is_on(&st, &subject).await {
            Ok(true) => {
                tracing::info!(subject, "web login: password right, code from the app next");
                let to = if next.is_empty() {
                    "/login/code".to_owned()
                } else {
                    format!("/login/code?next={}", session::urlencode(&next))
                };
                return start_session(&st, &ctx, Role::Pending, &subject, &to).await;
            }
            Ok(false) => {}
            Err(e) => return WebError::api(e, &ctx).into_response(),
        }
    }
    st.web.limiter.succeeded(&form.login, ctx.client);
    tracing::info!(role = role.as_str(), subject, "web login");
    if role == Role::Admin {
        return admin_session(&st, &ctx, &subject, next).await;
    }
    start_session(&st, &ctx, role, &subject, &landing(role, next)).await
}

/// The last step of an administrator's login: their session, or first a password of their own
/// when they are still on one someone else made.
async fn admin_session(st: &AppState, ctx: &Ctx, admin: &str, next: String) -> Response {
    match db::auth::admin_must_change_password(&st.db.pool, admin).await {
        Ok(false) => start_session(st, ctx, Role::Admin, admin, &landing(Role::Admin, next)).await,
        Ok(true) => {
            let to = if next.is_empty() {
                "/login/password".to_owned()
            } else {
                format!("/login/password?next={}", session::urlencode(&next))
            };
            start_session(st, ctx, Role::Renew, admin, &to).await
        }
        Err(e) => WebError::internal(e).with(ctx).into_response(),
    }
}

/// Where a login leads: `next` when the person may see it, else their home page.
fn landing(role: Role, next: String) -> String {
    let home = if role == Role::User { "/me" } else { "/admin" };
    if next.is_empty() || (role == Role::User && next.starts_with("/admin")) { home.to_owned() } else { next }
}

/// Starts a session with a fresh id (whatever session the browser had ends) and goes to `to`.
async fn start_session(st: &AppState, ctx: &Ctx, role: Role, subject: &str, to: &str) -> Response {
    let now = db::now();
    if let Some(old) = &ctx.cookie {
        let _ = db::web::delete_session(&st.db.pool, old).await;
    }
    let cookie = db::auth::random_token();
    let csrf = db::auth::random_token();
    if let Err(e) = db::web::create_session(&st.db.pool, &cookie, role, subject, &csrf).await {
        return WebError::internal(e).with(ctx).into_response();
    }
    // Old sessions are swept at logins: cheap, and enough for a table this small.
    let _ =
        db::web::expire_sessions(&st.db.pool, now - session::IDLE_SECS, now - session::MAX_AGE_SECS).await;
    let mut r = Redirect::to(to).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::SESSION_COOKIE, &cookie, session::MAX_AGE_SECS),
    );
    h.append(header::SET_COOKIE, session::set_cookie(session::PRE_COOKIE, "", 0));
    r
}

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    c: Ctx,
    next: String,
    errors: FormErrors,
}

/// The administrator a session half way through a login (`step`) belongs to; anyone else has no
/// business on that step's page.
fn halfway(ctx: &Ctx, step: Role) -> Result<String, Redirect> {
    match &ctx.who {
        Some(w) if w.role == step => Ok(w.name.clone()),
        Some(_) => Err(Redirect::to("/")),
        None => Err(Redirect::to("/login")),
    }
}

async fn code_page(Page(ctx, ..): Page<Anyone>, WebQuery(q): WebQuery<LoginQuery>) -> Response {
    if let Err(r) = halfway(&ctx, Role::Pending) {
        return r.into_response();
    }
    let next = session::safe_next(&q.next).unwrap_or_default();
    ctx.render(StatusCode::OK, &CodePage { c: ctx.clone(), next, errors: FormErrors::default() })
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

async fn code(State(st): State<AppState>, Posted(ctx, form, ..): Posted<Anyone, CodeForm>) -> Response {
    let admin = match halfway(&ctx, Role::Pending) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let now = db::now();
    let next = session::safe_next(&form.next).unwrap_or_default();
    let page = |status, general: String| {
        ctx.render(
            status,
            &CodePage {
                c: ctx.clone(),
                next: next.clone(),
                errors: FormErrors { fields: vec![], general: Some(general) },
            },
        )
    };
    if let Some(wait) = st.web.limiter.wait(&admin, ctx.client, now) {
        let mut r = page(StatusCode::TOO_MANY_REQUESTS, super::ratelimit::wait_message(&ctx, wait));
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        r.headers_mut().insert(header::RETRY_AFTER, secs.max(1).into());
        return r;
    }
    match two_factor::verify(&st, &admin, &form.code).await {
        Ok(true) => {
            st.web.limiter.succeeded(&admin, ctx.client);
            tracing::info!(role = "admin", subject = admin, "web login with two factors");
            admin_session(&st, &ctx, &admin, next).await
        }
        // Turned off, or the administrator disabled, since the password: start again.
        Ok(false) => Redirect::to("/login").into_response(),
        Err(e) if e.status.is_server_error() => WebError::api(e, &ctx).into_response(),
        Err(_) => {
            st.web.limiter.failed(&admin, ctx.client, now);
            tracing::info!(client = ?ctx.client, admin, "wrong two-factor code at web login");
            page(StatusCode::UNAUTHORIZED, ctx.t("err-totp-code"))
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(st): State<AppState>, Posted(ctx, ..): Posted<Anyone, Empty>) -> Response {
    if let Some(c) = &ctx.cookie {
        let _ = db::web::delete_session(&st.db.pool, c).await;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().append(header::SET_COOKIE, session::set_cookie(session::SESSION_COOKIE, "", 0));
    r
}

#[derive(Template)]
#[template(path = "login_password.html")]
struct RenewPage {
    c: Ctx,
    next: String,
    errors: FormErrors,
}

async fn renew_page(Page(ctx, ..): Page<Anyone>, WebQuery(q): WebQuery<LoginQuery>) -> Response {
    if let Err(r) = halfway(&ctx, Role::Renew) {
        return r.into_response();
    }
    let next = session::safe_next(&q.next).unwrap_or_default();
    ctx.render(StatusCode::OK, &RenewPage { c: ctx.clone(), next, errors: FormErrors::default() })
}

#[derive(Deserialize)]
struct RenewForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    next: String,
}

/// A password of one's own, in place of the one another administrator made. The old one was
/// given a moment ago, so it is not asked again.
async fn renew(State(st): State<AppState>, Posted(ctx, form, ..): Posted<Anyone, RenewForm>) -> Response {
    let admin = match halfway(&ctx, Role::Renew) {
        Ok(a) => a,
        Err(r) => return r.into_response(),
    };
    let next = session::safe_next(&form.next).unwrap_or_default();
    let again = |errors: FormErrors| {
        ctx.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RenewPage { c: ctx.clone(), next: next.clone(), errors },
        )
    };
    if form.password != form.confirm {
        return again(FormErrors::field("confirm", ctx.t("err-password-mismatch")));
    }
    match crate::manage::admins::set_own_password(&st, &admin, &form.password, None).await {
        Ok(()) => start_session(&st, &ctx, Role::Admin, &admin, &landing(Role::Admin, next.clone())).await,
        Err(e) if e.status.is_server_error() => WebError::api(e, &ctx).into_response(),
        Err(e) => again(FormErrors::from_api(&e, ctx.lang, &["password"])),
    }
}
