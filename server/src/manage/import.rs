//! Bulk import of users from CSV, with a dry run that says what would change.
//!
//! Columns: `name, display_name, site[, password[, enabled[, quota]]]`; a first line starting
//! with `name` is a header. The quota is bytes or a number with MB or GB (`500MB`, `1.5 GB`);
//! an empty quota cell means the site's default, and a file without the column leaves quotas
//! as they are. A new name creates a user; an existing one is updated (display name, site — a
//! move, as one click would do it — enabled, password). The whole file is one change set: when
//! any line is wrong, nothing is imported.

use super::scope::{Actor, Scope};
use std::collections::HashSet;

use pochta_directory::password::check_strength;
use pochta_directory::wire::Version;
use pochta_directory::{Directory, LocalPart, Op, PasswordHash, SiteId, User};

use super::users::{parse_name, parse_site};
use crate::error::ApiError;
use crate::state::AppState;

/// At most this many lines in one import.
pub const MAX_ROWS: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Invalid,
}

#[derive(Debug)]
pub struct Row {
    /// Line number in the file, from 1.
    pub line: usize,
    pub name: String,
    pub display_name: String,
    pub site: String,
    pub action: Action,
    /// For updates: what changes (`display_name`, `site`, `enabled`, `password`).
    pub changes: Vec<&'static str>,
    pub error: Option<ApiError>,
    /// The column (from 1) the error is about, when it is about one.
    pub column: Option<usize>,
    password: Option<String>,
    enabled_text: String,
    enabled: bool,
    quota_text: Option<String>,
    /// `None`: the file has no quota column for this line (leave it as it is).
    quota: Option<Option<u64>>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub rows: Vec<Row>,
    /// A problem with the file as a whole (empty, too long).
    pub error: Option<ApiError>,
}

impl Plan {
    pub fn count(&self, a: Action) -> usize {
        self.rows.iter().filter(|r| r.action == a).count()
    }
    pub fn is_valid(&self) -> bool {
        self.error.is_none() && self.count(Action::Invalid) == 0
    }
}

/// The column names, in order, for messages ("line 3, column 2 (display_name)").
pub const COLUMNS: [&str; 6] = ["name", "display_name", "site", "password", "enabled", "quota"];

/// The field separator of a file: `;` when its first line has more semicolons than commas
/// outside quotes (what Excel writes in locales whose decimal mark is a comma, Russian among
/// them), else `,`.
fn separator(text: &str) -> char {
    let first = text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or("");
    let (mut quoted, mut commas, mut semis) = (false, 0, 0);
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semis += 1,
            _ => {}
        }
    }
    if semis > commas { ';' } else { ',' }
}

/// Splits one CSV line at `sep`: fields in double quotes with `""` for a quote.
fn fields(line: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true
            }
            (c, false) if c == sep => out.push(std::mem::take(&mut cur).trim().to_owned()),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur.trim().to_owned());
    out
}

fn parse_enabled(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "1" | "yes" | "true" | "да" => Some(true),
        "0" | "no" | "false" | "нет" => Some(false),
        _ => None,
    }
}

/// Reads the file and checks every line against the directory and what the importing
/// administrator may touch (`scope`). Changes nothing.
pub fn plan(dir: &Directory, scope: &Scope, text: &str) -> Plan {
    let mut plan = Plan::default();
    let mut seen: HashSet<LocalPart> = HashSet::new();
    // Excel and Notepad start UTF-8 files with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let sep = separator(text);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let f = fields(line, sep);
        if i == 0 && f[0].eq_ignore_ascii_case("name") {
            continue;
        }
        if plan.rows.len() >= MAX_ROWS {
            plan.error = Some(
                ApiError::bad_request(format!("at most {MAX_ROWS} lines per import"))
                    .key("err-import-too-long")
                    .arg("max", MAX_ROWS)
                    .field("csv"),
            );
            break;
        }
        let get = |n: usize| f.get(n).cloned().unwrap_or_default();
        let mut row = Row {
            line: i + 1,
            name: get(0),
            display_name: get(1),
            site: get(2),
            action: Action::Invalid,
            changes: vec![],
            error: None,
            column: None,
            password: Some(get(3)).filter(|p| !p.is_empty()),
            enabled_text: get(4),
            enabled: true,
            quota_text: f.get(5).cloned(),
            quota: None,
        };
        match check_row(dir, scope, &mut row, &mut seen, f.len()) {
            Ok(()) => {}
            Err(e) => {
                row.action = Action::Invalid;
                row.column = e.field.and_then(|f| COLUMNS.iter().position(|c| *c == f)).map(|i| i + 1);
                row.error = Some(e);
            }
        }
        plan.rows.push(row);
    }
    if plan.rows.is_empty() && plan.error.is_none() {
        plan.error =
            Some(ApiError::bad_request("the file has no users").key("err-import-empty").field("csv"));
    }
    plan
}

fn check_row(
    dir: &Directory,
    scope: &Scope,
    row: &mut Row,
    seen: &mut HashSet<LocalPart>,
    columns: usize,
) -> Result<(), ApiError> {
    if !(3..=7).contains(&columns) {
        return Err(ApiError::bad_request(format!(
            "line {}: expected 3 to 7 columns, found {columns}",
            row.line
        ))
        .key("err-import-columns")
        .arg("count", columns));
    }
    let name = parse_name(&row.name)?;
    super::check_len("display_name", &row.display_name, super::MAX_DISPLAY_NAME_CHARS)?;
    let site: SiteId = parse_site(&row.site)?;
    scope.need_site(&site)?;
    if !seen.insert(name.clone()) {
        return Err(ApiError::bad_request(format!("'{name}' appears twice"))
            .key("err-import-duplicate")
            .arg("name", &name));
    }
    if let Some(p) = &row.password {
        check_strength(p).map_err(|e| ApiError::from(e).field("password"))?;
    }
    row.enabled = parse_enabled(&row.enabled_text).ok_or_else(|| {
        ApiError::bad_request("enabled: use yes or no").key("err-import-enabled").field("enabled")
    })?;
    row.quota = row
        .quota_text
        .as_deref()
        .map(super::mailbox::parse_quota_text)
        .transpose()
        .map_err(|e| e.field("quota"))?;
    let target = dir.site(&site).ok_or_else(|| {
        ApiError::from(pochta_directory::DirectoryError::NoSuchSite(site.clone())).field("site")
    })?;
    if !target.level.has_mailboxes() {
        return Err(pochta_directory::DirectoryError::NoMailboxes(site).into());
    }
    match dir.user(&name) {
        None => {
            // Names taken by aliases and lists, reserved names.
            dir.check(&Op::PutUser(User {
                app_passwords: Vec::new(),
                name,
                display_name: String::new(),
                site,
                former_sites: Default::default(),
                password: None,
                enabled: true,
                mailbox: Default::default(),
            }))?;
            row.action = Action::Create;
        }
        Some(u) if !scope.covers(&u.site) => {
            // The name is taken by a user of another site: neither created nor changed here.
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!("'{name}' is a user of a site you do not administer"),
            )
            .key("err-import-not-yours")
            .arg("name", &name)
            .field("name"));
        }
        Some(u) => {
            if u.display_name != row.display_name {
                row.changes.push("display_name");
            }
            if u.site != site {
                row.changes.push("site");
            }
            if u.enabled != row.enabled {
                row.changes.push("enabled");
            }
            if row.password.is_some() {
                row.changes.push("password");
            }
            if row.quota.is_some_and(|q| q != u.mailbox.quota) {
                row.changes.push("quota");
            }
            row.action = if row.changes.is_empty() { Action::Unchanged } else { Action::Update };
        }
    }
    Ok(())
}

/// Imports the file as one change set, or nothing when any line is wrong (the plan says which).
/// Passwords are hashed before the edit starts, off the async threads.
pub async fn apply(st: &AppState, by: &Actor, text: &str) -> Result<(Plan, Option<Version>), ApiError> {
    let first = plan(&st.publisher.current().0, &by.scope, text);
    if !first.is_valid() {
        return Ok((first, None));
    }
    let mut hashes: std::collections::HashMap<String, PasswordHash> = std::collections::HashMap::new();
    for r in &first.rows {
        if let Some(p) = &r.password {
            hashes.insert(r.name.to_lowercase(), st.hash_password(p.clone()).await);
        }
    }
    let edit = st.publisher.begin().await?;
    // The directory may have changed while hashing: check again under the edit lock.
    let plan = plan(edit.directory(), &by.scope, text);
    if !plan.is_valid() {
        edit.commit(&by.name, vec![]).await?;
        return Ok((plan, None));
    }
    let dir = edit.directory();
    let mut ops = Vec::new();
    for r in plan.rows.iter().filter(|r| matches!(r.action, Action::Create | Action::Update)) {
        let name = parse_name(&r.name)?;
        let site = parse_site(&r.site)?;
        let hash = r.password.as_ref().and_then(|_| hashes.get(&r.name.to_lowercase()).cloned());
        match dir.user(&name) {
            None => ops.push(Op::PutUser(User {
                app_passwords: Vec::new(),
                name,
                display_name: r.display_name.clone(),
                site,
                former_sites: Default::default(),
                password: hash,
                enabled: r.enabled,
                mailbox: pochta_directory::model::MailboxSettings {
                    quota: r.quota.flatten(),
                    ..Default::default()
                },
            })),
            Some(old) => {
                let mut u = old.clone();
                u.display_name = r.display_name.clone();
                u.enabled = r.enabled;
                if let Some(q) = r.quota {
                    u.mailbox.quota = q;
                }
                if u.site != site {
                    let from = std::mem::replace(&mut u.site, site.clone());
                    u.former_sites.insert(from);
                    u.former_sites.remove(&site);
                }
                if &u != old {
                    ops.push(Op::put_user_keeping_password(&u));
                }
                if let Some(h) = hash {
                    ops.push(Op::SetPassword { name: u.name.clone(), hash: Some(h) });
                }
            }
        }
    }
    let v = edit.commit(&by.name, ops).await?;
    Ok((plan, Some(v)))
}

/// The users as CSV in the import's columns (the password column left empty, so importing the
/// file back changes no password), with the home site's last reported mailbox size appended.
/// `excel`: a UTF-8 byte-order mark and `;` between fields, which Excel in a Russian locale opens
/// as columns without an import dialogue.
pub fn export(dir: &Directory, usage: impl Fn(&User) -> Option<u64>, excel: bool) -> String {
    export_users(dir.users.values(), usage, excel)
}

/// The CSV of these users only (a selection on the users page).
pub fn export_users<'a>(
    users: impl ExactSizeIterator<Item = &'a User>,
    usage: impl Fn(&User) -> Option<u64>,
    excel: bool,
) -> String {
    let sep = if excel { ';' } else { ',' };
    let cell = |v: &str| {
        if v.contains([sep, '"', '\n', '\r']) || v.starts_with(' ') || v.ends_with(' ') {
            format!("\"{}\"", v.replace('"', "\"\""))
        } else {
            v.to_owned()
        }
    };
    let mut out = String::with_capacity(64 * (users.len() + 1));
    if excel {
        out.push('\u{feff}');
    }
    let header = [&COLUMNS[..], &["mailbox_bytes"]].concat();
    out.push_str(&header.join(&sep.to_string()));
    out.push_str("\r\n");
    for u in users {
        let quota = u.mailbox.quota.map(|q| q.to_string()).unwrap_or_default();
        let used = usage(u).map(|b| b.to_string()).unwrap_or_default();
        let enabled = if u.enabled { "yes" } else { "no" };
        let row = [
            cell(u.name.as_str()),
            cell(&u.display_name),
            cell(u.site.as_str()),
            String::new(),
            enabled.into(),
            quota,
            used,
        ];
        out.push_str(&row.join(&sep.to_string()));
        out.push_str("\r\n");
    }
    out
}
