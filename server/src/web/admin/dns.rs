//! DNS: the records to publish (`manage::dns`), as a zone-file snippet to copy with comments in
//! the reader's language, the sites that are not published yet and why, the DKIM keys with
//! their rotation, and a live check of what DNS says now.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::dkim::KeyState;
use serde::Deserialize;

use super::users::{Empty, OkQuery};
use crate::db;
use crate::error::ApiError;
use crate::manage;
use crate::manage::dkim::KeyView;
use crate::manage::dns::{Checked, Found, NotYet, Purpose, Zone};
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::error::WebError;
use crate::web::i18n::Lang;
use crate::web::session::{Ctx, DomainAdmin, Page, Posted, urlencode};
use crate::web::{FormErrors, flash, refused};

fn not_yet_key(why: NotYet) -> &'static str {
    match why {
        NotYet::NoAgent => "dns-not-yet-no-agent",
        NotYet::NoSmtp => "dns-not-yet-no-smtp",
        NotYet::NeverReported => "dns-not-yet-never-reported",
    }
}

fn purpose_key(p: Purpose) -> &'static str {
    match p {
        Purpose::Mx => "dns-mx-comment",
        Purpose::Address => "dns-a-comment",
        Purpose::Spf => "dns-spf-comment",
        Purpose::Dkim => "dns-dkim-comment",
        Purpose::Dmarc => "dns-dmarc-comment",
        Purpose::MtaSts => "dns-mta-sts-comment",
        Purpose::TlsRpt => "dns-tls-rpt-comment",
    }
}

fn key_state_text(lang: Lang, s: &KeyState) -> String {
    match s {
        KeyState::Pending => lang.t("dkim-state-pending"),
        KeyState::Active => lang.t("dkim-state-active"),
        KeyState::Retiring { until } => {
            lang.ta("dkim-state-retiring", &[("until", super::super::i18n::datetime(*until))])
        }
    }
}

/// A TXT value in zone-file syntax: quoted strings of at most 255 bytes (RFC 1035 §3.3.14).
fn quoted(v: &str) -> String {
    let parts: Vec<String> =
        v.as_bytes().chunks(250).map(|c| format!("\"{}\"", String::from_utf8_lossy(c))).collect();
    parts.join(" ")
}

/// The zone-file snippet, with comments in `lang`.
pub fn zone_text(lang: Lang, z: &Zone) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("; {}", lang.ta("dns-zone-header", &[("domain", z.domain.clone())])));
    line(format!("$ORIGIN {}.", z.domain));
    if z.mx.is_empty() {
        line(String::new());
        line(format!("; {}", lang.t("dns-no-mx")));
    }
    let mut last = None;
    for r in &z.records {
        if last != Some(r.purpose) {
            line(String::new());
            line(format!("; {}", lang.ta(purpose_key(r.purpose), &[("domain", z.domain.clone())])));
            last = Some(r.purpose);
        }
        if let Some(s) = &r.key_state {
            line(format!("; {}: {}", r.name, key_state_text(lang, s)));
        }
        let value = if r.kind == "TXT" { quoted(&r.value) } else { r.value.clone() };
        line(format!("{:<24} IN {:<4} {value}", r.name, r.kind));
    }
    if !z.not_yet.is_empty() {
        line(String::new());
        line(format!("; {}", lang.t("dns-not-yet-comment")));
        for (site, why) in &z.not_yet {
            line(format!("; {site}: {}", lang.t(not_yet_key(*why))));
        }
    }
    out
}

pub struct CheckRow {
    pub name: String,
    pub kind: &'static str,
    pub expected: String,
    pub class: &'static str,
    pub text: String,
}

fn check_rows(c: &Ctx, checked: &[Checked]) -> Vec<CheckRow> {
    checked
        .iter()
        .map(|x| {
            let (class, text) = match &x.found {
                Found::Correct => ("ok", c.t("dns-check-correct")),
                Found::Missing => ("bad", c.t("dns-check-missing")),
                Found::Different { found } => {
                    ("warn", c.t1("dns-check-different", "found", found.join(" | ")))
                }
                Found::Unanswered { error } => ("bad", c.t1("dns-check-unanswered", "error", error)),
            };
            CheckRow { name: x.name.clone(), kind: x.kind, expected: x.expected.join(" | "), class, text }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "dns.html")]
pub struct DnsPage {
    pub c: Ctx,
    pub zone: String,
    pub mx: Vec<(String, u16)>,
    pub not_yet: Vec<(String, String)>,
    pub keys: Vec<KeyRow>,
    pub checked: Option<Vec<CheckRow>>,
    pub ok: Option<String>,
    pub errors: FormErrors,
}

pub struct KeyRow {
    pub key: KeyView,
    pub state: String,
    pub algorithm: &'static str,
    pub pending: bool,
    pub active: bool,
}

pub async fn current_zone(st: &AppState) -> Result<Zone, ApiError> {
    let (dir, _, summary) = st.current_with_summary();
    let agents = db::auth::agents(&st.db.pool).await?;
    Ok(manage::dns::zone(&dir, &summary, &agents))
}

async fn dns_page(
    st: &AppState,
    ctx: &Ctx,
    checked: Option<Vec<Checked>>,
    errors: FormErrors,
) -> Result<DnsPage, WebError> {
    let z = current_zone(st).await.map_err(|e| WebError::api(e, ctx))?;
    let dir = st.publisher.current().0;
    let keys = manage::dkim::list(&dir)
        .into_iter()
        .map(|key| KeyRow {
            state: key_state_text(ctx.lang, &key.state),
            algorithm: key.algorithm.key_tag(),
            pending: key.state == KeyState::Pending,
            active: key.state == KeyState::Active,
            key,
        })
        .collect();
    Ok(DnsPage {
        zone: zone_text(ctx.lang, &z),
        mx: z.mx.iter().map(|(s, p)| (s.to_string(), *p)).collect(),
        not_yet: z.not_yet.iter().map(|(s, w)| (s.to_string(), ctx.t(not_yet_key(*w)))).collect(),
        keys,
        checked: checked.map(|c| check_rows(ctx, &c)),
        ok: None,
        errors,
        c: ctx.clone(),
    })
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    let mut page = dns_page(&st, &ctx, None, FormErrors::default()).await?;
    page.ok = flash(&ctx, &q.ok);
    Ok(ctx.render(StatusCode::OK, &page))
}

/// The live check: the page again, with what DNS says for every record.
pub async fn check(
    State(st): State<AppState>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    let z = current_zone(&st).await.map_err(|e| WebError::api(e, &ctx))?;
    let checked = manage::dns::check(&z, &st.config.dns_servers, std::time::Duration::from_secs(3)).await;
    let page = dns_page(&st, &ctx, Some(checked), FormErrors::default()).await?;
    Ok(ctx.render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    pub algorithm: String,
}

pub async fn create_key(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, NewKeyForm>,
) -> Result<Response, WebError> {
    let result = async {
        let algorithm = manage::dkim::parse_algorithm(&form.algorithm)?;
        manage::dkim::create(&st, &ctx.actor(), algorithm, "").await
    }
    .await;
    done(&st, &ctx, result.map(|_| ()), "dkim-created").await
}

/// What the key buttons do: `activate`, `retire`, `delete`.
pub async fn key_action(
    State(st): State<AppState>,
    Path((selector, action)): Path<(String, String)>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    let (result, ok) = match action.as_str() {
        "activate" => (manage::dkim::activate(&st, &ctx.actor(), &selector).await, "dkim-activated"),
        "retire" => (manage::dkim::retire(&st, &ctx.actor(), &selector).await, "dkim-retired"),
        "delete" => (manage::dkim::delete(&st, &ctx.actor(), &selector).await, "dkim-deleted"),
        _ => return Err(WebError::api(ApiError::not_found("no such action"), &ctx)),
    };
    done(&st, &ctx, result.map(|_| ()), ok).await
}

async fn done(
    st: &AppState,
    ctx: &Ctx,
    result: Result<(), ApiError>,
    ok: &str,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/admin/dns?ok={}#dkim", urlencode(ok))).into_response()),
        Err(e) => {
            let errors = FormErrors::from_api(&e, ctx.lang, &["algorithm"]);
            let page = dns_page(st, ctx, None, errors).await?;
            Ok(ctx.render(refused(e.status), &page))
        }
    }
}
