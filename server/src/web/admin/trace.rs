//! The address trace page: type a recipient (and optionally a sender and where the letter
//! enters) and read what would happen, in words — refused and why, or each site's one copy and
//! how it gets there, outside addresses, forwards and vacation replies (`manage::trace`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use pochta_directory::{Directory, GroupKind, PostingPolicy, SiteId};
use serde::Deserialize;

use crate::manage::trace::{self, Hop, Named, Outcome, Trace};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::{AdminOnly, Ctx, Page};
use crate::web::{FormErrors, WebQuery};

#[derive(Deserialize, Default)]
pub struct TraceForm {
    #[serde(default)]
    pub rcpt: String,
    #[serde(default)]
    pub from: String,
    pub internal: Option<String>,
    #[serde(default)]
    pub entry: String,
}

pub struct CopyRow {
    pub site: String,
    pub count: usize,
    pub mailboxes: String,
    pub way: String,
}

/// A trace told in the page's language.
pub struct TraceView {
    pub named: String,
    pub refused: Option<String>,
    pub accepted: Option<String>,
    pub copies: Vec<CopyRow>,
    pub notes: Vec<String>,
}

#[derive(Template)]
#[template(path = "trace.html")]
pub struct TracePage {
    pub c: Ctx,
    pub form: TraceForm,
    pub sites: Vec<(String, String)>,
    pub entry: String,
    pub errors: FormErrors,
    pub result: Option<TraceView>,
}

/// "Moscow (msk)", or the id of a site that is gone.
fn site(dir: &Directory, id: &SiteId) -> String {
    dir.site(id).map_or_else(|| id.to_string(), |s| format!("{} ({id})", s.name))
}

fn policy_key(p: PostingPolicy) -> &'static str {
    match p {
        PostingPolicy::Anyone => "policy-anyone",
        PostingPolicy::Internal => "policy-internal",
        PostingPolicy::Members => "policy-members",
    }
}

/// A label used inside a sentence: "Users of this domain only" → "users of this domain only".
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |f| f.to_lowercase().chain(chars).collect())
}

pub fn view(c: &Ctx, dir: &Directory, t: &Trace) -> TraceView {
    let addr = t.rcpt.to_string();
    let named = match &t.named {
        Named::User { display_name, site: s, enabled, .. } => c.lang.ta(
            "trace-named-user",
            &[
                ("address", addr.clone()),
                ("name", if display_name.is_empty() { addr.clone() } else { display_name.clone() }),
                ("site", site(dir, s)),
                ("enabled", if *enabled { "yes" } else { "no" }.into()),
            ],
        ),
        Named::Group { kind, members, policy, .. } => c.lang.ta(
            "trace-named-group",
            &[
                ("address", addr.clone()),
                ("kind", if *kind == GroupKind::Alias { "alias" } else { "list" }.into()),
                ("count", members.to_string()),
                ("policy", lower_first(&c.t(policy_key(*policy)))),
            ],
        ),
        Named::All { site: None } => c.t1("trace-named-all", "address", &addr),
        Named::All { site: Some(s) } => c.t2("trace-named-all-site", "address", &addr, "site", site(dir, s)),
        Named::Nobody => c.t1("trace-named-nobody", "address", &addr),
        Named::Outside => c.t1("trace-named-outside", "domain", t.rcpt.domain()),
    };
    let mut v = TraceView { named, refused: None, accepted: None, copies: vec![], notes: vec![] };
    match &t.outcome {
        Outcome::Refused { code, status, reason, group } => {
            let why = match group {
                Some(g) => c.t1(&format!("trace-reason-{reason}"), "group", g),
                None => c.t(&format!("trace-reason-{reason}")),
            };
            v.refused = Some(c.lang.ta(
                "trace-refused",
                &[("code", code.to_string()), ("status", status.to_string()), ("reason", why)],
            ));
        }
        Outcome::Accepted { copies, outside, forwards, vacation } => {
            let mailboxes: usize = copies.iter().map(|c| c.mailboxes.len()).sum();
            let addresses: usize = outside.iter().map(|o| o.addresses.len()).sum();
            v.accepted = Some(if mailboxes + addresses == 0 {
                c.t("trace-empty")
            } else {
                c.lang.ta(
                    "trace-accepted",
                    &[
                        ("mailboxes", mailboxes.to_string()),
                        ("sites", copies.len().to_string()),
                        ("outside", addresses.to_string()),
                    ],
                )
            });
            let entry = site(dir, &t.entry);
            v.copies = copies
                .iter()
                .map(|cp| CopyRow {
                    site: site(dir, &cp.site),
                    count: cp.mailboxes.len(),
                    mailboxes: cp.mailboxes.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
                    way: match cp.hop {
                        Hop::Here => c.t1("trace-hop-here", "site", site(dir, &cp.site)),
                        Hop::Direct { .. } => {
                            c.t2("trace-hop-direct", "from", &entry, "site", site(dir, &cp.site))
                        }
                        Hop::Waits => c.t2("trace-hop-waits", "from", &entry, "site", site(dir, &cp.site)),
                    },
                })
                .collect();
            for o in outside {
                let list = o.addresses.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
                v.notes.push(match &o.relay {
                    None => c.lang.ta(
                        "trace-outside",
                        &[
                            ("addresses", list),
                            ("from", site(dir, &o.from)),
                            ("domain", o.domain.to_string()),
                        ],
                    ),
                    Some(r) => c.lang.ta(
                        "trace-outside-relay",
                        &[
                            ("addresses", list),
                            ("from", site(dir, &o.from)),
                            ("relay", site(dir, r)),
                            ("domain", o.domain.to_string()),
                        ],
                    ),
                });
            }
            for f in forwards {
                let to = f.to.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ");
                v.notes.push(c.lang.ta(
                    "trace-forward",
                    &[
                        ("name", f.name.to_string()),
                        ("to", to),
                        ("site", site(dir, &f.site)),
                        ("keep", if f.keep_copy { "yes" } else { "no" }.into()),
                    ],
                ));
            }
            for n in vacation {
                v.notes.push(c.t1("trace-vacation", "name", n));
            }
        }
    }
    v
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(form): WebQuery<TraceForm>,
) -> Result<Response, WebError> {
    let (dir, _) = st.publisher.current();
    let sites = dir.sites.values().map(|s| (s.id.to_string(), format!("{} ({})", s.name, s.id))).collect();
    let mut errors = FormErrors::default();
    let mut result = None;
    let mut entry = form.entry.trim().to_owned();
    if !form.rcpt.trim().is_empty() {
        let entry_arg = Some(form.entry.as_str()).filter(|e| !e.trim().is_empty());
        match trace::trace(&dir, &form.rcpt, &form.from, form.internal.is_some(), entry_arg) {
            Ok(t) => {
                entry = t.entry.to_string();
                result = Some(view(&ctx, &dir, &t));
            }
            Err(e) => errors = FormErrors::from_api(&e, ctx.lang, &["rcpt", "from", "entry"]),
        }
    } else if entry.is_empty() {
        entry = trace::default_entry(&dir).map(|s| s.to_string()).unwrap_or_default();
    }
    let status = if errors.any() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let page = TracePage { c: ctx.clone(), form, sites, entry, errors, result };
    Ok(ctx.render(status, &page))
}
