//! The end user's own page: his addresses, home site and lists, his mailbox (usage and quota,
//! forwarding and vacation reply, which he sets himself; the quota is the administrator's),
//! the settings for his mail program, and changing his password.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use pochta_directory::password::check_strength;
use serde::Deserialize;

use super::app_passwords::{AppsView, MadeApp};
use super::error::WebError;
use super::mailbox::{self, ClientRow, MailboxFacts, MailboxForm};
use super::session::{Ctx, Page, Posted, UserOnly};
use super::{FormErrors, flash};
use crate::db;
use crate::manage;
use crate::state::AppState;
use crate::web::WebQuery;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me_page))
        .route("/me/password", post(change_password))
        .route("/me/mailbox", post(change_mailbox))
        .route("/me/app-passwords", post(create_app_password))
        .route("/me/app-passwords/{id}/revoke", post(revoke_app_password))
}

#[derive(Template)]
#[template(path = "me.html")]
pub(super) struct MePage {
    pub c: Ctx,
    pub display_name: String,
    pub official: String,
    pub local: String,
    pub former: Vec<String>,
    pub site_id: String,
    pub site_name: String,
    pub lists: Vec<(String, String)>,
    pub ok: Option<String>,
    pub errors: FormErrors,
    pub mb: MailboxForm,
    pub mb_action: String,
    pub mb_quota: bool,
    pub facts: MailboxFacts,
    pub client: Vec<ClientRow>,
    pub apps: AppsView,
}

fn me(st: &AppState, ctx: &Ctx, errors: FormErrors, ok: Option<String>) -> Result<MePage, WebError> {
    me_with(st, ctx, errors, ok, None)
}

/// The page; `posted`: the mailbox form as typed, when it was refused.
fn me_with(
    st: &AppState,
    ctx: &Ctx,
    errors: FormErrors,
    ok: Option<String>,
    posted: Option<MailboxForm>,
) -> Result<MePage, WebError> {
    let (dir, _) = st.publisher.current();
    let u = manage::users::find(&dir, ctx.name()).map_err(|e| WebError::api(e, ctx))?;
    let addrs = manage::users::addresses(&dir, u);
    let lists = manage::groups::groups_of(&dir, &addrs)
        .into_iter()
        .filter_map(|n| dir.group(&n))
        .map(|g| (dir.official(&g.name).to_string(), g.description.clone()))
        .collect();
    Ok(MePage {
        c: ctx.clone(),
        display_name: u.display_name.clone(),
        official: addrs[0].to_string(),
        local: addrs[1].to_string(),
        former: addrs[2..].iter().map(ToString::to_string).collect(),
        site_id: u.site.to_string(),
        site_name: dir.site(&u.site).map(|s| s.name.clone()).unwrap_or_default(),
        lists,
        ok,
        errors,
        mb: posted.unwrap_or_else(|| MailboxForm::of(u)),
        mb_action: "/me/mailbox".into(),
        mb_quota: false,
        facts: MailboxFacts::of(st, &dir, u),
        client: mailbox::client_rows(st, &dir, u),
        apps: AppsView::of(u, false),
    })
}

#[derive(Deserialize)]
struct OkQuery {
    #[serde(default)]
    ok: String,
}

async fn me_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<UserOnly>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    let page = me(&st, &ctx, FormErrors::default(), flash(&ctx, &q.ok))?;
    Ok(ctx.render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Changes the user's own password: the current one is required, the new one must meet the
/// strength rules, and every other session of his ends. It is a change set like any edit, so it
/// reaches his site's agent (SMTP AUTH, IMAP) within moments.
async fn change_password(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<UserOnly, PasswordForm>,
) -> Result<Response, WebError> {
    let again = |errors: FormErrors| -> Result<Response, WebError> {
        Ok(ctx.render(StatusCode::UNPROCESSABLE_ENTITY, &me(&st, &ctx, errors, None)?))
    };
    let now = db::now();
    let account = format!("{}@{}", ctx.name(), ctx.domain);
    if let Some(wait) = st.web.limiter.wait(&account, ctx.client, now) {
        return again(FormErrors::field("current", super::ratelimit::wait_message(&ctx, wait)));
    }
    let hash = {
        let (dir, _) = st.publisher.current();
        let u = manage::users::find(&dir, ctx.name()).map_err(|e| WebError::api(e, &ctx))?;
        u.password.clone()
    };
    let current_ok = match hash {
        Some(h) => st.verify_password(h.0, form.current.clone()).await,
        None => false,
    };
    if !current_ok {
        st.web.limiter.failed(&account, ctx.client, now);
        return again(FormErrors::field("current", ctx.t("err-current-password")));
    }
    if let Err(e) = check_strength(&form.password) {
        return again(FormErrors::from_api(&e.into(), ctx.lang, &["password"]));
    }
    if form.password != form.confirm {
        return again(FormErrors::field("confirm", ctx.t("err-password-mismatch")));
    }
    if form.password == form.current {
        return again(FormErrors::field("password", ctx.t("err-password-same")));
    }
    let author = format!("{}{}", ctx.name(), crate::web::admin::history::SELF_SERVICE);
    let ended =
        match manage::users::set_own_password(&st, &author, ctx.name(), form.password, ctx.cookie.as_deref())
            .await
        {
            Ok(ended) => ended,
            Err(e) => return again(FormErrors::from_api(&e, ctx.lang, &["password"])),
        };
    tracing::info!(user = ctx.name(), other_sessions_ended = ended, "password changed by its user");
    Ok(Redirect::to("/me?ok=password-changed").into_response())
}

/// The user's own forwarding and vacation reply. The quota is not his to set: the form has no
/// such field and whatever is posted for it is ignored.
async fn change_mailbox(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<UserOnly, MailboxForm>,
) -> Result<Response, WebError> {
    let author = format!("{}{}", ctx.name(), crate::web::admin::history::SELF_SERVICE);
    let r = match form.patch(false) {
        // His own record: no administrator's scope applies.
        Ok(patch) => {
            let by = manage::scope::Actor { name: author, scope: manage::scope::Scope::Domain };
            manage::users::update(&st, &by, ctx.name(), patch).await
        }
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => Ok(Redirect::to("/me?ok=mailbox-saved").into_response()),
        Err(e) => {
            let errors = mailbox::form_errors(&e, ctx.lang);
            let page = me_with(&st, &ctx, errors, None, Some(form))?;
            Ok(ctx.render(super::refused(e.status), &page))
        }
    }
}

/// The user himself, as the author of his own edits: no administrator's scope applies.
fn himself(ctx: &Ctx) -> manage::scope::Actor {
    let name = format!("{}{}", ctx.name(), crate::web::admin::history::SELF_SERVICE);
    manage::scope::Actor { name, scope: manage::scope::Scope::Domain }
}

#[derive(Deserialize)]
struct LabelForm {
    #[serde(default)]
    label: String,
}

/// Makes an app password and shows it on the page that answers, once: it is not kept anywhere
/// it could be shown from again.
async fn create_app_password(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<UserOnly, LabelForm>,
) -> Result<Response, WebError> {
    match manage::app_passwords::create(&st, &himself(&ctx), ctx.name(), &form.label).await {
        Ok(made) => {
            tracing::info!(user = ctx.name(), label = %made.app.label, "app password made by its user");
            let mut page = me(&st, &ctx, FormErrors::default(), None)?;
            page.apps.made = Some(MadeApp { label: made.app.label, password: made.password });
            Ok(ctx.render(StatusCode::OK, &page))
        }
        Err(e) => {
            let page = me(&st, &ctx, FormErrors::from_api(&e, ctx.lang, &["label"]), None)?;
            Ok(ctx.render(super::refused(e.status), &page))
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn revoke_app_password(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Posted(ctx, ..): Posted<UserOnly, Empty>,
) -> Result<Response, WebError> {
    // No app password has id 0: a path that is not a number is "no such app password".
    let id = id.parse().unwrap_or(0);
    let (gone, _) = manage::app_passwords::revoke(&st, &himself(&ctx), ctx.name(), id)
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    tracing::info!(user = ctx.name(), label = %gone.label, "app password revoked by its user");
    Ok(Redirect::to("/me?ok=app-password-revoked#app-passwords").into_response())
}
