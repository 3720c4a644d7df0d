//! Who is asking, in which language, and whether a form really comes from our page.
//!
//! - Sessions live in the database (`db::web`), keyed by the SHA-256 of a random cookie; a new
//!   id is made at every login and the old session is ended (no fixation). Cookies are
//!   `HttpOnly; Secure; SameSite=Lax` with the `__Host-` prefix (we always serve TLS).
//! - CSRF: every state-changing request is a POST carrying a synchronizer token that must equal
//!   the session's (or, before login, a random token in a cookie of its own — login CSRF). On
//!   top of that, a POST whose `Origin` is another site, or whose `Sec-Fetch-Site` says
//!   cross-site, is refused.
//! - Roles are checked on the server by the extractor a handler takes: `Page<AdminOnly>`,
//!   `Posted<UserOnly, Form>`, ... A handler cannot forget the check without changing its type.

use std::marker::PhantomData;
use std::net::SocketAddr;
use subtle::ConstantTimeEq as _;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

pub use super::ctx::{Ctx, Who, urlencode};
use super::error::WebError;
use super::i18n::Lang;
use crate::db::{self, web::Role};
use crate::manage::scope::Scope;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "__Host-pochta_session";
pub const PRE_COOKIE: &str = "__Host-pochta_pre";
pub const LANG_COOKIE: &str = "__Host-pochta_lang";
/// A session ends after this long without a request...
pub const IDLE_SECS: i64 = 2 * 3600;
/// ...and in any case this long after login.
pub const MAX_AGE_SECS: i64 = 12 * 3600;
/// How long after the password the code from the app may come.
pub const PENDING_SECS: i64 = 5 * 60;
/// Largest form body accepted (the CSV import is the big one).
pub const FORM_LIMIT: usize = 2 << 20;

/// Cookies of a request, by name.
pub fn cookies(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())))
        .collect()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers).into_iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v)
}

/// A `Set-Cookie` value with our attributes; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax"
    ))
    .expect("cookie values are URL-safe base64")
}

/// `next=` only ever leads to a path of this server: `/something`, never `//host` or `/\host`
/// (which browsers treat as another host), never a scheme, never a control character.
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.len() <= 2000;
    ok.then(|| next.to_owned())
}

impl Ctx {
    /// Adds the cookie a new pre-login token needs.
    pub fn finish(&self, mut r: Response) -> Response {
        if let Some(pre) = &self.new_pre {
            r.headers_mut().append(header::SET_COOKIE, set_cookie(PRE_COOKIE, pre, MAX_AGE_SECS));
        }
        r
    }

    /// Renders a page with this context's cookies.
    pub fn render<T: askama::Template>(&self, status: StatusCode, page: &T) -> Response {
        match page.render() {
            Ok(html) => self.finish(
                (
                    status,
                    [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))],
                    html,
                )
                    .into_response(),
            ),
            Err(e) => WebError::internal(e).with(self).into_response(),
        }
    }

    pub async fn load(parts: &mut Parts, st: &AppState) -> Result<Ctx, WebError> {
        let headers = &parts.headers;
        let lang = cookie(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)).unwrap_or_else(|| {
            Lang::negotiate(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""))
        });
        let client = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let path = parts.uri.path_and_query().map_or("/".to_owned(), |p| p.as_str().to_owned());
        let (dir, _) = st.publisher.current();
        let zone = cookie(headers, super::zone::COOKIE)
            .and_then(|z| super::zone::Zone::named(&z))
            .or_else(|| super::zone::Zone::named(&st.config.time_zone))
            .unwrap_or_else(super::zone::Zone::utc);
        let mut ctx = Ctx {
            lang,
            who: None,
            csrf: String::new(),
            path,
            domain: dir.domain.to_string(),
            client,
            cookie: None,
            new_pre: None,
            zone,
        };
        if let Some(c) = cookie(headers, SESSION_COOKIE) {
            let pool = &st.db.pool;
            let now = db::now();
            match db::web::session(pool, &c).await.map_err(|e| WebError::internal(e).with(&ctx))? {
                Some(s) if now - s.seen_at <= IDLE_SECS && now - s.created_at <= MAX_AGE_SECS => {
                    // An end user who was disabled or deleted meanwhile is logged out.
                    let alive = match s.role {
                        Role::Admin | Role::Renew => true,
                        Role::Pending => now - s.created_at <= PENDING_SECS,
                        Role::User => pochta_directory::LocalPart::parse(&s.subject)
                            .ok()
                            .and_then(|n| dir.user(&n).map(|u| u.enabled))
                            .unwrap_or(false),
                    };
                    if alive {
                        if now - s.seen_at > 60 {
                            db::web::touch_session(pool, &c)
                                .await
                                .map_err(|e| WebError::internal(e).with(&ctx))?;
                        }
                        // An administrator's sites are read each time: a change applies at once.
                        let scope = match s.role {
                            Role::User => Scope::Sites(Default::default()),
                            // No such administrator (any more): nothing.
                            _ => db::auth::admin_sites(pool, &s.subject)
                                .await
                                .map_err(|e| WebError::internal(e).with(&ctx))?
                                .map_or_else(|| Scope::Sites(Default::default()), |s| Scope::from_stored(&s)),
                        };
                        ctx.who = Some(Who { role: s.role, name: s.subject, scope });
                        ctx.csrf = s.csrf;
                        ctx.cookie = Some(c);
                    }
                }
                Some(_) => {
                    let _ = db::web::delete_session(pool, &c).await;
                }
                None => {}
            }
        }
        if ctx.who.is_none() {
            match cookie(headers, PRE_COOKIE) {
                Some(pre) if pre.len() >= 32 => ctx.csrf = pre,
                _ => {
                    let pre = db::auth::random_token();
                    ctx.csrf = pre.clone();
                    ctx.new_pre = Some(pre);
                }
            }
        }
        Ok(ctx)
    }
}

/// Which sessions may use a page.
pub trait Guard: Send + Sync + 'static {
    fn admit(ctx: &Ctx) -> Result<(), WebError>;
}

pub struct AdminOnly;
/// An administrator of the whole domain: sites, DNS, the history, the administrators.
pub struct DomainAdmin;
pub struct UserOnly;
pub struct Anyone;

fn login_first(ctx: &Ctx) -> WebError {
    WebError::redirect(format!("/login?next={}", urlencode(&ctx.path)))
}

/// Where a session half way through a login goes for any other page: the code from the app,
/// or a password of one's own.
fn finish_login_first(ctx: &Ctx, role: Role) -> WebError {
    let step = if role == Role::Pending { "code" } else { "password" };
    WebError::redirect(format!("/login/{step}?next={}", urlencode(&ctx.path)))
}

impl Guard for AdminOnly {
    fn admit(ctx: &Ctx) -> Result<(), WebError> {
        match &ctx.who {
            None => Err(login_first(ctx)),
            Some(w) if w.role == Role::Admin => Ok(()),
            Some(w) if matches!(w.role, Role::Pending | Role::Renew) => Err(finish_login_first(ctx, w.role)),
            Some(_) => Err(WebError::forbidden().with(ctx)),
        }
    }
}
impl Guard for DomainAdmin {
    fn admit(ctx: &Ctx) -> Result<(), WebError> {
        AdminOnly::admit(ctx)?;
        if ctx.scope().is_domain() {
            Ok(())
        } else {
            Err(WebError::new(StatusCode::FORBIDDEN, "err-scope-domain").with(ctx))
        }
    }
}
impl Guard for UserOnly {
    fn admit(ctx: &Ctx) -> Result<(), WebError> {
        match &ctx.who {
            None => Err(login_first(ctx)),
            Some(w) if w.role == Role::User => Ok(()),
            Some(w) if matches!(w.role, Role::Pending | Role::Renew) => Err(finish_login_first(ctx, w.role)),
            Some(_) => Err(WebError::forbidden().with(ctx)),
        }
    }
}
impl Guard for Anyone {
    fn admit(_: &Ctx) -> Result<(), WebError> {
        Ok(())
    }
}

/// A page (GET) for the sessions `G` admits.
pub struct Page<G>(pub Ctx, pub PhantomData<G>);

impl<G: Guard> FromRequestParts<AppState> for Page<G> {
    type Rejection = WebError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, WebError> {
        let ctx = Ctx::load(parts, st).await?;
        G::admit(&ctx)?;
        Ok(Page(ctx, PhantomData))
    }
}

/// A submitted form (POST) for the sessions `G` admits, with its CSRF token checked.
pub struct Posted<G, T>(pub Ctx, pub T, pub PhantomData<G>);

#[derive(serde::Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Whether a request comes from a page of this server, by the headers browsers add: the
/// `Origin` must name this host, and `Sec-Fetch-Site` must not say cross-site.
fn same_origin(parts: &Parts) -> bool {
    let h = &parts.headers;
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|v| v == "cross-site") {
        return false;
    }
    let Some(origin) = h.get(header::ORIGIN) else { return true };
    // HTTP/2 carries the host as :authority, which ends up in the URI.
    let host = h
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .is_some_and(|(_, o)| !host.is_empty() && o.eq_ignore_ascii_case(host))
}

impl<G: Guard, T: DeserializeOwned + Send> FromRequest<AppState> for Posted<G, T> {
    type Rejection = WebError;
    async fn from_request(req: Request, st: &AppState) -> Result<Self, WebError> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::load(&mut parts, st).await?;
        if ctx.who.is_none() && std::any::TypeId::of::<G>() != std::any::TypeId::of::<Anyone>() {
            return Err(WebError::redirect("/login".into()));
        }
        G::admit(&ctx)?;
        if !same_origin(&parts) {
            return Err(WebError::csrf().with(&ctx));
        }
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|_| WebError::new(StatusCode::PAYLOAD_TOO_LARGE, "err-too-large").with(&ctx))?;
        let token: CsrfField =
            serde_urlencoded::from_bytes(&bytes).unwrap_or(CsrfField { csrf: String::new() });
        if ctx.csrf.is_empty() || !bool::from(token.csrf.as_bytes().ct_eq(ctx.csrf.as_bytes())) {
            return Err(WebError::csrf().with(&ctx));
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e: serde_urlencoded::de::Error| {
            tracing::debug!(error = %e, "unreadable form");
            WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "err-bad-form").with(&ctx)
        })?;
        Ok(Posted(ctx, form, PhantomData))
    }
}
