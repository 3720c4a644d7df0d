//! The mail queue of each site in the browser: what waits at each of its agents and why, and
//! retry now, bounce or delete one or many — through the agent, which acts on and answers from
//! its own queue (`manage::queue`).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::api::QueueAction;
use serde::Deserialize;

use super::ConfirmPage;
use crate::manage::queue::{self, Reach};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, Page, Posted, urlencode};
use crate::web::{WebQuery, flash};

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    #[serde(default)]
    site: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    ok: String,
}

pub struct LetterRow {
    pub id: String,
    pub age: String,
    pub from: String,
    /// "address — last error", one per recipient still waiting.
    pub waiting: Vec<String>,
    pub attempts: u32,
    pub next: String,
    pub size: String,
}

pub struct AgentBlock {
    pub id: String,
    /// Why there is no table: the agent pulls, or did not answer.
    pub problem: Option<String>,
    pub summary: String,
    pub rows: Vec<LetterRow>,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub c: Ctx,
    pub sites: Vec<(String, String)>,
    pub site: String,
    pub q: String,
    pub ok: Option<String>,
    pub agents: Vec<AgentBlock>,
}

fn block(c: &Ctx, aq: queue::AgentQueue, now_ms: i64) -> AgentBlock {
    let id = aq.agent.id.clone();
    match aq.reach {
        Reach::Pulls => AgentBlock {
            problem: Some(c.t1("queue-pulls", "agent", &id)),
            summary: String::new(),
            rows: vec![],
            id,
        },
        Reach::Failed(why) => AgentBlock {
            problem: Some(c.t2("queue-unreachable", "agent", &id, "reason", why)),
            summary: String::new(),
            rows: vec![],
            id,
        },
        Reach::Answer(a) => AgentBlock {
            summary: if a.matched == a.queued {
                c.t1("queue-count", "count", a.queued)
            } else {
                c.t2("queue-count-matched", "count", a.matched, "total", a.queued)
            },
            rows: a
                .letters
                .iter()
                .map(|l| LetterRow {
                    id: l.id.clone(),
                    age: c.duration(((now_ms - l.created).max(0) / 1000) as u64),
                    from: l.from.clone().unwrap_or_else(|| c.t("queue-null-sender")),
                    waiting: l
                        .waiting
                        .iter()
                        .map(|w| match &w.last_error {
                            Some(e) => format!("{} — {e}", w.address),
                            None => w.address.clone(),
                        })
                        .collect(),
                    attempts: l.attempts,
                    next: if l.next_try < now_ms + 1000 {
                        c.t("queue-next-now")
                    } else {
                        c.t1("queue-next-in", "time", c.duration(((l.next_try - now_ms) / 1000) as u64))
                    },
                    size: c.size(&l.size),
                })
                .collect(),
            problem: None,
            id,
        },
    }
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<QueueQuery>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    // Only the sites this administrator may touch.
    let mine = || dir.sites.values().filter(|s| ctx.scope().covers(&s.id));
    let sites: Vec<(String, String)> =
        mine().map(|s| (s.id.to_string(), format!("{} ({})", s.name, s.id))).collect();
    // By default the first site with an agent: the one with a queue to show.
    let site = match q.site.trim() {
        "" => mine().find(|s| !s.agents.is_empty()).map(|s| s.id.to_string()).unwrap_or_default(),
        s => s.to_owned(),
    };
    if !site.is_empty()
        && dir
            .site(&pochta_directory::SiteId::parse(&site).map_err(|_| WebError::not_found().with(&ctx))?)
            .is_none()
    {
        return Err(WebError::not_found().with(&ctx));
    }
    let now_ms = crate::db::now() * 1000;
    let agents = queue::of_site(&st, ctx.scope(), &site, &q.q)
        .await
        .map_err(|e| WebError::api(e, &ctx))?
        .into_iter()
        .map(|aq| block(&ctx, aq, now_ms))
        .collect();
    let ok = flash(&ctx, &q.ok);
    let page = QueuePage { c: ctx.clone(), sites, site, q: q.q.trim().to_owned(), ok, agents };
    Ok(ctx.render(StatusCode::OK, &page))
}

/// The queue form: the agent, the action, and one `m.<id>` field per chosen letter.
#[derive(Deserialize)]
pub struct ActionForm {
    site: String,
    #[serde(default)]
    q: String,
    agent: String,
    action: String,
    #[serde(default)]
    confirm: String,
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

pub async fn act(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, ActionForm>,
) -> Result<Response, WebError> {
    let action = match form.action.as_str() {
        "retry" => QueueAction::Retry,
        "bounce" => QueueAction::Bounce,
        "delete" => QueueAction::Delete,
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, "err-invalid").with(&ctx)),
    };
    let ids: Vec<String> = form.rest.keys().filter_map(|k| k.strip_prefix("m.")).map(str::to_owned).collect();
    let back = format!("/admin/queue?site={}&q={}", urlencode(&form.site), urlencode(&form.q));
    // Giving up on letters cannot be undone: say what will happen first.
    if action != QueueAction::Retry && form.confirm != "yes" && !ids.is_empty() {
        let mut hidden: Vec<(String, String)> = vec![
            ("site".into(), form.site.clone()),
            ("q".into(), form.q.clone()),
            ("agent".into(), form.agent.clone()),
            ("action".into(), form.action.clone()),
            ("confirm".into(), "yes".into()),
        ];
        hidden.extend(ids.iter().map(|id| (format!("m.{id}"), "on".to_owned())));
        let page = ConfirmPage {
            c: ctx.clone(),
            title: ctx.t1(&format!("queue-confirm-{}", form.action), "count", ids.len()),
            lines: vec![
                ctx.t1(&format!("queue-confirm-{}-what", form.action), "agent", &form.agent),
                ids.join(", "),
            ],
            action: "/admin/queue".into(),
            button: ctx.t(&format!("queue-{}", form.action)),
            danger: true,
            cancel: back,
            hidden,
        };
        return Ok(ctx.render(StatusCode::OK, &page));
    }
    queue::act(&st, &ctx.actor(), &form.agent, action, ids).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to(&format!("{back}&ok=queue-{}", form.action)).into_response())
}
