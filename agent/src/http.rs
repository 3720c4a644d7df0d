//! The agent's HTTPS endpoint: pushes from the server, catch-up for peers, status and look-ups.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pochta_directory::api::{
    ErrorBody, PushReply, QUEUE_PAGE, QueueAnswer, QueueRequest, QueuedLetter, REQUEST_MAX_AGE_SECS,
    SIGNATURE_HEADER, VERSION_HEADER, WaitingRecipient, path,
};
use pochta_directory::wire::{self, Version, WireError};
use serde::Deserialize;

use crate::config::Config;
use crate::metrics::Counters;
use crate::queue::Queue;
use crate::replica::{OfferError, Replica, Retained};
use crate::routing::Routing;
use crate::secret::same_secret;
use crate::status::StatusReport;

/// A push body may hold one frame of the largest size, plus framing for a few more.
pub const MAX_PUSH_BODY: usize = wire::MAX_FRAME + (1 << 20);
/// One answer to `GET /sync/changes` carries at most this many frames...
const MAX_SERVE_FRAMES: u32 = 10_000;
/// ...and, past the first, at most this many bytes. The peer asks again for the rest.
const MAX_SERVE_BYTES: usize = 16 << 20;

#[derive(Clone)]
pub struct AppState {
    pub cfg: Arc<Config>,
    pub replica: Arc<Replica>,
    /// The mail counters and the queue, for `/metrics`.
    pub counters: Arc<Counters>,
    pub queue: Arc<Queue>,
    /// Mailbox moves in progress, for `/status`.
    pub moves: crate::mailbox_move::Progress,
    /// The door, for its scanners' health in `/status`.
    pub door: Option<Arc<crate::door::Door>>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(path::PUSH, post(push))
        .route(path::CHANGES, get(changes))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/resolve", get(resolve))
        .route(path::QUEUE, post(queue))
        .with_state(state)
}

/// The web layer's error: a status and a JSON `{"error": ..}`, with the replica's version
/// where the caller needs it. Internal errors are logged, not shown.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    version: Option<Version>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), version: None }
    }
    fn with_version(mut self, v: Version) -> Self {
        self.version = Some(v);
        self
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the agent's log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.message, version: self.version.map(|v| v.0) };
        (self.status, Json(body)).into_response()
    }
}

async fn push(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PushReply>, ApiError> {
    let version = || st.replica.version();
    // Only the server (and peers) know the deployment's peer secret. The frames are signed
    // anyway; this keeps strangers from replaying old pushes to fake contact with the server.
    check_peer_secret(&st, &headers).map_err(|e| e.with_version(version()))?;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the push body is over the {MAX_PUSH_BODY}-byte limit; nothing was applied"),
        )
        .with_version(version())
    };
    // Refused from its announced length, before a byte of it is read; a chunked body is read
    // up to the cap and no further.
    let announced = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_PUSH_BODY as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, MAX_PUSH_BODY).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
            too_large()
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, format!("the push body could not be read: {e}"))
                .with_version(version())
        }
    })?;
    // Applying runs in its own task: a client that hangs up must not cancel it half-way.
    let replica = st.replica.clone();
    let outcome = tokio::spawn(async move {
        let frames = wire::unpack(&body)?;
        let pushed = frames.iter().filter_map(|f| wire::peek(f).ok()).map(|h| h.version).max();
        let result = replica.offer(&frames).await;
        // A well-formed push counts as contact; its highest version is a floor for the head.
        if result.is_ok() {
            replica.note_push(pushed).await;
        }
        Ok(result)
    })
    .await
    .map_err(ApiError::internal)?;
    let result = outcome.map_err(|e| {
        let status = match e {
            WireError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        tracing::warn!(error = %e, "push body refused");
        ApiError::new(status, format!("the push body does not unpack: {e}; nothing was applied"))
            .with_version(version())
    })?;
    match result {
        Ok(o) => Ok(Json(PushReply { version: o.version.0, held: o.held })),
        Err(e @ OfferError::Refused { version, .. }) => {
            Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).with_version(version))
        }
        Err(e @ OfferError::Db(_)) => Err(ApiError::internal(e).with_version(version())),
    }
}

#[derive(Deserialize)]
struct ChangesQuery {
    after: u64,
}

/// The caller must present the deployment's peer secret as a bearer token.
fn check_peer_secret(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if st.cfg.peer_secret.is_empty() || !same_secret(bearer.trim(), &st.cfg.peer_secret) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "a valid peer secret is required"));
    }
    Ok(())
}

/// The queue for the server's administrators: the letters waiting (oldest first, searched by
/// sender or recipient), after acting on some if asked. Only the server may ask — the request
/// is signed with its key, for this agent, and recent — because the peer secret every agent
/// knows must not let one site delete another's mail.
async fn queue(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<QueueAnswer>, ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let verifier = st.cfg.verifier().map_err(ApiError::internal)?;
    if !verifier.verify_request(&body, signature) {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the request is not signed by the server"));
    }
    let req: QueueRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not a queue request: {e}")))?;
    if req.agent != st.cfg.agent_id {
        return Err(ApiError::new(StatusCode::FORBIDDEN, format!("the request is for agent {}", req.agent)));
    }
    let now = crate::queue::envelope::now_ms() / 1000;
    if (now - req.at).abs() > REQUEST_MAX_AGE_SECS {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "the request is too old (or the clocks differ)"));
    }
    let mut answer = QueueAnswer::default();
    if let Some(action) = req.action {
        for id in req.ids {
            let qid = crate::queue::QueueId(id.clone());
            if st.queue.request(&qid, action).map_err(ApiError::internal)? {
                tracing::info!(%id, ?action, "queue request from the server's administrator");
                answer.acted.push(id);
            } else {
                answer.gone.push(id);
            }
        }
    }
    let mut letters = st.queue.list();
    answer.queued = letters.len();
    let needle = req.search.trim().to_lowercase();
    if !needle.is_empty() {
        let hit = |a: &pochta_directory::Address| a.to_string().to_lowercase().contains(&needle);
        letters.retain(|e| {
            e.reverse_path.as_ref().is_some_and(hit)
                || e.recipients.iter().any(hit)
                || e.targets.iter().flatten().any(|t| hit(&t.address))
        });
    }
    answer.matched = letters.len();
    letters.sort_by_key(|e| e.created);
    answer.letters = letters
        .into_iter()
        .take(QUEUE_PAGE)
        .map(|e| QueuedLetter {
            waiting: match &e.targets {
                Some(t) => t
                    .iter()
                    .filter(|t| t.is_pending())
                    .map(|t| WaitingRecipient {
                        address: t.address.to_string(),
                        last_error: t.last_error.clone(),
                    })
                    .collect(),
                None => e
                    .recipients
                    .iter()
                    .map(|a| WaitingRecipient { address: a.to_string(), last_error: None })
                    .collect(),
            },
            id: e.id.to_string(),
            from: e.reverse_path.as_ref().map(ToString::to_string),
            created: e.created,
            size: e.size,
            attempts: e.attempts,
            next_try: e.next_try,
        })
        .collect();
    Ok(Json(answer))
}

async fn changes(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    check_peer_secret(&st, &headers)?;
    let Query(q) = q.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
    let version = st.replica.version();
    match st.replica.retained_after(Version(q.after), MAX_SERVE_FRAMES, MAX_SERVE_BYTES).await {
        Ok(Retained::Gone { base }) => Err(ApiError::new(
            StatusCode::GONE,
            format!("this agent has change sets only after version {base}; bootstrap from a snapshot"),
        )
        .with_version(version)),
        Ok(Retained::Frames(frames)) => {
            let body = wire::pack(frames.iter().map(Vec::as_slice));
            let mut resp = body.into_response();
            let h = resp.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            h.insert(VERSION_HEADER, HeaderValue::from(version.0));
            Ok(resp)
        }
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Prometheus text exposition: the mail counters and the queue size.
async fn metrics(State(st): State<AppState>) -> Response {
    let site = st.cfg.site.to_string();
    let mut body = st.counters.snapshot().prometheus(&site);
    body.push_str(&format!(
        "# HELP pochta_queue_messages Messages in the queue\n# TYPE pochta_queue_messages gauge\npochta_queue_messages{{site=\"{site}\"}} {}\n",
        st.queue.len()
    ));
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

async fn status(State(st): State<AppState>) -> Json<StatusReport> {
    let mut report = StatusReport::live(&st.cfg, &st.replica);
    report.mailbox_moves = st.moves.list();
    report.clock = st.queue.clock();
    report.door = st.door.as_ref().map(|d| d.status());
    Json(report)
}

#[derive(Deserialize)]
struct ResolveQuery {
    rcpt: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    internal: bool,
}

async fn resolve(
    State(st): State<AppState>,
    q: Result<Query<ResolveQuery>, QueryRejection>,
) -> Result<Json<Routing>, ApiError> {
    let Query(q) = q.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
    let dir = st.replica.directory();
    let stale = st.replica.contact().is_stale(st.cfg.stale_after_secs);
    Ok(Json(Routing::of(&dir, &q.rcpt, q.from.as_deref(), q.internal, stale)))
}
