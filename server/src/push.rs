//! Pushes change sets to every reachable agent right after commit, retrying with backoff.
//!
//! One task per agent with a URL. It sleeps until the version moves, then sends everything the
//! agent lacks in one request over a kept-alive, pinned TLS connection, and records what the agent
//! says it has applied. Agents without a URL (behind NAT) pull instead; see `api/sync.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pochta_directory::api::{ErrorBody, PushReply};
use pochta_directory::wire::{self, Version};
use tokio::task::JoinHandle;

use crate::db::{self, Db, auth::AgentRow};
use crate::publish::Publisher;

const BATCH_SETS: i64 = 500;
const BATCH_BYTES: usize = 4 << 20;
const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct Pusher {
    db: Db,
    publisher: Arc<Publisher>,
    peer_secret: String,
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
}

impl Pusher {
    pub fn new(db: Db, publisher: Arc<Publisher>, peer_secret: String) -> Arc<Pusher> {
        Arc::new(Pusher { db, publisher, peer_secret, tasks: Mutex::new(HashMap::new()) })
    }

    /// The secret agents show each other when one catches up from another.
    pub fn peer_secret(&self) -> &str {
        &self.peer_secret
    }

    /// Starts pushing to every enrolled agent that has a URL.
    pub async fn start(self: &Arc<Self>) -> Result<(), db::DbError> {
        for agent in db::auth::agents(&self.db.pool).await? {
            self.watch(agent);
        }
        Ok(())
    }

    pub fn watch(self: &Arc<Self>, agent: AgentRow) {
        if agent.url.is_empty() {
            return;
        }
        let id = agent.id.clone();
        let task =
            tokio::spawn(push_loop(self.db.clone(), self.publisher.clone(), agent, self.peer_secret.clone()));
        if let Some(old) = self.tasks.lock().expect("not poisoned").insert(id, task) {
            old.abort();
        }
    }

    pub fn forget(&self, id: &str) {
        if let Some(t) = self.tasks.lock().expect("not poisoned").remove(id) {
            t.abort();
        }
    }

    pub fn stop(&self) {
        for (_, t) in self.tasks.lock().expect("not poisoned").drain() {
            t.abort();
        }
    }
}

async fn push_loop(db: Db, publisher: Arc<Publisher>, agent: AgentRow, secret: String) {
    let client = match pochta_transport::pinned_client(&agent.tls_sha256) {
        Ok(c) => c,
        Err(e) => return tracing::error!(agent = %agent.id, error = %e, "cannot make a TLS client"),
    };
    let url = format!("{}{}", agent.url, pochta_directory::api::path::PUSH);
    let mut rx = publisher.subscribe();
    let mut acked = Version(agent.applied);
    let mut backoff = MIN_BACKOFF;
    loop {
        let head = *rx.borrow_and_update();
        if acked >= head {
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        // The agent may have caught up by pulling meanwhile.
        if let Ok(Some(row)) =
            db::auth::agents(&db.pool).await.map(|v| v.into_iter().find(|a| a.id == agent.id))
        {
            acked = acked.max(Version(row.applied));
        }
        match push_once(&client, &url, &secret, &db, acked).await {
            Ok(v) if v > acked => {
                acked = v;
                backoff = MIN_BACKOFF;
                let _ = db::auth::agent_seen(&db.pool, &agent.id, Some(v)).await;
            }
            outcome => {
                match outcome {
                    Ok(v) => tracing::warn!(agent = %agent.id, version = %v, "agent made no progress"),
                    Err(e) => tracing::debug!(agent = %agent.id, error = %e, "push failed; will retry"),
                }
                // Wait out the backoff, but a new commit does not cut it short: the agent is down.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn push_once(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    db: &Db,
    after: Version,
) -> anyhow::Result<Version> {
    let frames = db::changelog::frames_after(&db.pool, after, BATCH_SETS, BATCH_BYTES).await?;
    let body = wire::pack(frames.iter().map(Vec::as_slice));
    let resp = client
        .post(url)
        .bearer_auth(secret)
        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await?;
    let status = resp.status();
    let bytes = resp.bytes().await?;
    // A refusal carries the agent's version too, so the server knows where it stands.
    let version = if status.is_success() {
        serde_json::from_slice::<PushReply>(&bytes).ok().map(|r| r.version)
    } else {
        serde_json::from_slice::<ErrorBody>(&bytes).ok().and_then(|e| e.version)
    };
    let version = version
        .ok_or_else(|| anyhow::anyhow!("agent answered {status}: {}", String::from_utf8_lossy(&bytes)))?;
    if !status.is_success() {
        tracing::warn!(%url, %status, body = %String::from_utf8_lossy(&bytes), "agent refused a change set");
    }
    Ok(Version(version))
}
