//! What agents pull: change sets after a version (long-poll) and signed snapshots.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pochta_directory::api::{APPLIED_HEADER, StatsReport, VERSION_HEADER, path};
use pochta_directory::wire::{self, Version};
use serde::Deserialize;

use super::Query;
use crate::auth::Agent;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// Further behind than this, an agent is told to bootstrap from a snapshot instead.
pub(super) const SNAPSHOT_AFTER: u64 = 5_000;
const MAX_WAIT_SECS: u64 = 3600;
const BATCH_SETS: i64 = 1_000;
const BATCH_BYTES: usize = 4 << 20;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(path::CHANGES, get(changes))
        .route(path::SNAPSHOT, get(snapshot))
        .route(path::STATS, post(stats))
}

fn applied(headers: &HeaderMap) -> Option<Version> {
    headers.get(APPLIED_HEADER)?.to_str().ok()?.parse().ok().map(Version)
}

fn octets(body: Vec<u8>, head: Version) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(VERSION_HEADER, HeaderValue::from(head.0));
    r
}

/// Records that an agent was heard from. What it claims to have applied counts only up to the
/// server's head: an agent ahead of the server (a restored database, a confused agent) must not
/// make the server believe it needs no more sets, nor show as up to date.
async fn seen(st: &AppState, agent: &str, claimed: Option<Version>) -> Result<(), ApiError> {
    let applied = claimed.map(|v| v.min(st.publisher.version()));
    Ok(db::auth::agent_seen(&st.db.pool, agent, applied).await?)
}

#[derive(Deserialize)]
struct ChangesQuery {
    after: u64,
    #[serde(default)]
    wait: u64,
}

async fn changes(
    Agent(agent): Agent,
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    seen(&st, &agent.id, applied(&headers).or(Some(Version(q.after)))).await?;
    let mut rx = st.publisher.subscribe();
    let head = *rx.borrow_and_update();
    if q.after > head.0 {
        return Err(ApiError::conflict(format!(
            "the agent has version {} but the server only {head}: was the server's database restored?",
            q.after
        )));
    }
    if head.0 - q.after > SNAPSHOT_AFTER {
        return Err(ApiError::new(StatusCode::GONE, "too far behind: bootstrap from /sync/snapshot"));
    }
    if head.0 == q.after && q.wait > 0 {
        // Long-poll: answer as soon as the next set is committed, or empty when the wait ends.
        let wait = Duration::from_secs(q.wait.min(MAX_WAIT_SECS));
        let _ = tokio::time::timeout(wait, rx.changed()).await;
    }
    let head = st.publisher.version();
    let frames = db::changelog::frames_after(&st.db.pool, Version(q.after), BATCH_SETS, BATCH_BYTES).await?;
    Ok(octets(wire::pack(frames.iter().map(Vec::as_slice)), head))
}

async fn snapshot(
    Agent(agent): Agent,
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    seen(&st, &agent.id, applied(&headers)).await?;
    let frame = st.publisher.snapshot().await;
    let head = wire::peek(&frame).map_err(ApiError::internal)?.version;
    Ok(octets(frame.to_vec(), head))
}

/// Reports are kept this long for the dashboard's charts.
const STATS_KEPT_SECS: i64 = 31 * 24 * 3600;

/// Stores a time-stamped report of the agent's traffic counters for the dashboard (the time is
/// the server's: agents' clocks may be wrong), keeps its latest mailbox moves in memory, and
/// its client services and mailbox sizes in the database and in memory (`crate::reports`).
async fn stats(
    Agent(agent): Agent,
    State(st): State<AppState>,
    super::Json(r): super::Json<StatsReport>,
) -> Result<StatusCode, ApiError> {
    let now = db::now();
    let c = db::web::Counters {
        received: r.received,
        accepted: r.accepted,
        delivered: r.delivered,
        sent: r.sent,
        queue: r.queue,
        moved_in: r.moved_in,
        moved_out: r.moved_out,
    };
    db::web::put_stats(&st.db.pool, &agent.id, &agent.site, now, &c, &r.refused).await?;
    db::web::prune_stats(&st.db.pool, now - STATS_KEPT_SECS).await?;
    db::auth::agent_seen(&st.db.pool, &agent.id, None).await?;
    // An ended move goes to the record of finished moves; the board keeps those in progress.
    let (ended, running): (Vec<_>, Vec<_>) = r.mailbox_moves.into_iter().partition(|m| m.ended.is_some());
    for m in &ended {
        db::moves::put_finished(&st.db.pool, &agent.id, &agent.site, now, m).await?;
    }
    st.moves.put(&agent.id, &agent.site, running);
    st.warnings.put(&agent.id, &agent.site, r.warnings);
    if let Some(f) = r.facts {
        st.facts.put(&agent.id, &agent.site, vec![f]);
    }
    let (dir, _) = st.publisher.current();
    st.reports.record(&st.db.pool, &dir, &agent.id, &agent.site, r.services, &r.mailbox_sizes).await?;
    Ok(StatusCode::NO_CONTENT)
}
