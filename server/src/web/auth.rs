//! Logging in and out. Administrators log in with their name, end users with their official
//! address; both get the same answer for an unknown name and a wrong password, and both are
//! rate limited per account and per client address.

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
use crate::state::AppState;
use crate::web::WebQuery;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_page).post(login)).route("/logout", post(logout))
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
    if ctx.who.is_some() {
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
    st.web.limiter.succeeded(&form.login, ctx.client);
    // A fresh session id at every login; whatever session the browser had ends.
    if let Some(old) = &ctx.cookie {
        let _ = db::web::delete_session(&st.db.pool, old).await;
    }
    let cookie = db::auth::random_token();
    let csrf = db::auth::random_token();
    if let Err(e) = db::web::create_session(&st.db.pool, &cookie, role, &subject, &csrf).await {
        return WebError::internal(e).with(&ctx).into_response();
    }
    // Old sessions are swept at logins: cheap, and enough for a table this small.
    let _ =
        db::web::expire_sessions(&st.db.pool, now - session::IDLE_SECS, now - session::MAX_AGE_SECS).await;
    tracing::info!(role = role.as_str(), subject, "web login");
    let home = match role {
        Role::Admin => "/admin",
        Role::User => "/me",
    };
    let to = if next.is_empty() || (role == Role::User && next.starts_with("/admin")) {
        home.to_owned()
    } else {
        next
    };
    let mut r = Redirect::to(&to).into_response();
    let h = r.headers_mut();
    h.append(
        header::SET_COOKIE,
        session::set_cookie(session::SESSION_COOKIE, &cookie, session::MAX_AGE_SECS),
    );
    h.append(header::SET_COOKIE, session::set_cookie(session::PRE_COOKIE, "", 0));
    r
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
