//! Paused web logins: the accounts strangers must wait for after failed passwords, and the
//! client addresses refused for every account, with a button that lifts each. (The agents keep
//! their own pauses for SMTP AUTH, IMAP and POP3; those end by themselves.)

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::users::OkQuery;
use crate::db;
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::flash;
use crate::web::ratelimit::wait_message;
use crate::web::session::{Ctx, DomainAdmin, Page, Posted};

pub struct PausedRow {
    pub what: String,
    pub detail: String,
    /// The form field that lifts it: `account` or `client`.
    pub field: &'static str,
}

#[derive(Template)]
#[template(path = "logins.html")]
pub struct LoginsPage {
    pub c: Ctx,
    /// (heading, rows): accounts, then client addresses.
    pub sections: Vec<(String, Vec<PausedRow>)>,
    pub ok: Option<String>,
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Response {
    let accounts = st
        .web
        .limiter
        .paused_accounts()
        .into_iter()
        .map(|p| PausedRow {
            detail: ctx.t2("logins-account-detail", "count", p.failures, "wait", wait_message(&ctx, p.wait)),
            what: p.account,
            field: "account",
        })
        .collect();
    let clients = st
        .web
        .limiter
        .blocked_clients(db::now())
        .into_iter()
        .map(|(ip, wait)| PausedRow {
            what: ip.to_string(),
            detail: wait_message(&ctx, wait),
            field: "client",
        })
        .collect();
    let sections = vec![(ctx.t("logins-accounts"), accounts), (ctx.t("logins-clients"), clients)];
    let page = LoginsPage { sections, ok: flash(&ctx, &q.ok), c: ctx.clone() };
    ctx.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LiftForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    client: String,
}

pub async fn lift(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, LiftForm>,
) -> Response {
    if !form.account.is_empty() {
        st.web.limiter.lift_account(&form.account);
        tracing::info!(admin = ctx.name(), account = form.account, "web login pause lifted");
    }
    if let Ok(ip) = form.client.parse() {
        st.web.limiter.lift_client(ip);
        tracing::info!(admin = ctx.name(), client = form.client, "web login block lifted");
    }
    Redirect::to("/admin/logins?ok=login-lifted").into_response()
}
