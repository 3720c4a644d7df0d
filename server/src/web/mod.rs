//! The web application: server-rendered pages for administrators and for end users, in English
//! and Russian. Pages are askama templates (`templates/`), every string comes from
//! `locales/{en,ru}/*.ftl`, and every edit goes through `manage::` — the same functions the JSON
//! API calls — so a page can refuse nothing the API accepts and the other way round.

pub mod agent_view;
pub mod app_passwords;
pub mod ctx;
pub mod dashboard;
pub mod error;
pub mod i18n;
pub mod mailbox;
pub mod ratelimit;
pub mod session;
pub mod state;
pub mod zone;

pub mod admin;
mod auth;
mod me;
mod prefs;

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use self::error::WebError;
use self::i18n::Lang;
use self::session::{Anyone, Ctx, Page};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/style.css", get(style))
        .route("/static/app.js", get(script))
        .route("/lang/{code}", get(set_lang))
        .route("/time-zone", get(prefs::page).post(prefs::choose))
        .route("/admin", get(dashboard::page))
        .merge(auth::router())
        .merge(me::router())
        .merge(admin::router())
        .fallback(no_such_page)
        .layer(middleware::from_fn(security_headers))
}

/// Any path no route takes: the translated "no such page", 404.
async fn no_such_page(Page(ctx, ..): Page<Anyone>) -> WebError {
    WebError::not_found().with(&ctx)
}

/// `axum::extract::Query` for pages: a query string that does not parse is answered with the
/// translated error page (400), not axum's plain English text.
pub struct WebQuery<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send> axum::extract::FromRequestParts<AppState> for WebQuery<T> {
    type Rejection = WebError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &AppState,
    ) -> Result<Self, WebError> {
        match Query::<T>::from_request_parts(parts, st).await {
            Ok(Query(v)) => Ok(WebQuery(v)),
            Err(_) => {
                let ctx = ctx::Ctx::load(parts, st).await?;
                Err(WebError::new(StatusCode::BAD_REQUEST, "err-bad-query").with(&ctx))
            }
        }
    }
}

/// Headers every page gets: no framing, no sniffing, no caching of personal pages, and a
/// content security policy that allows only our own stylesheet and script.
async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "strict-transport-security", "max-age=31536000");
    set(h, "cache-control", "no-store");
    r
}

const STYLE: &str = include_str!("../../../static/style.css");
const SCRIPT: &str = include_str!("../../../static/app.js");

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        STYLE,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// Where a person starts: administrators at the dashboard, users at their own page.
async fn home(Page(ctx, ..): Page<Anyone>) -> Redirect {
    Redirect::to(if ctx.is_admin() {
        "/admin"
    } else if ctx.is_user() {
        "/me"
    } else {
        "/login"
    })
}

#[derive(serde::Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Switches the language and remembers the choice for a year.
async fn set_lang(Path(code): Path<String>, WebQuery(q): WebQuery<NextQuery>) -> Result<Response, WebError> {
    let lang = Lang::from_code(&code).ok_or_else(WebError::not_found)?;
    let to = session::safe_next(&q.next).unwrap_or_else(|| "/".to_owned());
    let mut r = Redirect::to(&to).into_response();
    r.headers_mut()
        .append(header::SET_COOKIE, session::set_cookie(session::LANG_COOKIE, lang.code(), 365 * 86400));
    Ok(r)
}

/// Errors shown next to the form fields they are about, and the rest above the form.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub fields: Vec<(&'static str, String)>,
    pub general: Option<String>,
}

impl FormErrors {
    /// Places a refusal of the edit layer: next to its field when the form has it.
    pub fn from_api(e: &crate::error::ApiError, lang: Lang, fields: &[&'static str]) -> FormErrors {
        let msg = lang.ta(e.key, &e.args);
        match e.field.and_then(|f| fields.iter().find(|x| **x == f)) {
            Some(f) => FormErrors { fields: vec![(f, msg)], general: None },
            None => FormErrors { fields: vec![], general: Some(msg) },
        }
    }
    pub fn field(field: &'static str, msg: String) -> FormErrors {
        FormErrors { fields: vec![(field, msg)], general: None }
    }
    pub fn get(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }
    pub fn any(&self) -> bool {
        !self.fields.is_empty() || self.general.is_some()
    }
}

/// What a successful form says on the page it leads to (`?ok=...`): only these keys.
pub fn flash(ctx: &Ctx, ok: &str) -> Option<String> {
    let key = match ok {
        "user-created" => "ok-user-created",
        "user-saved" => "ok-user-saved",
        "user-deleted" => "ok-user-deleted",
        "user-moved" => "ok-user-moved",
        "password-set" => "ok-password-set",
        "group-created" => "ok-group-created",
        "group-saved" => "ok-group-saved",
        "group-deleted" => "ok-group-deleted",
        "member-added" => "ok-member-added",
        "member-removed" => "ok-member-removed",
        "site-created" => "ok-site-created",
        "site-saved" => "ok-site-saved",
        "site-deleted" => "ok-site-deleted",
        "password-changed" => "ok-password-changed",
        "admin-sites-saved" => "ok-admin-sites-saved",
        "mailbox-saved" => "ok-mailbox-saved",
        "app-password-revoked" => "ok-app-password-revoked",
        "login-lifted" => "ok-login-lifted",
        "settings-saved" => "ok-settings-saved",
        "reverted" => "ok-reverted",
        "agent-forgotten" => "ok-agent-forgotten",
        "admin-disabled" => "ok-admin-disabled",
        "admin-enabled" => "ok-admin-enabled",
        "admin-totp-off" => "ok-admin-totp-off",
        "bulk-1" => "ok-bulk-done",
        "bulk-0" => "ok-bulk-nothing",
        "queue-retry" => "ok-queue-retry",
        "queue-bounce" => "ok-queue-bounce",
        "queue-delete" => "ok-queue-delete",
        "dkim-created" => "ok-dkim-created",
        "dkim-activated" => "ok-dkim-activated",
        "dkim-retired" => "ok-dkim-retired",
        "dkim-deleted" => "ok-dkim-deleted",
        _ => return None,
    };
    Some(ctx.t(key))
}

/// The answer to a form whose edit was refused: the page again, with the error, and 422.
pub fn refused(status: StatusCode) -> StatusCode {
    if status.is_server_error() { status } else { StatusCode::UNPROCESSABLE_ENTITY }
}
