//! The dashboard: every site with its level and agents (applied version, lag, last contact,
//! stale warning), the paper's per-server table (received / accepted / delivered / sent) for a
//! chosen period with a small chart over time, and the latest changes.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use pochta_directory::Directory;
use pochta_directory::api::{AgentWarning, MoveProgress};
use serde::Deserialize;

use super::admin::history::{HistoryRow, history_rows};
use super::admin::sites::{SiteRow, site_rows};
use super::agent_view::{AgentState, AgentView, agent_views};
use super::error::WebError;
use super::session::{AdminOnly, Ctx, Page};
use crate::db::{self, auth::AgentRow, web::StatRow};
use crate::state::AppState;
use crate::summary::SiteSummary;
use crate::web::WebQuery;

/// The paper's table: one line per site, for the period.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub site: String,
    pub received: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub sent: u64,
    pub queue: u64,
    /// Letters of moving mailboxes filed at the site and sent from it: not mail, shown apart.
    pub moved_in: u64,
    pub moved_out: u64,
    /// Letters and commands refused, in all and by kind (a translation key and a count, the
    /// largest first): the paper's "received but not accepted", explained.
    pub refused: u64,
    pub refusals: Vec<(&'static str, u64)>,
    /// When the site's agents last reported (the figures are as of then), and whether that is
    /// so long ago that the row is probably out of date (shown grey).
    pub as_of: i64,
    pub old: bool,
}

/// A site's row is out of date when no report came for this long: active agents report within
/// `stats_secs` (30 s) of a change, idle ones at their heartbeat (hourly).
pub const TRAFFIC_OLD_SECS: i64 = 2 * 3600;

/// The kind of refusal an agent's reason belongs to, as the translation key the dashboard shows.
pub fn refusal_kind(reason: &str) -> &'static str {
    match reason {
        "unknown_recipient" | "unknown_recipient_stale" | "bad_recipient" | "disabled" | "policy" => {
            "refusal-unknown-recipient"
        }
        "relay_denied" => "refusal-relay",
        "greylisted" => "refusal-greylisted",
        "dnsbl" => "refusal-dnsbl",
        "spf" | "dkim" | "dmarc" => "refusal-forged",
        "spam" | "spam_deferred" => "refusal-spam",
        "virus" => "refusal-virus",
        "too_many_connections" | "rate_limit" => "refusal-rate",
        "auth_failed" | "auth_throttled" => "refusal-auth",
        "over_quota" => "refusal-quota",
        "scanner_unavailable" | "queue_error" | "disk_full" => "refusal-ours",
        _ => "refusal-other",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
    Week,
}

impl Period {
    pub fn parse(s: &str) -> Period {
        match s {
            "1h" => Period::Hour,
            "7d" => Period::Week,
            _ => Period::Day,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Period::Hour => "1h",
            Period::Day => "24h",
            Period::Week => "7d",
        }
    }
    pub fn secs(self) -> i64 {
        match self {
            Period::Hour => 3600,
            Period::Day => 86_400,
            Period::Week => 7 * 86_400,
        }
    }
    pub const ALL: [Period; 3] = [Period::Hour, Period::Day, Period::Week];
    pub fn label_key(&self) -> &'static str {
        match self {
            Period::Hour => "period-hour",
            Period::Day => "period-day",
            Period::Week => "period-week",
        }
    }
}

/// Finished moves are shown for a week.
pub const FINISHED_SHOWN_SECS: i64 = 7 * 86_400;

/// Buckets in the chart.
const BUCKETS: usize = 24;

/// Accepted letters over the period, one line per site, with its axes.
pub struct Chart {
    pub series: Vec<Series>,
    pub max: u64,
    pub width: u32,
    pub height: u32,
    /// Where the plot starts (room for the value labels) and ends (room for the time labels).
    pub left: u32,
    pub bottom: u32,
    /// Value axis: (y, label); time axis: (x, label).
    pub y_ticks: Vec<(f64, String)>,
    pub x_ticks: Vec<(f64, String)>,
}

pub struct Series {
    pub site: String,
    pub points: String,
    /// The line's colour, `series-0` … `series-7`.
    pub class: String,
    pub total: u64,
}

/// Sums each agent's counter increases inside the period, per site and per time bucket. Counters
/// restart at zero when an agent restarts: a decrease counts as a fresh start.
pub fn traffic(rows: &[StatRow], since: i64, period: i64) -> (Vec<Traffic>, Vec<(String, Vec<u64>)>) {
    use std::collections::BTreeMap;
    let mut prev: BTreeMap<&str, db::web::Counters> = BTreeMap::new();
    let mut prev_refused: BTreeMap<&str, &BTreeMap<String, u64>> = BTreeMap::new();
    let mut kinds: BTreeMap<&str, BTreeMap<&'static str, u64>> = BTreeMap::new();
    let mut sites: BTreeMap<&str, Traffic> = BTreeMap::new();
    let mut latest_queue: BTreeMap<&str, (&str, u64)> = BTreeMap::new();
    let mut as_of: BTreeMap<&str, i64> = BTreeMap::new();
    let mut buckets: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for r in rows {
        let c = r.counters;
        let d = |now: u64, before: Option<u64>| match before {
            Some(b) if now >= b => now - b,
            Some(_) => now,
            None => 0,
        };
        let p = prev.get(r.agent.as_str()).copied();
        let delta = db::web::Counters {
            received: d(c.received, p.map(|p| p.received)),
            accepted: d(c.accepted, p.map(|p| p.accepted)),
            delivered: d(c.delivered, p.map(|p| p.delivered)),
            sent: d(c.sent, p.map(|p| p.sent)),
            queue: c.queue,
            moved_in: d(c.moved_in, p.map(|p| p.moved_in)),
            moved_out: d(c.moved_out, p.map(|p| p.moved_out)),
        };
        prev.insert(&r.agent, c);
        let before = prev_refused.insert(&r.agent, &r.refused);
        let latest = as_of.entry(&r.site).or_insert(r.at);
        *latest = (*latest).max(r.at);
        if r.at < since {
            continue;
        }
        // A reason first seen after the base report counts whole; at the base, nothing does.
        let site_kinds = kinds.entry(&r.site).or_default();
        for (reason, &now) in &r.refused {
            let n = d(now, before.map(|b| b.get(reason).copied().unwrap_or(0)));
            if n > 0 {
                *site_kinds.entry(refusal_kind(reason)).or_default() += n;
            }
        }
        let t =
            sites.entry(&r.site).or_insert_with(|| Traffic { site: r.site.clone(), ..Default::default() });
        t.received += delta.received;
        t.accepted += delta.accepted;
        t.delivered += delta.delivered;
        t.sent += delta.sent;
        t.moved_in += delta.moved_in;
        t.moved_out += delta.moved_out;
        latest_queue.insert(&r.agent, (&r.site, c.queue));
        let b = (((r.at - since) as i128 * BUCKETS as i128) / period.max(1) as i128)
            .clamp(0, BUCKETS as i128 - 1) as usize;
        buckets.entry(&r.site).or_insert_with(|| vec![0; BUCKETS])[b] += delta.accepted;
    }
    for (site, q) in latest_queue.values() {
        if let Some(t) = sites.get_mut(site) {
            t.queue += q;
        }
    }
    for (site, k) in kinds {
        if let Some(t) = sites.get_mut(site) {
            let mut by: Vec<(&'static str, u64)> = k.into_iter().collect();
            by.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            t.refused = by.iter().map(|(_, n)| n).sum();
            t.refusals = by;
        }
    }
    for (site, t) in sites.iter_mut() {
        t.as_of = as_of.get(site).copied().unwrap_or(0);
    }
    let buckets = buckets.into_iter().map(|(s, b)| (s.to_owned(), b)).collect();
    (sites.into_values().collect(), buckets)
}

/// The chart of accepted letters per site; `None` when nothing was accepted. `since` and
/// `period` place the time labels (UTC, as every time on the pages).
/// The chart's time axis reads in `zone`.
pub fn chart(
    buckets: &[(String, Vec<u64>)],
    since: i64,
    period: i64,
    zone: &super::zone::Zone,
) -> Option<Chart> {
    let max = buckets.iter().flat_map(|(_, b)| b.iter().copied()).max().unwrap_or(0);
    if max == 0 {
        return None;
    }
    let (w, h, left, bottom) = (720u32, 180u32, 48u32, 22u32);
    let plot_w = f64::from(w - left - 8);
    let plot_h = f64::from(h - bottom - 8);
    let x = |i: usize| f64::from(left) + i as f64 * plot_w / (BUCKETS - 1) as f64;
    let y = |v: u64| 8.0 + plot_h - (v as f64 / max as f64) * plot_h;
    let series = buckets
        .iter()
        .enumerate()
        .map(|(n, (site, b))| Series {
            site: site.clone(),
            points: b
                .iter()
                .enumerate()
                .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
                .collect::<Vec<_>>()
                .join(" "),
            class: format!("series-{}", n % 8),
            total: b.iter().sum(),
        })
        .collect();
    let y_ticks = [0, max.div_ceil(2), max].into_iter().map(|v| (y(v), super::i18n::number(v))).collect();
    let label = |t: i64| zone.tick(t, period > 86_400);
    let x_ticks = (0..=4)
        .map(|k| {
            let i = k * (BUCKETS - 1) / 4;
            (x(i), label(since + period * i as i64 / BUCKETS as i64))
        })
        .collect();
    Some(Chart { series, max, width: w, height: h, left, bottom, y_ticks, x_ticks })
}

pub struct SiteStatus {
    pub site: SiteRow,
    pub agents: Vec<AgentView>,
    /// Mailboxes being moved away from this site, as [`move_text`] says them.
    pub moves: Vec<String>,
}

/// "ivanov → St Petersburg: 3 of 10 letters, 1.2 MB of 5 MB, 300 KB/s, about 13 s left".
pub fn move_text(m: &MoveProgress, dir: &Directory, c: &Ctx) -> String {
    let mut s = c.lang.ta(
        "dashboard-move",
        &[
            ("user", m.user.clone()),
            ("site", site_name(dir, &m.to_site)),
            ("count", m.moved.to_string()),
            ("total", m.moved.saturating_add(m.remaining).to_string()),
        ],
    );
    let total = m.moved_bytes.saturating_add(m.remaining_bytes);
    if total > 0 {
        s.push_str(", ");
        s.push_str(&c.t2("dashboard-move-bytes", "moved", c.size(&m.moved_bytes), "total", c.size(&total)));
    }
    if let (Some(rate), Some(eta)) = (m.rate(), m.eta_secs()) {
        s.push_str(", ");
        s.push_str(&c.t2("dashboard-move-rate", "rate", c.size(&rate), "eta", c.duration(eta)));
    }
    s
}

/// A finished move in a sentence: done (with the letters that stayed), moved back, or failed
/// with the reason.
pub fn finished_move_text(m: &db::moves::FinishedMove, dir: &Directory, now: i64, c: &Ctx) -> String {
    use pochta_directory::api::MoveEnd;
    // One set of arguments for every outcome: each sentence takes those it says.
    let mut args = vec![
        ("user", m.user.clone()),
        ("site", site_name(dir, &m.to_site)),
        ("count", m.letters.to_string()),
        ("when", c.ago(&(now - m.finished_at))),
        ("bytes", c.size(&m.bytes)),
        ("time", c.duration(m.elapsed_secs)),
    ];
    match &m.end {
        MoveEnd::Done { kept } => {
            let mut s = c.lang.ta("moved-done", &args);
            if *kept > 0 {
                s.push_str("; ");
                s.push_str(&c.t1("moved-kept", "count", kept));
            }
            s
        }
        MoveEnd::MovedBack => c.lang.ta("moved-back", &args),
        MoveEnd::Failed { reason } => {
            args.push(("reason", reason.clone()));
            c.lang.ta("moved-failed", &args)
        }
    }
}

/// A site's name for a sentence (its id when the directory no longer has it).
fn site_name(dir: &Directory, id: &str) -> String {
    pochta_directory::SiteId::parse(id)
        .ok()
        .and_then(|id| dir.site(&id).map(|s| s.name.clone()))
        .unwrap_or_else(|| id.to_owned())
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub c: Ctx,
    pub version: u64,
    pub users: usize,
    pub groups: usize,
    pub sites: Vec<SiteStatus>,
    pub period: Period,
    pub periods: [Period; 3],
    pub traffic: Vec<Traffic>,
    pub chart: Option<Chart>,
    /// Now, for the rows' "as of".
    pub now: i64,
    pub recent: Vec<HistoryRow>,
    pub stale: usize,
    /// What agents warn about now (a scanner out), as sentences.
    pub warnings: Vec<String>,
    /// Moves finished in the last week, as sentences.
    pub finished: Vec<String>,
    /// A move is going on: the page reloads itself every few seconds to show its progress.
    pub live: bool,
}

/// "rspamd of agent msk-1 (msk) has not answered since …: mail from outside is deferred".
pub fn warning_text(agent: &str, site: &str, w: &AgentWarning, c: &Ctx) -> Option<String> {
    match w {
        AgentWarning::ScannerFailing { scanner, since, fail_open, error, .. } => {
            let key = if *fail_open { "dashboard-scanner-unscanned" } else { "dashboard-scanner-deferring" };
            Some(c.lang.ta(
                key,
                &[
                    ("scanner", scanner.clone()),
                    ("agent", agent.to_owned()),
                    ("site", site.to_owned()),
                    ("since", c.when(since)),
                    ("error", error.clone()),
                ],
            ))
        }
        AgentWarning::SigningFailing { since, send_unsigned, error } => {
            let key = if *send_unsigned { "dashboard-dkim-unsigned" } else { "dashboard-dkim-deferring" };
            Some(c.lang.ta(
                key,
                &[
                    ("agent", agent.to_owned()),
                    ("site", site.to_owned()),
                    ("since", c.when(since)),
                    ("error", error.clone()),
                ],
            ))
        }
        AgentWarning::Other => None,
    }
}

/// What the dashboard shows besides the directory: read from the database.
pub struct DashboardData {
    pub version: u64,
    pub agents: Vec<AgentRow>,
    pub stats: Vec<StatRow>,
    pub recent: Vec<db::changelog::HistoryItem>,
    pub period: Period,
    pub now: i64,
    /// Mailbox moves in progress, each with the site it leaves (`MoveBoard::all`).
    pub moves: Vec<(String, MoveProgress)>,
    /// Warnings by agent and site (`WarningBoard::by_agent`).
    pub warnings: Vec<(String, String, AgentWarning)>,
    /// Moves finished in the last week, newest first.
    pub finished: Vec<db::moves::FinishedMove>,
}

/// Builds the dashboard from its inputs (public for the benchmark). `summary` is the directory's
/// per-site counts and MX priorities, cached per version (`AppState::current_with_summary`).
pub fn dashboard_page(c: Ctx, dir: &Directory, summary: &SiteSummary, data: DashboardData) -> DashboardPage {
    let DashboardData { version, agents, stats, recent, period, now, mut moves, warnings, finished } = data;
    let finished = finished.iter().map(|m| finished_move_text(m, dir, now, &c)).collect();
    let live = !moves.is_empty();
    let warnings = warnings.iter().filter_map(|(agent, site, w)| warning_text(agent, site, w, &c)).collect();
    let (stats, recent) = (&stats[..], &recent[..]);
    let mut views = agent_views(agents, version, now);
    let stale = views.iter().filter(|a| matches!(a.state, AgentState::Stale | AgentState::Never)).count();
    // A site administrator's dashboard: their sites; the history is the domain's.
    let ours = |id: &str| pochta_directory::SiteId::parse(id).is_ok_and(|id| c.scope().covers(&id));
    let sites = site_rows(dir, summary)
        .into_iter()
        .filter(|site| ours(&site.id))
        .map(|site| {
            let (mine, rest): (Vec<_>, Vec<_>) = views.drain(..).partition(|a| a.site == site.id);
            views = rest;
            let (mine_moves, rest): (Vec<_>, Vec<_>) = moves.drain(..).partition(|(s, _)| *s == site.id);
            moves = rest;
            let moves = mine_moves.iter().map(|(_, m)| move_text(m, dir, &c)).collect();
            SiteStatus { site, agents: mine, moves }
        })
        .collect();
    let since = now - period.secs();
    let (mut traffic, buckets) = traffic(stats, since, period.secs());
    for t in &mut traffic {
        t.old = now - t.as_of > TRAFFIC_OLD_SECS;
    }
    traffic.retain(|t| ours(&t.site));
    let recent = if c.scope().is_domain() { history_rows(&c, dir, recent) } else { vec![] };
    DashboardPage {
        version,
        users: dir.users.len(),
        groups: dir.groups.len(),
        sites,
        period,
        periods: Period::ALL,
        traffic,
        chart: chart(&buckets, since, period.secs(), &c.zone),
        recent,
        stale,
        warnings,
        finished,
        live,
        now,
        c,
    }
}

#[derive(Deserialize)]
pub struct DashboardQuery {
    #[serde(default)]
    period: String,
}

pub async fn page(
    State(st): State<AppState>,
    Page(ctx, ..): Page<AdminOnly>,
    WebQuery(q): WebQuery<DashboardQuery>,
) -> Result<Response, WebError> {
    let (dir, version, summary) = st.current_with_summary();
    let internal = |e: db::DbError| WebError::internal(e).with(&ctx);
    let period = Period::parse(&q.period);
    let now = db::now();
    let agents = db::auth::agents(&st.db.pool).await.map_err(internal)?;
    let stats = db::web::stats_since(&st.db.pool, now - period.secs()).await.map_err(internal)?;
    let recent = db::changelog::history(&st.db.pool, &Default::default(), None, 8).await.map_err(internal)?;
    let moves = st.moves.all();
    let warnings = st.warnings.by_agent();
    let finished =
        db::moves::finished(&st.db.pool, None, now - FINISHED_SHOWN_SECS, 10).await.map_err(internal)?;
    let data =
        DashboardData { version: version.0, agents, stats, recent, period, now, moves, warnings, finished };
    let page = dashboard_page(ctx.clone(), &dir, &summary, data);
    Ok(ctx.render(StatusCode::OK, &page))
}
