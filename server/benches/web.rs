//! Web UI benchmark: server-side render time (p50/p99) and page weight of the users page and
//! the dashboard with 100,000 users and 10 sites. Rendering is what the server does per request
//! besides reading the session (one indexed row): search/sort over the in-memory directory,
//! template, translation.

use std::time::{Duration, Instant};

use askama::Template;
use pochta_directory::{Directory, Domain, Level, LocalPart, Site, SiteId, User};
use pochta_server::db::auth::AgentRow;
use pochta_server::db::changelog::HistoryItem;
use pochta_server::db::web::{Counters, Role, StatRow};
use pochta_server::summary::SiteSummaries;
use pochta_server::web::admin::history::{HistoryPage, history_rows};
use pochta_server::web::admin::trace::{TraceForm, TracePage, view};
use pochta_server::web::admin::users::{UsersQuery, users_page};
use pochta_server::web::dashboard::{DashboardData, Period, dashboard_page};
use pochta_server::web::i18n::Lang;
use pochta_server::web::session::{Ctx, Who};

const USERS: usize = 100_000;
const SITES: usize = 10;

fn directory() -> Directory {
    let mut dir = Directory::new(Domain::parse("example.org").unwrap());
    for i in 0..SITES {
        let id = SiteId::parse(&format!("site{i}")).unwrap();
        let level = match i {
            0 => Level::Zero,
            1..=5 => Level::One,
            _ => Level::Two,
        };
        dir.sites.insert(
            id.clone(),
            Site {
                id,
                name: format!("Office {i}"),
                level,
                agents: vec![],
                default_quota: None,
                outgoing: vec![],
            },
        );
    }
    let first = ["Ivan", "Anna", "Pyotr", "Maria", "Sergei", "Olga", "Dmitri", "Elena"];
    let last = ["Ivanov", "Petrova", "Sidorov", "Smirnova", "Kuznetsov", "Popova", "Volkov", "Sokolova"];
    for i in 0..USERS {
        let name = LocalPart::parse(&format!("user{i:06}")).unwrap();
        let site = SiteId::parse(&format!("site{}", 1 + i % (SITES - 1))).unwrap();
        let display_name = format!("{} {} {i}", first[i % 8], last[(i / 8) % 8]);
        dir.users.insert(
            name.clone(),
            User {
                app_passwords: Vec::new(),
                name,
                display_name,
                site,
                former_sites: Default::default(),
                password: None,
                enabled: i % 50 != 0,
                mailbox: Default::default(),
            },
        );
    }
    dir
}

fn admin(lang: Lang) -> Ctx {
    Ctx::offline(
        lang,
        "example.org",
        Some(Who {
            role: Role::Admin,
            name: "admin".into(),
            scope: pochta_server::manage::scope::Scope::Domain,
        }),
    )
}

fn measure(label: &str, runs: usize, mut f: impl FnMut() -> String) {
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let html = f();
        times.push(t.elapsed());
        bytes = html.len();
    }
    times.sort();
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{label:<44} p50 {:>7.2} ms   p99 {:>7.2} ms   {:>7.1} KiB",
        ms(p(0.5)),
        ms(p(0.99)),
        bytes as f64 / 1024.0
    );
}

fn main() {
    let dir = directory();
    let now = 1_800_000_000;
    let agents: Vec<AgentRow> = (0..SITES)
        .map(|i| AgentRow {
            id: format!("site{i}-agent"),
            site: format!("site{i}"),
            url: if i < 6 { format!("https://10.0.0.{i}:7443") } else { String::new() },
            tls_sha256: "ab".repeat(32),
            applied: 1000 - (i as u64 % 3),
            last_seen: Some(now - 30 * i as i64),
            enrolled_at: now - 86_400,
        })
        .collect();
    // A day of reports every five minutes from every agent.
    let mut stats = vec![];
    for step in 0..288i64 {
        for (i, a) in agents.iter().enumerate() {
            let n = (step as u64 + 1) * (10 + i as u64);
            stats.push(StatRow {
                agent: a.id.clone(),
                site: a.site.clone(),
                at: now - 86_400 + step * 300,
                counters: Counters {
                    received: n * 3,
                    accepted: n * 2,
                    delivered: n,
                    sent: n / 2,
                    queue: step as u64 % 7,
                    moved_in: 0,
                    moved_out: 0,
                },
                refused: [("unknown_recipient".to_owned(), n / 3), ("spam".to_owned(), n / 5)].into(),
            });
        }
    }
    let recent: Vec<HistoryItem> = (0..8)
        .map(|v| HistoryItem {
            version: 1000 - v,
            author: "admin".into(),
            at: now - v as i64 * 60,
            ops: serde_json::json!([{"op": "put_user", "name": format!("user{v:06}"), "site": "site1", "enabled": true}]),
            prior: serde_json::json!([{"user": {"name": format!("user{v:06}"), "site": "site2", "enabled": true}}]),
            reverts: None,
            bytes: 300,
        })
        .collect();
    // A page of the history as the log stores it: moves, disables, members added — with the
    // record each op replaced, so every line says old → new.
    let history: Vec<HistoryItem> = (0..50u64)
        .map(|v| {
            let name = format!("user{:06}", v * 7);
            let before = serde_json::json!({"name": name, "display_name": "Anna Petrova", "site": "site2", "enabled": true});
            let after = serde_json::json!({"op": "put_user", "name": name, "display_name": "Anna Sidorova", "site": "site3",
                                           "former_sites": ["site2"], "enabled": v % 3 != 0});
            let group_before = serde_json::json!({"name": "sales", "kind": "list", "description": "",
                                                  "members": ["user000001@example.org"], "policy": "internal"});
            let group_after = serde_json::json!({"op": "put_group", "name": "sales", "kind": "list", "description": "",
                                                 "members": ["user000001@example.org", format!("{name}@example.org")], "policy": "internal"});
            HistoryItem {
                version: 100_000 - v,
                author: "admin".into(),
                at: now - v as i64 * 60,
                ops: serde_json::json!([after, group_after]),
                prior: serde_json::json!([{"user": before}, {"group": group_before}]),
                reverts: None,
                bytes: 600,
            }
        })
        .collect();
    // A list of 2,000 members across the sites, for the address trace.
    let mut traced = dir.clone();
    traced.groups.insert(
        LocalPart::parse("everyone-sales").unwrap(),
        pochta_directory::Group {
            name: LocalPart::parse("everyone-sales").unwrap(),
            kind: pochta_directory::GroupKind::List,
            description: String::new(),
            members: (0..2000)
                .map(|i| pochta_directory::Address::parse(&format!("user{:06}@example.org", i * 37)).unwrap())
                .collect(),
            policy: pochta_directory::PostingPolicy::Internal,
        },
    );
    println!("Web UI render benchmark: {USERS} users, {SITES} sites (server-side render, no network)");
    for lang in [Lang::En, Lang::Ru] {
        let l = lang.code();
        measure(&format!("[{l}] users, page 1 (by name, 50)"), 300, || {
            users_page(&dir, &Default::default(), admin(lang), UsersQuery::default()).render().unwrap()
        });
        measure(&format!("[{l}] users, page 1000 (by name, 50)"), 300, || {
            let q = UsersQuery { page: Some(1000), ..Default::default() };
            users_page(&dir, &Default::default(), admin(lang), q).render().unwrap()
        });
        measure(&format!("[{l}] users, sorted by display name"), 100, || {
            let q = UsersQuery { sort: "display_name".into(), ..Default::default() };
            users_page(&dir, &Default::default(), admin(lang), q).render().unwrap()
        });
        measure(&format!("[{l}] users, search \"petrova\" + site filter"), 100, || {
            let q = UsersQuery { q: "petrova".into(), site: "site3".into(), ..Default::default() };
            users_page(&dir, &Default::default(), admin(lang), q).render().unwrap()
        });
        let data = || DashboardData {
            version: 1000,
            agents: agents.clone(),
            stats: stats.clone(),
            recent: recent.clone(),
            period: Period::Day,
            now,
            moves: Vec::new(),
            warnings: Vec::new(),
            finished: Vec::new(),
        };
        // Every request after the first at a version: the per-site counts come from the cache.
        let summaries = SiteSummaries::default();
        summaries.get(&dir, 1000);
        measure(&format!("[{l}] dashboard (24 h, 2,880 reports)"), 100, || {
            dashboard_page(admin(lang), &dir, &summaries.get(&dir, 1000), data()).render().unwrap()
        });
        measure(&format!("[{l}] history, 50 change sets in words"), 300, || {
            let c = admin(lang);
            HistoryPage {
                rows: history_rows(&c, &dir, &history),
                q: String::new(),
                object: String::new(),
                since: String::new(),
                until: String::new(),
                authors: vec![],
                sites: vec![],
                kinds: vec![],
                error: None,
                flash: None,
                older: Some("/admin/history?before=99951".into()),
                filtered: false,
                c,
            }
            .render()
            .unwrap()
        });
        measure(&format!("[{l}] address trace, a list of 2,000"), 100, || {
            let c = admin(lang);
            let t =
                pochta_server::manage::trace::trace(&traced, "everyone-sales@example.org", "", true, None)
                    .unwrap();
            let result = Some(view(&c, &traced, &t));
            let form = TraceForm { rcpt: "everyone-sales@example.org".into(), ..Default::default() };
            TracePage {
                form,
                sites: vec![],
                entry: t.entry.to_string(),
                errors: Default::default(),
                result,
                c,
            }
            .render()
            .unwrap()
        });
        // The first request after an edit: the version moved, the counts are computed again.
        let mut version = 1000;
        measure(&format!("[{l}] dashboard, first after an edit"), 30, || {
            version += 1;
            dashboard_page(admin(lang), &dir, &summaries.get(&dir, version), data()).render().unwrap()
        });
    }
}
