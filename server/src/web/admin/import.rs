//! Bulk import of users from CSV: a dry run shows what would change; importing makes it one
//! change set, or nothing when any line is wrong.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::manage::import::{self, Action, Plan};
use crate::state::AppState;
use crate::web::FormErrors;
use crate::web::WebQuery;
use crate::web::session::{AdminOnly, Ctx, Page, Posted};

pub struct PreviewRow {
    pub line: usize,
    pub name: String,
    pub display_name: String,
    pub site: String,
    pub action: &'static str,
    pub class: &'static str,
    pub note: String,
}

#[derive(Template)]
#[template(path = "import.html")]
pub struct ImportPage {
    pub c: Ctx,
    pub csv: String,
    pub rows: Vec<PreviewRow>,
    pub summary: Option<String>,
    /// Set after a real import: the version it made.
    pub done: Option<String>,
    /// After a real import: the users it created and updated, for links.
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub valid: bool,
    pub errors: FormErrors,
}

fn preview(c: &Ctx, plan: &Plan) -> (Vec<PreviewRow>, String) {
    let rows = plan
        .rows
        .iter()
        .map(|r| {
            let (action, class) = match r.action {
                Action::Create => ("import-create", "ok"),
                Action::Update => ("import-update", "warn"),
                Action::Unchanged => ("import-unchanged", "muted"),
                Action::Invalid => ("import-invalid", "bad"),
            };
            let note = match &r.error {
                Some(e) => match r.column {
                    Some(col) => c.lang.ta(
                        "import-at-column",
                        &[
                            ("column", col.to_string()),
                            ("name", import::COLUMNS[col - 1].to_owned()),
                            ("error", c.lang.ta(e.key, &e.args)),
                        ],
                    ),
                    None => c.lang.ta(e.key, &e.args),
                },
                None => r
                    .changes
                    .iter()
                    .map(|ch| {
                        c.t(match *ch {
                            "display_name" => "import-field-display-name",
                            "site" => "import-field-site",
                            "enabled" => "import-field-enabled",
                            "quota" => "import-field-quota",
                            _ => "import-field-password",
                        })
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            PreviewRow {
                line: r.line,
                name: r.name.clone(),
                display_name: r.display_name.clone(),
                site: r.site.clone(),
                action,
                class,
                note,
            }
        })
        .collect();
    let summary = c.lang.ta(
        "import-summary",
        &[
            ("create", plan.count(Action::Create).to_string()),
            ("update", plan.count(Action::Update).to_string()),
            ("unchanged", plan.count(Action::Unchanged).to_string()),
            ("count", plan.count(Action::Invalid).to_string()),
        ],
    );
    (rows, summary)
}

pub async fn page(Page(ctx, ..): Page<AdminOnly>) -> Response {
    let page = ImportPage {
        c: ctx.clone(),
        csv: String::new(),
        rows: vec![],
        summary: None,
        done: None,
        created: vec![],
        updated: vec![],
        valid: false,
        errors: FormErrors::default(),
    };
    ctx.render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct ExportQuery {
    /// `1`: for Excel (a byte-order mark, `;` between fields).
    #[serde(default)]
    excel: String,
}

/// All users as CSV, in the import's columns plus the mailbox size.
pub async fn export(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<ExportQuery>,
) -> Response {
    use axum::response::IntoResponse;
    let dir = st.publisher.current().0;
    let usage = st.reports.usage();
    // A site administrator's file holds their users only.
    let users: Vec<&pochta_directory::User> =
        dir.users.values().filter(|u| ctx.scope().covers(&u.site)).collect();
    let body = import::export_users(users.into_iter(), |u| usage.of(u), q.excel == "1");
    let name = format!("users-{}.csv", dir.domain);
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
    /// "preview" (dry run) or "apply".
    #[serde(default)]
    action: String,
}

pub async fn submit(
    State(st): State<AppState>,
    Posted(ctx, form, ..): Posted<AdminOnly, ImportForm>,
) -> Response {
    let (plan, version) = if form.action == "apply" {
        match import::apply(&st, &ctx.actor(), &form.csv).await {
            Ok(r) => r,
            Err(e) => {
                let errors = FormErrors::from_api(&e, ctx.lang, &["csv"]);
                let page = ImportPage {
                    c: ctx.clone(),
                    csv: form.csv,
                    rows: vec![],
                    summary: None,
                    done: None,
                    created: vec![],
                    updated: vec![],
                    valid: false,
                    errors,
                };
                return ctx.render(crate::web::refused(e.status), &page);
            }
        }
    } else {
        (import::plan(&st.publisher.current().0, ctx.scope(), &form.csv), None)
    };
    let (rows, summary) = preview(&ctx, &plan);
    let errors = match &plan.error {
        Some(e) => FormErrors::from_api(e, ctx.lang, &["csv"]),
        None => FormErrors::default(),
    };
    let valid = plan.is_valid();
    let status = if valid { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let done = version.map(|v| ctx.t1("import-done", "version", v.0));
    let names = |a: Action| -> Vec<String> {
        plan.rows.iter().filter(|r| r.action == a).map(|r| r.name.to_lowercase()).collect()
    };
    if done.is_some() {
        // After a real import: what it did, with links, instead of the preview; the form starts empty.
        let page = ImportPage {
            c: ctx.clone(),
            csv: String::new(),
            rows: vec![],
            summary: Some(summary),
            done,
            created: names(Action::Create),
            updated: names(Action::Update),
            valid: false,
            errors,
        };
        return ctx.render(status, &page);
    }
    let page = ImportPage {
        c: ctx.clone(),
        csv: form.csv,
        rows,
        summary: Some(summary),
        done,
        created: vec![],
        updated: vec![],
        valid,
        errors,
    };
    ctx.render(status, &page)
}
