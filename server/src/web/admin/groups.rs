//! Aliases and lists: create, edit members and posting policy, see what an address expands to,
//! grouped by site.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::{Directory, GroupKind, PostingPolicy};
use serde::Deserialize;

use super::ConfirmPage;
use super::users::{Empty, OkQuery};
use crate::error::ApiError;
use crate::manage;
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, DomainAdmin, Page, Posted, urlencode};
use crate::web::{FormErrors, flash, refused};

pub fn kind_code(k: GroupKind) -> &'static str {
    match k {
        GroupKind::Alias => "alias",
        GroupKind::List => "list",
    }
}

pub fn policy_code(p: PostingPolicy) -> &'static str {
    match p {
        PostingPolicy::Anyone => "anyone",
        PostingPolicy::Internal => "internal",
        PostingPolicy::Members => "members",
    }
}

fn parse_kind(s: &str) -> Result<GroupKind, ApiError> {
    match s {
        "alias" => Ok(GroupKind::Alias),
        "list" => Ok(GroupKind::List),
        _ => Err(ApiError::bad_request("kind: alias or list").key("err-group-kind").field("kind")),
    }
}

fn parse_policy(s: &str) -> Result<Option<PostingPolicy>, ApiError> {
    match s {
        "" => Ok(None),
        "anyone" => Ok(Some(PostingPolicy::Anyone)),
        "internal" => Ok(Some(PostingPolicy::Internal)),
        "members" => Ok(Some(PostingPolicy::Members)),
        _ => Err(ApiError::bad_request("policy: anyone, internal or members")
            .key("err-group-policy")
            .field("policy")),
    }
}

pub struct GroupRow {
    pub name: String,
    pub address: String,
    pub kind: &'static str,
    pub policy: &'static str,
    pub members: usize,
    pub description: String,
}

#[derive(Template)]
#[template(path = "groups.html")]
pub struct GroupsPage {
    pub c: Ctx,
    pub rows: Vec<GroupRow>,
    pub ok: Option<String>,
}

pub async fn list(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Response {
    let (dir, _) = st.publisher.current();
    let rows = dir
        .groups
        .values()
        .map(|g| GroupRow {
            name: g.name.to_string(),
            address: dir.official(&g.name).to_string(),
            kind: kind_code(g.kind),
            policy: policy_code(g.policy),
            members: g.members.len(),
            description: g.description.clone(),
        })
        .collect();
    let page = GroupsPage { c: ctx.clone(), rows, ok: flash(&ctx, &q.ok) };
    ctx.render(StatusCode::OK, &page)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub policy: String,
    /// One address per line (or separated by commas).
    #[serde(default)]
    pub members: String,
}

impl GroupForm {
    fn member_list(&self) -> Vec<String> {
        self.members.split(['\n', ',', ';']).map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect()
    }
}

#[derive(Template)]
#[template(path = "group_new.html")]
pub struct NewGroupPage {
    pub c: Ctx,
    pub form: GroupForm,
    pub errors: FormErrors,
}

/// The new alias or list form; `?kind=alias&members=a@b` fills it in (the shortcut on a
/// user's page).
pub async fn new_page(Page(ctx, ..): Page<DomainAdmin>, WebQuery(given): WebQuery<GroupForm>) -> Response {
    let kind = if given.kind == "alias" { "alias" } else { "list" };
    let form = GroupForm { kind: kind.into(), ..given };
    ctx.render(StatusCode::OK, &NewGroupPage { c: ctx.clone(), form, errors: FormErrors::default() })
}

const FIELDS: &[&str] = &["name", "kind", "description", "policy", "members"];

pub async fn create(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<DomainAdmin, GroupForm>,
) -> Response {
    let result = async {
        let new = manage::groups::NewGroup {
            name: form.name.clone(),
            kind: parse_kind(&form.kind)?,
            description: form.description.clone(),
            members: form.member_list(),
            policy: parse_policy(&form.policy)?,
        };
        manage::groups::create(&st, &ctx.actor(), new).await
    }
    .await;
    match result {
        Ok((name, _)) => {
            Redirect::to(&format!("/admin/groups/{}?ok=group-created", urlencode(name.as_str())))
                .into_response()
        }
        Err(e) => {
            let errors = FormErrors::from_api(&e, ctx.lang, FIELDS);
            ctx.render(refused(e.status), &NewGroupPage { c: ctx.clone(), form, errors })
        }
    }
}

pub struct SiteExpansion {
    pub site: String,
    pub site_name: String,
    pub mailboxes: Vec<String>,
}

#[derive(Template)]
#[template(path = "group.html")]
pub struct GroupPage {
    pub c: Ctx,
    pub name: String,
    pub address: String,
    pub form: GroupForm,
    pub members: Vec<String>,
    pub expansion: Vec<SiteExpansion>,
    pub external: Vec<String>,
    pub mailbox_count: usize,
    pub expansion_error: Option<String>,
    pub ok: Option<String>,
    pub errors: FormErrors,
    /// The add-one-member field, as typed.
    pub member: String,
}

fn group_page(
    dir: &Directory,
    ctx: &Ctx,
    name: &str,
    form: Option<GroupForm>,
    errors: FormErrors,
) -> Result<GroupPage, ApiError> {
    let g = manage::groups::find(dir, name)?;
    let address = dir.official(&g.name);
    let (expansion, external, expansion_error) = match manage::groups::expansion(dir, &address) {
        Ok(x) => {
            let sites = x
                .sites
                .into_iter()
                .map(|(site, mailboxes)| SiteExpansion {
                    site_name: pochta_directory::SiteId::parse(&site)
                        .ok()
                        .and_then(|id| dir.site(&id).map(|s| s.name.clone()))
                        .unwrap_or_default(),
                    site,
                    mailboxes,
                })
                .collect();
            (sites, x.external, None)
        }
        Err(e) => (vec![], vec![], Some(ctx.lang.ta(e.key, &e.args))),
    };
    let mailbox_count = expansion.iter().map(|s: &SiteExpansion| s.mailboxes.len()).sum();
    let members: Vec<String> = g.members.iter().map(ToString::to_string).collect();
    let form = form.unwrap_or_else(|| GroupForm {
        name: g.name.to_string(),
        kind: kind_code(g.kind).into(),
        description: g.description.clone(),
        policy: policy_code(g.policy).into(),
        members: members.join("\n"),
    });
    Ok(GroupPage {
        c: ctx.clone(),
        name: g.name.to_string(),
        address: address.to_string(),
        form,
        members,
        expansion,
        external,
        mailbox_count,
        expansion_error,
        ok: None,
        errors,
        member: String::new(),
    })
}

pub async fn show(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    Path(name): Path<String>,
    WebQuery(q): WebQuery<OkQuery>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let mut page =
        group_page(&dir, &ctx, &name, None, FormErrors::default()).map_err(|e| WebError::api(e, &ctx))?;
    page.ok = flash(&ctx, &q.ok);
    Ok(ctx.render(StatusCode::OK, &page))
}

fn again(
    st: &AppState,
    ctx: &Ctx,
    name: &str,
    form: Option<GroupForm>,
    member: String,
    e: ApiError,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let errors = FormErrors::from_api(&e, ctx.lang, &["kind", "description", "policy", "members", "member"]);
    let mut page = group_page(&dir, ctx, name, form, errors).map_err(|e| WebError::api(e, ctx))?;
    page.member = member;
    Ok(ctx.render(refused(e.status), &page))
}

pub async fn update(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<DomainAdmin, GroupForm>,
) -> Result<Response, WebError> {
    let result = async {
        let patch = manage::groups::GroupPatch {
            description: Some(form.description.clone()),
            members: Some(form.member_list()),
            policy: parse_policy(&form.policy)?,
            kind: Some(parse_kind(&form.kind)?),
        };
        manage::groups::update(&st, &ctx.actor(), &name, patch).await
    }
    .await;
    match result {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/groups/{}?ok=group-saved", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, Some(form), String::new(), e),
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    member: String,
}

pub async fn add_member(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, MemberForm>,
) -> Result<Response, WebError> {
    match manage::groups::add_member(&st, &ctx.actor(), &name, &form.member).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/groups/{}?ok=member-added", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, None, form.member, e),
    }
}

pub async fn remove_member(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, form, ..): Posted<AdminOnly, MemberForm>,
) -> Result<Response, WebError> {
    match manage::groups::remove_member(&st, &ctx.actor(), &name, &form.member).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/admin/groups/{}?ok=member-removed", urlencode(&name))).into_response())
        }
        Err(e) => again(&st, &ctx, &name, None, String::new(), e),
    }
}

pub async fn delete_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let g = manage::groups::find(&dir, &name).map_err(|e| WebError::api(e, &ctx))?;
    let address = dir.official(&g.name);
    let containing = dir.groups_containing(&address).count();
    let page = ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("delete-group-title", "address", &address),
        lines: vec![
            ctx.t1("delete-group-what", "address", &address),
            ctx.t1("delete-group-containing", "count", containing),
        ],
        action: format!("/admin/groups/{}/delete", urlencode(g.name.as_str())),
        button: ctx.t("delete-button"),
        danger: true,
        cancel: format!("/admin/groups/{}", urlencode(g.name.as_str())),
        hidden: vec![],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn delete(
    State(st): State<AppState>,
    Path(name): Path<String>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    manage::groups::delete(&st, &ctx.actor(), &name).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to("/admin/groups?ok=group-deleted").into_response())
}
