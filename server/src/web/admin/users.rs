//! Users: the list (fast with 100,000: served from the in-memory directory), create, edit,
//! disable, delete, reset password, and move to another site with a confirmation.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::{Directory, SiteId};
use serde::Deserialize;

use super::ConfirmPage;
use crate::error::ApiError;
use crate::manage::{self, users::SortKey};
use crate::reports::AgentReports;
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::error::WebError;
use crate::web::mailbox::{self, ClientRow, MailboxFacts, MailboxForm};
use crate::web::session::{AdminOnly, Ctx, Page, Posted, urlencode};
use crate::web::{FormErrors, flash, refused};

pub const PER_PAGE: [usize; 4] = [25, 50, 100, 200];

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UsersQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub site: String,
    /// "", "enabled" or "disabled".
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub sort: String,
    /// "desc" for descending.
    #[serde(default)]
    pub dir: String,
    #[serde(default)]
    pub page: Option<usize>,
    #[serde(default)]
    pub per: Option<usize>,
    #[serde(default)]
    pub ok: String,
}

impl UsersQuery {
    fn per(&self) -> usize {
        self.per.filter(|p| PER_PAGE.contains(p)).unwrap_or(50)
    }
    fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }
    fn query(&self, page: usize, sort: &str, dir: &str) -> String {
        let mut s = format!("/admin/users?page={page}");
        for (k, v) in [
            ("q", self.q.as_str()),
            ("site", &self.site),
            ("status", &self.status),
            ("sort", sort),
            ("dir", dir),
        ] {
            if !v.is_empty() {
                s.push_str(&format!("&{k}={}", urlencode(v)));
            }
        }
        if self.per() != 50 {
            s.push_str(&format!("&per={}", self.per()));
        }
        s
    }
    /// A link to another page of the same search.
    pub fn page_link(&self, page: impl std::borrow::Borrow<usize>) -> String {
        self.query(*page.borrow(), &self.sort, &self.dir)
    }
    /// A link that sorts by `key` (toggling the direction when it is the current key).
    pub fn sort_link(&self, key: &str) -> String {
        let current = SortKey::parse(&self.sort).as_str() == key;
        let dir = if current && self.dir != "desc" { "desc" } else { "" };
        self.query(1, key, dir)
    }
    /// `aria-sort` value of a column.
    pub fn aria_sort(&self, key: &str) -> &'static str {
        if SortKey::parse(&self.sort).as_str() != key {
            "none"
        } else if self.dir == "desc" {
            "descending"
        } else {
            "ascending"
        }
    }
}

pub struct UserRow {
    pub name: String,
    pub address: String,
    pub display_name: String,
    pub site: String,
    pub enabled: bool,
    /// Bytes used (as the home site reported) and the quota in force.
    pub used: Option<u64>,
    pub quota: Option<u64>,
}

#[derive(Template)]
#[template(path = "users.html")]
pub struct UsersPage {
    pub c: Ctx,
    pub q: UsersQuery,
    pub total: usize,
    pub rows: Vec<UserRow>,
    pub sites: Vec<(String, String)>,
    pub page: usize,
    pub pages: usize,
    pub per: usize,
    pub per_options: [usize; 4],
    pub ok: Option<String>,
    /// Aliases and lists, for "add to" in the bulk bar.
    pub groups: Vec<String>,
}

/// Builds the users page (public for the benchmark).
pub fn users_page(dir: &Directory, reports: &AgentReports, c: Ctx, q: UsersQuery) -> UsersPage {
    let usage = reports.usage();
    let usage_of = |u: &pochta_directory::User| usage.of(u);
    let per = q.per();
    let site = if q.site.is_empty() { None } else { SiteId::parse(&q.site).ok() };
    let search = manage::users::Search {
        q: q.q.clone(),
        site,
        enabled: match q.status.as_str() {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
        sort: SortKey::parse(&q.sort),
        desc: q.dir == "desc",
        offset: (q.page() - 1).saturating_mul(per),
        limit: per,
        scope: c.scope().clone(),
    };
    let (mut total, mut found) = manage::users::search(dir, &search, &usage_of);
    let pages = total.div_ceil(per).max(1);
    // Past the end (the list shrank, or a hand-made link): show the last page.
    let page = q.page().min(pages);
    if page < q.page() {
        let search = manage::users::Search { offset: (page - 1) * per, ..search };
        (total, found) = manage::users::search(dir, &search, &usage_of);
    }
    let rows = found
        .into_iter()
        .map(|u| UserRow {
            name: u.name.to_string(),
            address: dir.official(&u.name).to_string(),
            display_name: u.display_name.clone(),
            site: u.site.to_string(),
            enabled: u.enabled,
            used: usage.of(u),
            quota: dir.quota_of(u),
        })
        .collect();
    let sites = dir.sites.values().map(|s| (s.id.to_string(), s.name.clone())).collect();
    let ok = flash(&c, &q.ok);
    let groups = dir.groups.keys().map(ToString::to_string).collect();
    UsersPage { page, c, total, rows, sites, pages, per, per_options: PER_PAGE, ok, q, groups }
}

pub async fn list(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<UsersQuery>,
) -> Response {
    let (dir, _) = st.publisher.current();
    let page = users_page(&dir, &st.reports, ctx.clone(), q);
    ctx.render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "user_new.html")]
pub struct NewUserPage {
    pub c: Ctx,
    pub sites: Vec<(String, String)>,
    pub form: NewUserForm,
    pub errors: FormErrors,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub site: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub enabled: Option<String>,
}

/// Sites that can hold mailboxes (level 1 and 2) and that this administrator may touch.
fn mailbox_sites(dir: &Directory, ctx: &Ctx) -> Vec<(String, String)> {
    dir.sites
        .values()
        .filter(|s| s.level.has_mailboxes() && ctx.scope().covers(&s.id))
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect()
}

pub async fn new_page(State(st): State<AppState>, Page(ctx, ..): Page<AdminOnly>) -> Response {
    let (dir, _) = st.publisher.current();
    let form = NewUserForm { enabled: Some("on".into()), ..Default::default() };
    let page =
        NewUserPage { c: ctx.clone(), sites: mailbox_sites(&dir, &ctx), form, errors: FormErrors::default() };
    ctx.render(StatusCode::OK, &page)
}

pub async fn create(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, NewUserForm>,
) -> Response {
    let new = manage::users::NewUser {
        name: form.name.clone(),
        display_name: form.display_name.clone(),
        site: form.site.clone(),
        password: Some(form.password.clone()).filter(|p| !p.is_empty()),
        enabled: form.enabled.is_some(),
        mailbox: Default::default(),
    };
    match manage::users::create(&st, &ctx.actor(), new).await {
        Ok((name, _)) => Redirect::to(&format!("/admin/users/{}?ok=user-created", urlencode(name.as_str())))
            .into_response(),
        Err(e) => {
            let (dir, _) = st.publisher.current();
            let errors = FormErrors::from_api(&e, ctx.lang, &["name", "display_name", "site", "password"]);
            let mut form = form;
            form.password.clear();
            let page = NewUserPage { c: ctx.clone(), sites: mailbox_sites(&dir, &ctx), form, errors };
            ctx.render(refused(e.status), &page)
        }
    }
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    pub c: Ctx,
    pub name: String,
    pub official: String,
    pub local: String,
    pub former: Vec<String>,
    pub display_name: String,
    pub enabled: bool,
    pub has_password: bool,
    pub site: String,
    pub site_name: String,
    pub groups: Vec<String>,
    /// Every alias and list he is not in, for "add to".
    pub other_groups: Vec<String>,
    /// Sites the user can move to.
    pub move_to: Vec<(String, String)>,
    pub ok: Option<String>,
    pub errors: FormErrors,
    /// The mailbox form (as stored, or as posted when refused) and where it goes.
    pub mb: MailboxForm,
    pub mb_action: String,
    /// The administrator sets the quota; the user on `/me` does not.
    pub mb_quota: bool,
    pub facts: MailboxFacts,
    pub client: Vec<ClientRow>,
    /// The user's mailbox move going on now, and those finished in the last week, as sentences.
    pub moving: Vec<String>,
    pub moves: Vec<String>,
    pub apps: crate::web::app_passwords::AppsView,
}

fn user_page(
    st: &AppState,
    dir: &Directory,
    ctx: &Ctx,
    name: &str,
    ok: Option<String>,
    errors: FormErrors,
    posted: Option<MailboxForm>,
) -> Result<UserPage, ApiError> {
    let u = ctx.scope().user(dir, name)?;
    let addrs = manage::users::addresses(dir, u);
    Ok(UserPage {
        c: ctx.clone(),
        name: u.name.to_string(),
        official: addrs[0].to_string(),
        local: addrs[1].to_string(),
        former: addrs[2..].iter().map(ToString::to_string).collect(),
        display_name: u.display_name.clone(),
        enabled: u.enabled,
        has_password: u.password.is_some(),
        site: u.site.to_string(),
        site_name: dir.site(&u.site).map(|s| s.name.clone()).unwrap_or_default(),
        groups: manage::groups::groups_of(dir, &addrs).iter().map(|g| g.to_string()).collect(),
        other_groups: dir
            .groups
            .values()
            .filter(|g| !addrs.iter().any(|a| g.members.contains(a)))
            .map(|g| g.name.to_string())
            .collect(),
        move_to: mailbox_sites(dir, ctx).into_iter().filter(|(id, _)| *id != u.site.as_str()).collect(),
        ok,
        errors,
        mb: posted.unwrap_or_else(|| MailboxForm::of(u)),
        mb_action: format!("/admin/users/{}/mailbox", urlencode(u.name.as_str())),
        mb_quota: true,
        facts: MailboxFacts::of(st, dir, u),
        client: mailbox::client_rows(st, dir, u),
        moving: st
            .moves
            .all()
            .iter()
            .filter(|(_, m)| m.user == u.name.as_str())
            .map(|(_, m)| crate::web::dashboard::move_text(m, dir, ctx))
            .collect(),
        moves: Vec::new(),
        apps: crate::web::app_passwords::AppsView::of(u, true),
    })
}

#[derive(Deserialize)]
pub struct OkQuery {
    #[serde(default)]
    pub ok: String,
}

pub async fn show(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path(name): Path<String>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let mut page = user_page(&st, &dir, &ctx, &name, flash(&ctx, &q.ok), FormErrors::default(), None)
        .map_err(|e| WebError::api(e, &ctx))?;
    let now = crate::db::now();
    let since = now - crate::web::dashboard::FINISHED_SHOWN_SECS;
    let finished = crate::db::moves::finished(&st.db.pool, Some(&page.name), since, 20)
        .await
        .map_err(|e| WebError::internal(e).with(&ctx))?;
    page.moves =
        finished.iter().map(|m| crate::web::dashboard::finished_move_text(m, &dir, now, &ctx)).collect();
    Ok(ctx.render(StatusCode::OK, &page))
}

/// The page again with a refusal next to its field.
fn again(
    st: &AppState,
    ctx: &Ctx,
    name: &str,
    e: ApiError,
    fields: &[&'static str],
) -> Result<Response, WebError> {
    again_with(st, ctx, name, e, fields, None)
}

/// The same, keeping what was typed in the mailbox form.
fn again_with(
    st: &AppState,
    ctx: &Ctx,
    name: &str,
    e: ApiError,
    fields: &[&'static str],
    posted: Option<MailboxForm>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let errors = FormErrors::from_api(&e, ctx.lang, fields);
    let page = user_page(st, &dir, ctx, name, None, errors, posted).map_err(|e| WebError::api(e, ctx))?;
    Ok(ctx.render(refused(e.status), &page))
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    enabled: Option<String>,
}

pub async fn update(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, EditForm>,
) -> Result<Response, WebError> {
    let enabled = form.enabled.is_some();
    let patch = manage::users::UserPatch {
        display_name: Some(form.display_name),
        enabled: Some(enabled),
        ..Default::default()
    };
    match manage::users::update(&st, &ctx.actor(), &name, patch).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/users/{}?ok=user-saved", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, e, &["display_name"]),
    }
}

/// Quota, forwarding and vacation: one edit, or nothing when any field is refused.
pub async fn update_mailbox(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, MailboxForm>,
) -> Result<Response, WebError> {
    let r = match form.patch(true) {
        Ok(patch) => manage::users::update(&st, &ctx.actor(), &name, patch).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/users/{}?ok=mailbox-saved", urlencode(&name))).into_response())
        }
        Err(e) => again_with(&st, &ctx, &name, e, mailbox::FIELDS, Some(form)),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

pub async fn set_password(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, PasswordForm>,
) -> Result<Response, WebError> {
    match manage::users::set_password(&st, &ctx.actor(), &name, form.password).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/users/{}?ok=password-set", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, e, &["password"]),
    }
}

#[derive(Deserialize)]
pub struct MoveQuery {
    #[serde(default)]
    site: String,
}

/// The confirmation: says what the move will do before anything changes.
pub async fn move_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path(name): Path<String>,
    WebQuery(q): WebQuery<MoveQuery>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let plan = match manage::users::plan_move(&dir, &name, &q.site) {
        Ok(p) => p,
        Err(e) if e.status == StatusCode::NOT_FOUND && e.field.is_none() => {
            return Err(WebError::api(e, &ctx));
        }
        Err(e) => return again(&st, &ctx, &name, e, &["site"]),
    };
    let site_name =
        |id: &SiteId| dir.site(id).map(|s| format!("{} ({id})", s.name)).unwrap_or_else(|| id.to_string());
    let mut lines = vec![
        ctx.t2("move-what", "name", &plan.user, "site", site_name(&plan.to)),
        ctx.t1("move-new-local", "address", &plan.new_local),
    ];
    for a in &plan.kept {
        lines.push(ctx.t1("move-kept", "address", a));
    }
    lines.push(ctx.t1("move-groups", "count", plan.groups.len()));
    lines.push(ctx.t2("move-mail", "from", site_name(&plan.from), "to", site_name(&plan.to)));
    if plan.to_agents == 0 {
        lines.push(ctx.t("move-no-agent"));
    }
    let page = ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("move-title", "name", &plan.user),
        lines,
        action: format!("/admin/users/{}/move", urlencode(plan.user.as_str())),
        button: ctx.t1("move-button", "site", plan.to.as_str()),
        danger: false,
        cancel: format!("/admin/users/{}", urlencode(plan.user.as_str())),
        hidden: vec![("site".into(), plan.to.to_string())],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn move_to(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, MoveQuery>,
) -> Result<Response, WebError> {
    // The same checks as the confirmation page, then the move.
    let checked = manage::users::plan_move(&st.publisher.current().0, &name, &form.site);
    let r = match checked {
        Ok(_) => manage::users::move_to(&st, &ctx.actor(), &name, &form.site).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/users/{}?ok=user-moved", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, e, &["site"]),
    }
}

pub async fn delete_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let u = ctx.scope().user(&dir, &name).map_err(|e| WebError::api(e, &ctx))?;
    let addrs = manage::users::addresses(&dir, u);
    let groups = dir.groups.values().filter(|g| addrs.iter().any(|a| g.members.contains(a))).count();
    let page = ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("delete-user-title", "name", &u.name),
        lines: vec![
            ctx.t1("delete-user-what", "address", &addrs[0]),
            ctx.t1("delete-user-groups", "count", groups),
            ctx.t("delete-user-mailbox"),
        ],
        action: format!("/admin/users/{}/delete", urlencode(u.name.as_str())),
        button: ctx.t("delete-button"),
        danger: true,
        cancel: format!("/admin/users/{}", urlencode(u.name.as_str())),
        hidden: vec![],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

#[derive(Deserialize)]
pub struct Empty {}

pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, ..): Posted<AdminOnly, Empty>,
) -> Result<Response, WebError> {
    manage::users::delete(&st, &ctx.actor(), &name).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to("/admin/users?ok=user-deleted").into_response())
}

/// The bulk bar's form: the action, its site or group, the page to return to, and one
/// `u.<name>` field per chosen user.
#[derive(Deserialize)]
pub struct BulkForm {
    action: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    back: String,
    #[serde(default)]
    confirm: String,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

/// One action on the chosen users: export at once; anything else after a confirmation that
/// says what will change, then as one change set.
pub async fn bulk(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, BulkForm>,
) -> Result<Response, WebError> {
    use manage::users::Bulk;
    let names: Vec<String> =
        form.rest.keys().filter_map(|k| k.strip_prefix("u.")).map(str::to_owned).collect();
    let back = crate::web::session::safe_next(&form.back).unwrap_or_else(|| "/admin/users".into());
    let (dir, _) = st.publisher.current();
    let action = match form.action.as_str() {
        "disable" => Bulk::Disable,
        "enable" => Bulk::Enable,
        "move" => Bulk::Move(form.site.trim().to_owned()),
        "add" => Bulk::AddTo(form.group.trim().to_owned()),
        "delete" => Bulk::Delete,
        "export" => {
            let users: Vec<&pochta_directory::User> = names
                .iter()
                .map(|n| ctx.scope().user(&dir, n))
                .collect::<Result<_, _>>()
                .map_err(|e| WebError::api(e, &ctx))?;
            if users.is_empty() {
                return Err(WebError::api(
                    ApiError::bad_request("choose at least one user").key("err-bulk-none"),
                    &ctx,
                ));
            }
            let usage = st.reports.usage();
            let body = manage::import::export_users(users.into_iter(), |u| usage.of(u), false);
            let name = format!("users-{}-chosen.csv", dir.domain);
            return Ok((
                [
                    (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
                ],
                body,
            )
                .into_response());
        }
        _ => return Err(WebError::new(StatusCode::BAD_REQUEST, "err-invalid").with(&ctx)),
    };
    if form.confirm != "yes" {
        let (_, changed) = manage::users::plan_bulk(&dir, ctx.scope(), &names, &action)
            .map_err(|e| WebError::api(e, &ctx))?;
        let count = names.len();
        let (title, what) = match &action {
            Bulk::Disable => (ctx.t1("bulk-confirm-disable", "count", count), ctx.t("bulk-what-disable")),
            Bulk::Enable => (ctx.t1("bulk-confirm-enable", "count", count), ctx.t("bulk-what-enable")),
            Bulk::Move(site) => {
                let name = SiteId::parse(site)
                    .ok()
                    .and_then(|s| dir.site(&s).map(|s| s.name.clone()))
                    .unwrap_or_default();
                (ctx.t2("bulk-confirm-move", "count", count, "site", name), ctx.t("bulk-what-move"))
            }
            Bulk::AddTo(group) => {
                (ctx.t2("bulk-confirm-add", "count", count, "group", group), ctx.t("bulk-what-add"))
            }
            Bulk::Delete => (ctx.t1("bulk-confirm-delete", "count", count), ctx.t("bulk-what-delete")),
        };
        let mut lines = vec![what];
        if changed < count {
            lines.push(ctx.t2("bulk-unchanged", "changed", changed, "count", count));
        }
        const SHOWN: usize = 20;
        let mut who: Vec<String> = names
            .iter()
            .take(SHOWN)
            .filter_map(|n| ctx.scope().user(&dir, n).ok())
            .map(|u| dir.official(&u.name).to_string())
            .collect();
        if count > SHOWN {
            who.push(ctx.t1("bulk-and-more", "count", count - SHOWN));
        }
        lines.push(who.join(", "));
        let mut hidden: Vec<(String, String)> = vec![
            ("action".into(), form.action.clone()),
            ("site".into(), form.site.clone()),
            ("group".into(), form.group.clone()),
            ("back".into(), back.clone()),
            ("confirm".into(), "yes".into()),
        ];
        hidden.extend(names.iter().map(|n| (format!("u.{n}"), "on".to_owned())));
        let page = ConfirmPage {
            c: ctx.clone(),
            title,
            lines,
            action: "/admin/users/bulk".into(),
            button: ctx.t("bulk-confirm-button"),
            danger: matches!(action, Bulk::Delete | Bulk::Disable),
            cancel: back,
            hidden,
        };
        return Ok(ctx.render(StatusCode::OK, &page));
    }
    let (_, changed) =
        manage::users::bulk(&st, &ctx.actor(), &names, action).await.map_err(|e| WebError::api(e, &ctx))?;
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}ok=bulk-{}", changed.min(1))).into_response())
}

#[derive(Deserialize)]
pub struct AddToGroupForm {
    #[serde(default)]
    group: String,
}

/// "Add to an alias or list" on a user's page: his official address becomes a member.
pub async fn add_to_group(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, AddToGroupForm>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let official =
        dir.official(&ctx.scope().user(&dir, &name).map_err(|e| WebError::api(e, &ctx))?.name).to_string();
    manage::groups::add_member(&st, &ctx.actor(), form.group.trim(), &official)
        .await
        .map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to(&format!("/admin/users/{}?ok=member-added", urlencode(&name))).into_response())
}

#[derive(Deserialize)]
pub struct LabelForm {
    #[serde(default)]
    label: String,
}

/// Makes an app password for the user (for a helpdesk setting up his phone) and shows it once.
pub async fn create_app_password(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, LabelForm>,
) -> Result<Response, WebError> {
    match manage::app_passwords::create(&st, &ctx.actor(), &name, &form.label).await {
        Ok(made) => {
            let (dir, _) = st.publisher.current();
            let mut page = user_page(&st, &dir, &ctx, &name, None, FormErrors::default(), None)
                .map_err(|e| WebError::api(e, &ctx))?;
            page.apps.made =
                Some(crate::web::app_passwords::MadeApp { label: made.app.label, password: made.password });
            Ok(ctx.render(StatusCode::OK, &page))
        }
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(WebError::api(e, &ctx)),
        Err(e) => again(&st, &ctx, &name, e, &["label"]),
    }
}

pub async fn revoke_app_password(
    State(st): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    Posted(ctx, ..): Posted<AdminOnly, Empty>,
) -> Result<Response, WebError> {
    // No app password has id 0: a path that is not a number is "no such app password".
    let id = id.parse().unwrap_or(0);
    manage::app_passwords::revoke(&st, &ctx.actor(), &name, id).await.map_err(|e| WebError::api(e, &ctx))?;
    let to = format!("/admin/users/{}?ok=app-password-revoked#app-passwords", urlencode(&name));
    Ok(Redirect::to(&to).into_response())
}
