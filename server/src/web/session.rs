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
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::error::WebError;
use super::i18n::Lang;
use crate::db::{self, web::Role};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "__Host-pochta_session";
pub const PRE_COOKIE: &str = "__Host-pochta_pre";
pub const LANG_COOKIE: &str = "__Host-pochta_lang";
/// A session ends after this long without a request...
pub const IDLE_SECS: i64 = 2 * 3600;
/// ...and in any case this long after login.
pub const MAX_AGE_SECS: i64 = 12 * 3600;
/// Largest form body accepted (the CSV import is the big one).
pub const FORM_LIMIT: usize = 2 << 20;

#[derive(Debug, Clone)]
pub struct Who {
    pub role: Role,
    /// Administrator name, or the user's local part.
    pub name: String,
}

/// Everything a page needs to know about the request: language, person, CSRF token.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub lang: Lang,
    pub who: Option<Who>,
    /// The token this page's forms carry.
    pub csrf: String,
    /// Path and query of this request (the language switcher returns here).
    pub path: String,
    /// The mail domain.
    pub domain: String,
    pub client: Option<IpAddr>,
    /// The session cookie, when logged in.
    pub(crate) cookie: Option<String>,
    /// A new pre-login token to set as a cookie with the response.
    pub(crate) new_pre: Option<String>,
}

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

/// A percent-encoded query value (for `next=` links).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Ctx {
    /// A context for rendering outside a request (benchmarks, previews).
    pub fn offline(lang: Lang, domain: &str, who: Option<Who>) -> Ctx {
        Ctx {
            lang,
            who,
            csrf: "x".repeat(43),
            path: "/".into(),
            domain: domain.into(),
            client: None,
            cookie: None,
            new_pre: None,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.who.as_ref().is_some_and(|w| w.role == Role::Admin)
    }
    pub fn is_user(&self) -> bool {
        self.who.as_ref().is_some_and(|w| w.role == Role::User)
    }
    pub fn name(&self) -> &str {
        self.who.as_ref().map_or("", |w| w.name.as_str())
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }
    /// A message with one argument.
    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        self.lang.ta(key, &[(name, value.to_string())])
    }
    /// A message with two arguments.
    pub fn t2(
        &self,
        key: &str,
        n1: &str,
        v1: impl std::fmt::Display,
        n2: &str,
        v2: impl std::fmt::Display,
    ) -> String {
        self.lang.ta(key, &[(n1, v1.to_string()), (n2, v2.to_string())])
    }
    pub fn num(&self, n: impl std::fmt::Display) -> String {
        super::i18n::number(n)
    }
    pub fn when(&self, t: &i64) -> String {
        super::i18n::datetime(*t)
    }
    /// "5 minutes ago", with the language's plural forms.
    pub fn ago(&self, secs: &i64) -> String {
        let s = (*secs).max(0);
        match s {
            0..60 => self.t1("ago-seconds", "count", s),
            60..3600 => self.t1("ago-minutes", "count", s / 60),
            3600..86400 => self.t1("ago-hours", "count", s / 3600),
            _ => self.t1("ago-days", "count", s / 86400),
        }
    }

    /// Link to this page in another language.
    pub fn lang_link(&self, lang: &Lang) -> String {
        format!("/lang/{}?next={}", lang.code(), urlencode(&self.path))
    }

    /// Percent-encodes a path segment (names may hold any character a local part may).
    pub fn enc(&self, s: &str) -> String {
        urlencode(s).replace('/', "%2F")
    }

    pub fn is_lang(&self, lang: &Lang) -> bool {
        *lang == self.lang
    }

    pub fn langs(&self) -> [Lang; 2] {
        Lang::ALL
    }

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
        let mut ctx = Ctx {
            lang,
            who: None,
            csrf: String::new(),
            path,
            domain: dir.domain.to_string(),
            client,
            cookie: None,
            new_pre: None,
        };
        if let Some(c) = cookie(headers, SESSION_COOKIE) {
            let pool = &st.db.pool;
            let now = db::now();
            match db::web::session(pool, &c).await.map_err(|e| WebError::internal(e).with(&ctx))? {
                Some(s) if now - s.seen_at <= IDLE_SECS && now - s.created_at <= MAX_AGE_SECS => {
                    // An end user who was disabled or deleted meanwhile is logged out.
                    let alive = match s.role {
                        Role::Admin => true,
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
                        ctx.who = Some(Who { role: s.role, name: s.subject });
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
pub struct UserOnly;
pub struct Anyone;

fn login_first(ctx: &Ctx) -> WebError {
    WebError::redirect(format!("/login?next={}", urlencode(&ctx.path)))
}

impl Guard for AdminOnly {
    fn admit(ctx: &Ctx) -> Result<(), WebError> {
        match &ctx.who {
            None => Err(login_first(ctx)),
            Some(w) if w.role == Role::Admin => Ok(()),
            Some(_) => Err(WebError::forbidden().with(ctx)),
        }
    }
}
impl Guard for UserOnly {
    fn admit(ctx: &Ctx) -> Result<(), WebError> {
        match &ctx.who {
            None => Err(login_first(ctx)),
            Some(w) if w.role == Role::User => Ok(()),
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

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        if ctx.csrf.is_empty() || !constant_time_eq(token.csrf.as_bytes(), ctx.csrf.as_bytes()) {
            return Err(WebError::csrf().with(&ctx));
        }
        let form: T = serde_urlencoded::from_bytes(&bytes).map_err(|e: serde_urlencoded::de::Error| {
            tracing::debug!(error = %e, "unreadable form");
            WebError::new(StatusCode::UNPROCESSABLE_ENTITY, "err-bad-form").with(&ctx)
        })?;
        Ok(Posted(ctx, form, PhantomData))
    }
}
