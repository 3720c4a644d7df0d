//! History: the change log read as the audit log — who changed what, when, old → new —
//! filtered by author, record, site, type and date, each set revertible as a new one.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use pochta_directory::wire::Version;
use pochta_directory::{Directory, Op, SiteId};
use serde::Deserialize;

use super::ConfirmPage;
use super::users::Empty;
use crate::audit::{self, Change, Field, Kind, Record, Value};
use crate::db::{self, changelog::Filter, changelog::HistoryItem};
use crate::manage;
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::error::WebError;
use crate::web::session::{Ctx, DomainAdmin, Page, Posted, urlencode};

pub const PER_PAGE: i64 = 50;

/// What the change log's author of a user's own change ends with (`ivanov@example.org (self-service)`).
pub const SELF_SERVICE: &str = " (self-service)";

/// One thing a set did, in words, with a link to the record when it still exists.
pub struct Line {
    pub text: String,
    pub href: Option<String>,
    /// "Full name: Anna → Anna Petrova", one per changed field.
    pub fields: Vec<String>,
}

pub struct HistoryRow {
    pub version: u64,
    pub author: String,
    pub at: i64,
    pub lines: Vec<Line>,
    pub details: String,
    pub bytes: usize,
    pub reverts: Option<u64>,
}

/// A site as a sentence names it: its name, or its id when it is gone.
fn site_name(dir: &Directory, id: &SiteId) -> String {
    dir.site(id).map_or_else(|| id.to_string(), |s| s.name.clone())
}

fn value(c: &Ctx, v: &Value) -> String {
    match v {
        Value::Text(t) => t.clone(),
        Value::Size(Some(b)) => c.size(b),
        Value::Size(None) => c.t("value-no-limit"),
        Value::Key(k) => c.t(k),
        Value::On(true) => c.t("value-yes"),
        Value::On(false) => c.t("value-no"),
        Value::Empty => c.t("value-none"),
    }
}

fn field(c: &Ctx, f: &Field) -> String {
    let name = c.t(&format!("field-{}", f.name));
    if f.old == Value::Empty && f.new == Value::Empty {
        // A change the log names without quoting (a vacation reply's text).
        return name;
    }
    c.lang.ta("field-change", &[("field", name), ("old", value(c, &f.old)), ("new", value(c, &f.new))])
}

fn user_href(dir: &Directory, name: &pochta_directory::LocalPart) -> Option<String> {
    dir.user(name).map(|_| format!("/admin/users/{}", urlencode(name.as_str())))
}
fn group_href(dir: &Directory, name: &pochta_directory::LocalPart) -> Option<String> {
    dir.group(name).map(|_| format!("/admin/groups/{}", urlencode(name.as_str())))
}
fn site_href(dir: &Directory, id: &SiteId) -> Option<String> {
    dir.site(id).map(|_| format!("/admin/sites/{}", urlencode(id.as_str())))
}

/// One change in words, in the page's language, naming sites by their names.
pub fn change_line(c: &Ctx, dir: &Directory, ch: &Change) -> Line {
    let line = |text: String, href: Option<String>| Line { text, href, fields: vec![] };
    let with_fields = |text: String, href: Option<String>, fields: &[Field]| Line {
        text,
        href,
        fields: fields.iter().map(|f| field(c, f)).collect(),
    };
    let kind = |k: pochta_directory::GroupKind| match k {
        pochta_directory::GroupKind::Alias => "alias",
        pochta_directory::GroupKind::List => "list",
    };
    match ch {
        Change::SiteCreated { site, level } => {
            line(c.t2("ch-site-created", "site", site_name(dir, site), "level", *level), site_href(dir, site))
        }
        Change::SiteChanged { site, fields } => with_fields(
            c.t1(
                if fields.is_empty() { "ch-site-saved" } else { "ch-site-changed" },
                "site",
                site_name(dir, site),
            ),
            site_href(dir, site),
            fields,
        ),
        Change::SiteDeleted { site } => line(c.t1("ch-site-deleted", "site", site), None),
        Change::UserCreated { name, site, enabled } => line(
            c.lang.ta(
                "ch-user-created",
                &[
                    ("name", name.to_string()),
                    ("site", site_name(dir, site)),
                    ("enabled", if *enabled { "yes" } else { "no" }.into()),
                ],
            ),
            user_href(dir, name),
        ),
        Change::UserMoved { name, from, to } => line(
            c.lang.ta(
                "ch-user-moved",
                &[("name", name.to_string()), ("from", site_name(dir, from)), ("to", site_name(dir, to))],
            ),
            user_href(dir, name),
        ),
        Change::UserDisabled { name } => line(c.t1("ch-user-disabled", "name", name), user_href(dir, name)),
        Change::UserEnabled { name } => line(c.t1("ch-user-enabled", "name", name), user_href(dir, name)),
        Change::UserChanged { name, fields } => with_fields(
            c.t1(if fields.is_empty() { "ch-user-saved" } else { "ch-user-changed" }, "name", name),
            user_href(dir, name),
            fields,
        ),
        Change::UserDeleted { name, site } => line(
            match site {
                Some(s) => c.t2("ch-user-deleted-at", "name", name, "site", site_name(dir, s)),
                None => c.t1("ch-user-deleted", "name", name),
            },
            None,
        ),
        Change::PasswordChanged { name } => line(c.t1("op-set-password", "name", name), user_href(dir, name)),
        Change::PasswordRemoved { name } => {
            line(c.t1("ch-password-removed", "name", name), user_href(dir, name))
        }
        Change::AppPasswordAdded { name, label } => {
            line(c.t2("ch-app-password-added", "name", name, "label", label), user_href(dir, name))
        }
        Change::AppPasswordRevoked { name, label } => {
            line(c.t2("ch-app-password-revoked", "name", name, "label", label), user_href(dir, name))
        }
        Change::GroupCreated { name, kind: k, members } => line(
            c.lang.ta(
                "ch-group-created",
                &[("name", name.to_string()), ("kind", kind(*k).into()), ("count", members.to_string())],
            ),
            group_href(dir, name),
        ),
        Change::MemberAdded { group, member } => {
            line(c.t2("ch-member-added", "member", member, "group", group), group_href(dir, group))
        }
        Change::MemberRemoved { group, member } => {
            line(c.t2("ch-member-removed", "member", member, "group", group), group_href(dir, group))
        }
        Change::GroupChanged { name, kind: k, fields } => with_fields(
            c.lang.ta(
                if fields.is_empty() { "ch-group-saved" } else { "ch-group-changed" },
                &[("name", name.to_string()), ("kind", kind(*k).into())],
            ),
            group_href(dir, name),
            fields,
        ),
        Change::GroupDeleted { name } => line(c.t1("op-delete-group", "name", name), None),
        Change::DkimKey { selector, state, algorithm } => line(
            c.lang.ta(
                "op-put-dkim-key",
                &[
                    ("selector", selector.to_string()),
                    ("algorithm", algorithm.clone()),
                    (
                        "state",
                        match state {
                            pochta_directory::dkim::KeyState::Pending => "pending",
                            pochta_directory::dkim::KeyState::Active => "active",
                            pochta_directory::dkim::KeyState::Retiring { .. } => "retiring",
                        }
                        .into(),
                    ),
                ],
            ),
            Some("/admin/dns".into()),
        ),
        Change::DkimDeleted { selector } => line(c.t1("op-delete-dkim-key", "selector", selector), None),
        Change::Settings { unicode_names } => line(
            c.t(if *unicode_names { "op-unicode-names-on" } else { "op-unicode-names-off" }),
            Some("/admin/sites".into()),
        ),
    }
}

/// The changes of a list of ops, given the record each replaced; `priors` is `None` for sets
/// written before the log kept them, which are then told without old values.
pub fn describe_ops(c: &Ctx, dir: &Directory, ops: &[Op], priors: Option<&[Option<Record>]>) -> Vec<Line> {
    ops.iter()
        .enumerate()
        .flat_map(|(i, op)| match priors {
            Some(p) => audit::changes(op, p.get(i).and_then(Option::as_ref)),
            None => audit::changes_unknown_prior(op),
        })
        .map(|ch| change_line(c, dir, &ch))
        .collect()
}

/// At most this many lines per set on the page; the rest are counted.
const MAX_LINES: usize = 8;

pub fn history_rows(c: &Ctx, dir: &Directory, items: &[HistoryItem]) -> Vec<HistoryRow> {
    items
        .iter()
        .map(|h| {
            // The log's own JSON, passwords hidden: a hidden hash still says a password was set.
            let ops: Vec<Op> = serde_json::from_value(h.ops.clone()).unwrap_or_default();
            let priors: Option<Vec<Option<Record>>> =
                serde_json::from_value(h.prior.clone()).ok().filter(|p: &Vec<_>| p.len() == ops.len());
            let mut lines = describe_ops(c, dir, &ops, priors.as_deref());
            if lines.len() > MAX_LINES {
                let more = lines.len() - MAX_LINES;
                lines.truncate(MAX_LINES);
                lines.push(Line {
                    text: c.t1("history-more-ops", "count", more),
                    href: None,
                    fields: vec![],
                });
            }
            // A user's own change (his password, his mailbox settings) is logged with this mark.
            let author = match h.author.strip_suffix(SELF_SERVICE) {
                Some(name) => c.t1("history-self-service", "name", name),
                None => h.author.clone(),
            };
            HistoryRow {
                version: h.version,
                author,
                at: h.at,
                lines,
                details: serde_json::to_string_pretty(&h.ops).unwrap_or_default(),
                bytes: h.bytes,
                reverts: h.reverts,
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    object: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    kind: String,
    /// `YYYY-MM-DD`, UTC, inclusive.
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    before: Option<u64>,
    #[serde(default)]
    ok: String,
}

impl HistoryQuery {
    /// The query string of these filters, for the pager's link.
    fn to_query(&self) -> String {
        [
            ("q", &self.q),
            ("author", &self.author),
            ("object", &self.object),
            ("site", &self.site),
            ("kind", &self.kind),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", urlencode(v)))
        .collect()
    }
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub c: Ctx,
    pub q: String,
    pub object: String,
    pub since: String,
    pub until: String,
    pub authors: Vec<Choice>,
    pub sites: Vec<Choice>,
    pub kinds: Vec<Choice>,
    /// A filter that could not be read, in words.
    pub error: Option<String>,
    pub flash: Option<String>,
    pub rows: Vec<HistoryRow>,
    /// Link to older entries, when there may be some.
    pub older: Option<String>,
    pub filtered: bool,
}

fn given(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A date filter as Unix seconds at the start of that day in the reader's zone, or what is
/// wrong with it.
fn day_start(ctx: &Ctx, s: &str) -> Result<Option<i64>, String> {
    match given(s) {
        None => Ok(None),
        Some(d) => ctx.zone.day_start(&d).map(Some).ok_or_else(|| ctx.t1("err-history-date", "value", d)),
    }
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    WebQuery(q): WebQuery<HistoryQuery>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let mut error = None;
    let mut date = |s: &str| {
        day_start(&ctx, s).unwrap_or_else(|e| {
            error = Some(e);
            None
        })
    };
    let since = date(&q.since);
    // The "to" day is inclusive: up to the start of the next (a day is not always 24 hours).
    let until = given(&q.until)
        .and_then(|d| d.parse::<jiff::civil::Date>().ok())
        .and_then(|d| d.tomorrow().ok())
        .map(|d| d.to_string());
    let until = match until {
        Some(next) => date(&next),
        None => date(&q.until),
    };
    let kind = given(&q.kind).and_then(|k| Kind::parse(&k));
    let filter = Filter {
        text: given(&q.q),
        author: given(&q.author),
        object: given(&q.object),
        site: given(&q.site),
        kind,
        since,
        until,
    };
    let internal = |e: db::DbError| WebError::internal(e).with(&ctx);
    let items = db::changelog::history(&st.db.pool, &filter, q.before.map(Version), PER_PAGE)
        .await
        .map_err(internal)?;
    let older = (items.len() as i64 == PER_PAGE).then(|| {
        let last = items.last().map_or(0, |i| i.version);
        format!("/admin/history?{}before={last}", q.to_query())
    });
    let authors = db::changelog::authors(&st.db.pool)
        .await
        .map_err(internal)?
        .into_iter()
        .map(|a| Choice { selected: a == q.author.trim(), label: a.clone(), value: a })
        .collect();
    let sites = dir
        .sites
        .values()
        .map(|s| Choice {
            value: s.id.to_string(),
            label: s.name.clone(),
            selected: s.id.as_str() == q.site.trim(),
        })
        .collect();
    let kinds = Kind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().into(),
            label: ctx.t(&format!("history-kind-{}", k.as_str())),
            selected: Some(*k) == kind,
        })
        .collect();
    let page = HistoryPage {
        rows: history_rows(&ctx, &dir, &items),
        q: q.q.trim().to_owned(),
        object: q.object.trim().to_owned(),
        since: q.since.trim().to_owned(),
        until: q.until.trim().to_owned(),
        filtered: !q.to_query().is_empty(),
        flash: crate::web::flash(&ctx, &q.ok),
        authors,
        sites,
        kinds,
        error,
        older,
        c: ctx.clone(),
    };
    let status = if page.error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(ctx.render(status, &page))
}

fn parse_version(ctx: &Ctx, v: &str) -> Result<u64, WebError> {
    v.parse().map_err(|_| WebError::not_found().with(ctx))
}

/// The confirmation: what reverting the set will do, in the same words as the history.
pub async fn revert_page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<DomainAdmin>,
    Path(version): Path<String>,
) -> Result<Response, WebError> {
    let version = parse_version(&ctx, &version)?;
    let plan = manage::history::plan(&st, version).await.map_err(|e| WebError::api(e, &ctx))?;
    let (dir, _) = st.publisher.current();
    let mut lines = vec![ctx.lang.ta(
        "revert-intro",
        &[("version", version.to_string()), ("author", plan.author.clone()), ("when", ctx.when(&plan.at))],
    )];
    // Told as the history will tell the revert: each op against the record it will replace.
    let mut after = (*dir).clone();
    for op in &plan.ops {
        let before = audit::prior(&after, op);
        for ch in audit::changes(op, before.as_ref()) {
            let l = change_line(&ctx, &dir, &ch);
            lines.push(if l.fields.is_empty() {
                l.text
            } else {
                format!("{} ({})", l.text, l.fields.join("; "))
            });
            if let Change::UserMoved { name, .. } = ch {
                lines.push(ctx.t1("revert-moves-back", "name", name));
            }
        }
        let _ = after.apply(op);
    }
    let page = ConfirmPage {
        c: ctx.clone(),
        title: ctx.t1("revert-title", "version", version),
        lines,
        action: format!("/admin/history/{version}/revert"),
        button: ctx.t("revert-button"),
        danger: false,
        cancel: "/admin/history".into(),
        hidden: vec![],
    };
    Ok(ctx.render(StatusCode::OK, &page))
}

pub async fn revert(
    State(st): State<AppState>,
    Path(version): Path<String>,
    Posted(ctx, ..): Posted<DomainAdmin, Empty>,
) -> Result<Response, WebError> {
    let version = parse_version(&ctx, &version)?;
    manage::history::revert(&st, &ctx.actor(), version).await.map_err(|e| WebError::api(e, &ctx))?;
    Ok(Redirect::to("/admin/history?ok=reverted").into_response())
}
