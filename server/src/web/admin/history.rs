//! History: the change log read as the audit log — who changed what, when — searchable.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use pochta_directory::wire::Version;
use serde::Deserialize;
use serde_json::Value;

use crate::db::{self, changelog::HistoryItem};
use crate::state::AppState;
use crate::web::WebQuery;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, Page, urlencode};

pub const PER_PAGE: i64 = 50;

/// What the change log's author of a user's own change ends with (`ivanov@example.org (self-service)`).
pub const SELF_SERVICE: &str = " (self-service)";

pub struct HistoryRow {
    pub version: u64,
    pub author: String,
    pub at: i64,
    pub lines: Vec<String>,
    pub details: String,
    pub bytes: usize,
}

/// One op of a change set in words.
fn describe(c: &Ctx, op: &Value) -> String {
    let s = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    match op.get("op").and_then(Value::as_str).unwrap_or("") {
        "put_site" => c.t2(
            "op-put-site",
            "site",
            s("id"),
            "level",
            op.get("level").and_then(Value::as_u64).unwrap_or(0),
        ),
        "delete_site" => c.t1("op-delete-site", "site", s("id")),
        "put_user" => {
            let state = if op.get("enabled").and_then(Value::as_bool).unwrap_or(true) {
                "enabled"
            } else {
                "disabled"
            };
            c.lang.ta("op-put-user", &[("name", s("name")), ("site", s("site")), ("state", state.to_owned())])
        }
        "set_password" => c.t1("op-set-password", "name", s("name")),
        "delete_user" => c.t1("op-delete-user", "name", s("name")),
        "put_group" => c.lang.ta(
            "op-put-group",
            &[
                ("name", s("name")),
                ("kind", s("kind")),
                ("count", op.get("members").and_then(Value::as_array).map_or(0, Vec::len).to_string()),
            ],
        ),
        "delete_group" => c.t1("op-delete-group", "name", s("name")),
        "put_dkim_key" => c.lang.ta(
            "op-put-dkim-key",
            &[("selector", s("selector")), ("state", s("state")), ("algorithm", s("algorithm"))],
        ),
        "delete_dkim_key" => c.t1("op-delete-dkim-key", "selector", s("selector")),
        "put_settings" => c.t(if op.get("unicode_names").and_then(Value::as_bool).unwrap_or(false) {
            "op-unicode-names-on"
        } else {
            "op-unicode-names-off"
        }),
        other => other.to_owned(),
    }
}

pub fn history_rows(c: &Ctx, items: &[HistoryItem]) -> Vec<HistoryRow> {
    items
        .iter()
        .map(|h| {
            let ops = h.ops.as_array().cloned().unwrap_or_default();
            let mut lines: Vec<String> = ops.iter().take(5).map(|op| describe(c, op)).collect();
            if ops.len() > 5 {
                lines.push(c.t1("history-more-ops", "count", ops.len() - 5));
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
            }
        })
        .collect()
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    q: String,
    before: Option<u64>,
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub c: Ctx,
    pub q: String,
    pub rows: Vec<HistoryRow>,
    /// Link to older entries, when there may be some.
    pub older: Option<String>,
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<HistoryQuery>,
) -> Result<Response, WebError> {
    let needle = q.q.trim();
    let items = db::changelog::history(
        &st.db.pool,
        Some(needle).filter(|n| !n.is_empty()),
        q.before.map(Version),
        PER_PAGE,
    )
    .await
    .map_err(|e| WebError::internal(e).with(&ctx))?;
    let older = (items.len() as i64 == PER_PAGE).then(|| {
        let last = items.last().map_or(0, |i| i.version);
        format!("/admin/history?q={}&before={last}", urlencode(needle))
    });
    let page = HistoryPage { rows: history_rows(&ctx, &items), q: needle.to_owned(), older, c: ctx.clone() };
    Ok(ctx.render(StatusCode::OK, &page))
}
