//! What a page knows about its request: language, person, CSRF token, and the helpers the
//! templates call on it. Made by `session::Ctx::load`; rendering with its cookies is there too.

use std::net::IpAddr;

use super::i18n::Lang;
use crate::db::web::Role;
use crate::manage::scope::{Actor, Scope};

#[derive(Debug, Clone)]
pub struct Who {
    pub role: Role,
    /// Administrator name, or the user's local part.
    pub name: String,
    /// What an administrator may touch (for a user: nothing through the admin pages).
    pub scope: Scope,
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
    /// The zone times are shown in: the person's choice, else the deployment's.
    pub zone: super::zone::Zone,
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
            zone: super::zone::Zone::utc(),
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

    /// What this administrator may touch; nothing when nobody is logged in.
    pub fn scope(&self) -> &Scope {
        static NOTHING: std::sync::LazyLock<Scope> =
            std::sync::LazyLock::new(|| Scope::Sites(Default::default()));
        self.who.as_ref().map_or(&NOTHING, |w| &w.scope)
    }

    /// An administrator of the whole domain (the navigation shows the domain's pages).
    pub fn is_domain_admin(&self) -> bool {
        self.is_admin() && self.scope().is_domain()
    }

    /// The one making a change from this page.
    pub fn actor(&self) -> Actor {
        Actor { name: self.name().to_owned(), scope: self.scope().clone() }
    }

    pub fn t(&self, key: &str) -> String {
        self.lang.t(key)
    }

    /// ` aria-current="page"` for the navigation link of the section this page is in (the
    /// dashboard only on itself), else nothing.
    pub fn current(&self, href: &str) -> askama::filters::Safe<&'static str> {
        let here = self.path.split('?').next().unwrap_or("");
        let inside = here == href || (href != "/admin" && here.starts_with(&format!("{href}/")));
        askama::filters::Safe(if inside { " aria-current=\"page\"" } else { "" })
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
    /// A size in bytes, `12.3 MB`.
    pub fn size(&self, bytes: &u64) -> String {
        super::i18n::size(self.lang, *bytes)
    }
    /// A mailbox's usage: "12.3 MB of 1 GB", "12.3 MB (no limit)", or "not reported yet".
    pub fn usage(&self, used: &Option<u64>, quota: &Option<u64>) -> String {
        match (used, quota) {
            (Some(u), Some(q)) => self.t2("usage-of", "used", self.size(u), "quota", self.size(q)),
            (Some(u), None) => self.t1("usage-unlimited", "used", self.size(u)),
            (None, Some(q)) => self.t1("usage-unknown-of", "quota", self.size(q)),
            (None, None) => self.t("usage-unknown"),
        }
    }
    /// The machine-readable form of a time, for `<time datetime>`.
    pub fn iso(&self, t: &i64) -> String {
        let c = pochta_directory::date::Civil::from_unix(*t);
        format!("{:04}-{:02}-{:02}T{:02}:{:02}Z", c.year, c.month, c.day, c.secs / 3600, c.secs % 3600 / 60)
    }
    /// A time as this reader's zone and locale write it: `03.12.2026 20:50 MSK`.
    pub fn when(&self, t: &i64) -> String {
        self.zone.datetime(self.lang, *t)
    }
    /// "5 minutes ago", with the language's plural forms.
    pub fn ago(&self, secs: &i64) -> String {
        let s = (*secs).max(0);
        match s {
            0..10 => self.t("ago-just-now"),
            10..60 => self.t1("ago-seconds", "count", s),
            60..3600 => self.t1("ago-minutes", "count", s / 60),
            3600..86400 => self.t1("ago-hours", "count", s / 3600),
            _ => self.t1("ago-days", "count", s / 86400),
        }
    }

    /// A span of time, "45 s", "12 min", "2 h 5 min".
    pub fn duration(&self, secs: u64) -> String {
        match secs {
            0..60 => self.t1("dur-seconds", "count", secs),
            60..3600 => self.t1("dur-minutes", "count", secs.div_ceil(60)),
            _ => self.t2("dur-hours", "hours", secs / 3600, "minutes", (secs % 3600) / 60),
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
}
