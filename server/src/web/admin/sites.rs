//! Sites: create and edit (name, subdomain, level), agents and their enrollment codes, MX
//! priorities computed from the levels as in the paper.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::{Directory, SiteId};
use serde::Deserialize;

use super::ConfirmPage;
use super::users::{Empty, OkQuery};
use crate::db;
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;
use crate::summary::SiteSummary;
use crate::web::WebQuery;
use crate::web::agent_view::{AgentView, agent_views};
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, DomainAdmin, Page, Posted, urlencode};
use crate::web::{FormErrors, flash, refused};

pub struct SiteRow {
    pub id: String,
    pub name: String,
    pub level: u8,
    pub domain: String,
    pub users: usize,
    pub active: usize,
    pub mx: Option<u16>,
    pub agents: usize,
}

/// One row per site; `summary` is the directory's (`AppState::current_with_summary`).
pub fn site_rows(dir: &Directory, summary: &SiteSummary) -> Vec<SiteRow> {
    dir.sites
        .values()
        .map(|s| {
            let (users, active) = summary.users(&s.id);
            SiteRow {
                id: s.id.to_string(),
                name: s.name.clone(),
                level: u8::from(s.level),
                domain: dir.site_domain(&s.id).to_string(),
                users,
                active,
                mx: summary.mx_of(&s.id),
                agents: s.agents.len(),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SiteForm {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub level: String,
    /// A number in `default_quota_unit` (MB or GB); empty: no limit. Only the edit form has it.
    #[serde(default)]
    pub default_quota: String,
    #[serde(default)]
    pub default_quota_unit: String,
    /// The site's outgoing addresses for SPF, one per line. Only the edit form has it.
    #[serde(default)]
    pub outgoing: String,
}

impl SiteForm {
    pub fn quota_in_gb(&self) -> bool {
        self.default_quota_unit.eq_ignore_ascii_case("GB")
    }
}

/// A stored quota as the form shows it: whole gigabytes in GB, anything else in MB.
fn quota_field(q: Option<u64>) -> (String, String) {
    use crate::manage::mailbox::{GB, MB};
    match q {
        None => (String::new(), "GB".into()),
        Some(q) if q % GB == 0 => ((q / GB).to_string(), "GB".into()),
        Some(q) if q % MB == 0 => ((q / MB).to_string(), "MB".into()),
        Some(q) => (format!("{:.2}", q as f64 / MB as f64), "MB".into()),
    }
}

#[derive(Template)]
#[template(path = "sites.html")]
pub struct SitesPage {
    pub c: Ctx,
    pub rows: Vec<SiteRow>,
    pub form: SiteForm,
    pub errors: FormErrors,
    pub ok: Option<String>,
    /// The domain lets new names have letters of other alphabets.
    pub unicode_names: bool,
}

pub async fn list(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Response {
    let (dir, _, summary) = st.current_with_summary();
    let form = SiteForm { level: "1".into(), ..Default::default() };
    let page = SitesPage {
        c: ctx.clone(),
        // A site administrator's list: their sites only.
        rows: site_rows(&dir, &summary)
            .into_iter()
            .filter(|r| SiteId::parse(&r.id).is_ok_and(|id| ctx.scope().covers(&id)))
            .collect(),
        form,
        errors: FormErrors::default(),
        ok: flash(&ctx, &q.ok),
        unicode_names: dir.settings.unicode_names,
    };
    ctx.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct NamesForm {
    /// "on" when the box is ticked (an unticked box is not sent).
    #[serde(default)]
    unicode_names: String,
}

/// The domain's name rule: Latin only, or other alphabets too.
pub async fn names(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, NamesForm>,
) -> Response {
    match manage::settings::set_unicode_names(&st, &ctx.actor(), form.unicode_names == "on").await {
        Ok(_) => Redirect::to("/admin/sites?ok=settings-saved").into_response(),
        Err(e) => WebError::api(e, &ctx).into_response(),
    }
}

pub async fn create(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, SiteForm>,
) -> Response {
    let result = async {
        let level = manage::sites::parse_level(&form.level)?;
        let new = manage::sites::NewSite {
            id: form.id.clone(),
            name: form.name.clone(),
            level,
            default_quota: None,
        };
        manage::sites::create(&st, &ctx.actor(), new).await
    }
    .await;
    match result {
        Ok((id, _)) => Redirect::to(&format!("/admin/sites/{id}?ok=site-created")).into_response(),
        Err(e) => {
            let (dir, _, summary) = st.current_with_summary();
            let errors = FormErrors::from_api(&e, ctx.lang, &["id", "name", "level"]);
            let rows = site_rows(&dir, &summary);
            let page = SitesPage {
                c: ctx.clone(),
                rows,
                form,
                errors,
                ok: None,
                unicode_names: dir.settings.unicode_names,
            };
            ctx.render(refused(e.status), &page)
        }
    }
}

#[derive(Template)]
#[template(path = "site.html")]
pub struct SitePage {
    pub c: Ctx,
    pub row: SiteRow,
    pub form: SiteForm,
    pub agents: Vec<AgentView>,
    /// The quota of its users who have none of their own; `None`: no limit.
    pub default_quota: Option<u64>,
    pub errors: FormErrors,
    pub ok: Option<String>,
    /// A fresh enrollment code, right after one was made.
    pub code: Option<String>,
    pub code_expires: i64,
    /// The agents table shows endpoints and the forget button here (not on the dashboard).
    pub agent_tools: bool,
    /// Per agent, the SMTP endpoint other sites send to (empty: none).
    pub smtp: Vec<(String, String)>,
    /// Per agent, what it last said about itself: "version 0.1.0 · 12.3 GB free of 50 GB".
    pub facts: Vec<(String, String)>,
}

async fn site_page(
    st: &AppState,
    ctx: &Ctx,
    id: &str,
    form: Option<SiteForm>,
    errors: FormErrors,
) -> Result<SitePage, WebError> {
    let (dir, version, summary) = st.current_with_summary();
    let site = manage::sites::find(&dir, id).map_err(|e| WebError::api(e, ctx))?;
    let row =
        site_rows(&dir, &summary).into_iter().find(|r| r.id == site.id.as_str()).expect("the site exists");
    let agents = db::auth::agents(&st.db.pool).await.map_err(|e| WebError::internal(e).with(ctx))?;
    let agents = agent_views(
        agents.into_iter().filter(|a| a.site == site.id.as_str()).collect(),
        version.0,
        db::now(),
    );
    let default_quota = site.default_quota;
    let (code, code_expires) = match st.web.code_for(&ctx.csrf, site.id.as_str()) {
        Some((code, expires)) => (
            Some(enroll_commands(site.id.as_str(), dir.domain.as_str(), u8::from(site.level), &code)),
            expires,
        ),
        None => (None, 0),
    };
    let form = form.unwrap_or_else(|| {
        let (default_quota, default_quota_unit) = quota_field(site.default_quota);
        SiteForm {
            id: row.id.clone(),
            name: row.name.clone(),
            level: row.level.to_string(),
            default_quota,
            default_quota_unit,
            outgoing: site.outgoing.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
        }
    });
    let smtp = site.agents.iter().map(|a| (a.id.clone(), a.smtp.clone())).collect();
    let facts = st
        .facts
        .by_agent()
        .into_iter()
        .filter(|(_, s, _)| s == site.id.as_str())
        .map(|(agent, _, f)| {
            let text = ctx.lang.ta(
                "agent-facts",
                &[
                    ("version", f.version.clone()),
                    ("free", ctx.size(&f.disk_free)),
                    ("total", ctx.size(&f.disk_total)),
                ],
            );
            (agent, text)
        })
        .collect();
    Ok(SitePage {
        c: ctx.clone(),
        row,
        form,
        agents,
        default_quota,
        errors,
        ok: None,
        code,
        code_expires,
        agent_tools: true,
        smtp,
        facts,
    })
}

pub async fn show(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path(id): Path<String>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    if let Ok(site) = SiteId::parse(&id) {
        ctx.scope().need_site(&site).map_err(|e| WebError::api(e, &ctx))?;
    }
    let mut page = site_page(&st, &ctx, &id, None, FormErrors::default()).await?;
    page.ok = flash(&ctx, &q.ok);
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn update(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Posted(ctx, form, ..): Posted<DomainAdmin, SiteForm>,
) -> Result<Response, WebError> {
    let result: Result<_, ApiError> = async {
        let level = manage::sites::parse_level(&form.level)?;
        let quota = manage::mailbox::parse_quota_in(&form.default_quota, &form.default_quota_unit)
            .map_err(|e| e.field("default_quota"))?;
        let patch = manage::sites::SitePatch {
            name: Some(form.name.clone()),
            level: Some(level),
            default_quota: Some(quota),
            outgoing: Some(vec![form.outgoing.clone()]),
        };
        manage::sites::update(&st, &ctx.actor(), &id, patch).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/sites/{}?ok=site-saved", urlencode(&id))).into_response()),
        Err(e) => {
            let errors = FormErrors::from_api(&e, ctx.lang, &["name", "level", "default_quota", "outgoing"]);
            let page = site_page(&st, &ctx, &id, Some(form), errors).await?;
            Ok(ctx.render(refused(e.status), &page))
        }
    }
}

/// Makes a one-time enrollment code and shows it once.
pub async fn enrollment(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Posted(ctx, ..): Posted<AdminOnly, Empty>,
) -> Result<Response, WebError> {
    let (site, code, expires) =
        manage::sites::enrollment(&st, ctx.scope(), &id).await.map_err(|e| WebError::api(e, &ctx))?;
    // POST → redirect → GET: the page that shows the code can be refreshed without making another.
    st.web.keep_code(&ctx.csrf, site.as_str(), code, expires);
    Ok(Redirect::to(&format!("/admin/sites/{}#enroll-command", urlencode(site.as_str()))).into_response())
}

/// The commands that make a working agent of a site's level: levels 0 and 1 are reached by the
/// server and the other sites (HTTPS for pushes, SMTP for mail); level 2 pulls its changes.
pub fn enroll_commands(site: &str, domain: &str, level: u8, code: &str) -> String {
    let host = format!("{site}.{domain}");
    let reach = if level == 2 {
        "--pull".to_owned()
    } else {
        format!("--listen 0.0.0.0:7443 --advertise-url https://{host}:7443")
    };
    format!(
        "pochta-agent enroll --data /var/lib/pochta-agent --code {code} {reach} --smtp {host}:25\n\
         pochta-agent run --data /var/lib/pochta-agent"
    )
}

pub async fn delete_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let site = manage::sites::find(&dir, &id).map_err(|e| WebError::api(e, &ctx))?;
    let users = dir.users_at(&site.id).count();
    let mut lines = vec![
        ctx.t1("delete-site-what", "site", &site.id),
        ctx.t1("delete-site-agents", "count", site.agents.len()),
    ];
    if users > 0 {
        lines.push(ctx.t2("err-site-not-empty", "site", &site.id, "count", users));
    }
    let page = ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("delete-site-title", "site", &site.id),
        lines,
        action: format!("/admin/sites/{}/delete", site.id),
        // A site with users cannot be deleted: no button that would only be refused.
        button: if users > 0 { String::new() } else { ctx.t("delete-button") },
        danger: true,
        cancel: format!("/admin/sites/{}", site.id),
        hidden: vec![],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn delete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    manage::sites::delete(&st, &ctx.actor(), &id).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to("/admin/sites?ok=site-deleted").into_response())
}

/// What forgetting an agent does, before it is done.
pub async fn forget_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path((id, agent)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let site = manage::sites::find(&dir, &id).map_err(|e| WebError::api(e, &ctx))?;
    ctx.scope().need_site(&site.id).map_err(|e| WebError::api(e, &ctx))?;
    if !db::auth::agents(&st.db.pool)
        .await
        .map_err(|e| WebError::internal(e).with(&ctx))?
        .iter()
        .any(|a| a.id == agent && a.site == site.id.as_str())
    {
        return Err(WebError::not_found().with(&ctx));
    }
    let others = site.agents.iter().filter(|a| a.id != agent && !a.smtp.is_empty()).count();
    let mut lines = vec![
        ctx.t1("forget-agent-access", "agent", &agent),
        ctx.t1("forget-agent-mail", "site", &site.name),
        ctx.t("forget-agent-queue"),
    ];
    lines.push(if others == 0 {
        ctx.t1("forget-agent-last", "site", &site.name)
    } else {
        ctx.t1("forget-agent-others", "count", others)
    });
    lines.push(ctx.t("forget-agent-again"));
    let page = super::ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("forget-agent-title", "agent", &agent),
        lines,
        action: format!("/admin/sites/{}/agents/{}/forget", urlencode(site.id.as_str()), urlencode(&agent)),
        button: ctx.t("forget-agent-button"),
        danger: true,
        cancel: format!("/admin/sites/{}", urlencode(site.id.as_str())),
        hidden: vec![],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn forget(
    State(st): State<AppState>,
    Path((id, agent)): Path<(String, String)>,
    Posted(ctx, ..): Posted<AdminOnly, super::users::Empty>,
) -> Result<Response, WebError> {
    manage::agents::remove(&st, &ctx.actor(), &agent).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to(&format!("/admin/sites/{}?ok=agent-forgotten", urlencode(&id))).into_response())
}
