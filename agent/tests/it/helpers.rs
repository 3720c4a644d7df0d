//! The harness: a deployment that seals change sets like the server does, agents started from
//! a directly written `agent.toml`, and a stand-in for the central server's sync endpoints.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pochta_agent::config::{Config, ServerLink};
use pochta_agent::{App, Running};
use pochta_directory::wire::{self, ChainHash, ChangeSet, DeploymentId, Signer, Snapshot, Version};
use pochta_directory::{
    Address, AgentEndpoint, Directory, Domain, Group, GroupKind, Level, LocalPart, Op, PostingPolicy, Site,
    SiteId, User,
};
use serde_json::{Value, json};

pub const DOMAIN: &str = "example.org";
pub const SERVER_SECRET: &str = "server-secret-of-the-agent";
pub const PEER_SECRET: &str = "peer-secret-of-the-deployment";

/// Plays the central server's signing side: a model directory and its sealed change log.
pub struct Deployment {
    pub signer: Signer,
    pub id: DeploymentId,
    pub model: Directory,
    /// `frames[i]` is the frame of version `i + 1`.
    pub frames: Vec<Vec<u8>>,
    pub hashes: Vec<ChainHash>,
}

impl Deployment {
    pub fn new() -> Self {
        Self::with(Signer::generate(), DeploymentId::random())
    }

    pub fn with(signer: Signer, id: DeploymentId) -> Self {
        Self { signer, id, model: Directory::new(domain()), frames: Vec::new(), hashes: Vec::new() }
    }

    /// The same key and id with the history cut after `version`: its next commit is a validly
    /// signed set that conflicts with ours. (The model stays ours; it only keeps ops valid.)
    pub fn fork_at(&self, version: usize) -> Self {
        Self {
            signer: Signer::from_hex(&self.signer.to_hex()).unwrap(),
            id: self.id,
            model: self.model.clone(),
            frames: self.frames[..version].to_vec(),
            hashes: self.hashes[..version].to_vec(),
        }
    }

    pub fn version(&self) -> Version {
        Version(self.frames.len() as u64)
    }

    pub fn head(&self) -> ChainHash {
        self.hashes.last().copied().unwrap_or_default()
    }

    /// Applies `ops` to the model (they must be valid) and seals the next change set.
    pub fn commit(&mut self, ops: Vec<Op>) -> Vec<u8> {
        self.model.apply_all(&ops).expect("test ops are valid");
        let (frame, hash) = self.next_set(ops).seal(&self.signer);
        self.frames.push(frame.clone());
        self.hashes.push(hash);
        frame
    }

    /// Seals `ops` as the next change set without applying them to the model: a validly
    /// signed set the directory's rules refuse (what a compromised or buggy server could send).
    pub fn seal_unchecked(&self, ops: Vec<Op>) -> Vec<u8> {
        self.next_set(ops).seal(&self.signer).0
    }

    /// `ops` as the change set after the last one committed.
    fn next_set(&self, ops: Vec<Op>) -> ChangeSet {
        ChangeSet {
            deployment: self.id,
            version: self.version().next(),
            prev: self.head(),
            at: 1_700_000_000 + self.frames.len() as i64,
            author: "test".into(),
            ops,
        }
    }

    pub fn frame(&self, v: u64) -> &[u8] {
        &self.frames[(v - 1) as usize]
    }

    pub fn snapshot(&self) -> Vec<u8> {
        Snapshot {
            deployment: self.id,
            version: self.version(),
            head: self.head(),
            at: 1_700_000_000,
            directory: self.model.clone(),
        }
        .seal(&self.signer)
    }

    pub fn verify_hex(&self) -> String {
        self.signer.verifier().to_hex()
    }
}

pub fn domain() -> Domain {
    Domain::parse(DOMAIN).unwrap()
}
pub fn sid(s: &str) -> SiteId {
    SiteId::parse(s).unwrap()
}
pub fn lp(s: &str) -> LocalPart {
    LocalPart::parse(s).unwrap()
}
pub fn addr(s: &str) -> Address {
    Address::parse(s).unwrap()
}

pub fn site(id: &str, level: Level) -> Site {
    Site {
        id: sid(id),
        name: format!("Site {id}"),
        level,
        agents: vec![],
        default_quota: None,
        outgoing: vec![],
    }
}

pub fn site_with_agent(id: &str, agent_id: &str, url: &str, tls_sha256: &str) -> Site {
    let mut s = site(id, Level::One);
    s.agents.push(AgentEndpoint {
        id: agent_id.into(),
        url: url.into(),
        tls_sha256: tls_sha256.into(),
        smtp: String::new(),
    });
    s
}

pub fn user(name: &str, site: &str) -> User {
    User {
        app_passwords: Vec::new(),
        name: lp(name),
        display_name: format!("User {name}"),
        site: sid(site),
        former_sites: BTreeSet::new(),
        password: None,
        enabled: true,
        mailbox: Default::default(),
    }
}

pub fn group(name: &str, kind: GroupKind, members: &[&str], policy: PostingPolicy) -> Group {
    Group {
        name: lp(name),
        kind,
        description: String::new(),
        members: members.iter().map(|m| addr(m)).collect(),
        policy,
    }
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server link to nothing: the agent runs standalone.
pub fn dead_server() -> ServerLink {
    ServerLink {
        url: format!("https://127.0.0.1:{}", free_port()),
        tls_sha256: "00".repeat(32),
        secret: SERVER_SECRET.into(),
    }
}

pub fn config(
    dep: &Deployment,
    agent_id: &str,
    site: &str,
    server: ServerLink,
    listen: SocketAddr,
) -> Config {
    Config {
        agent_id: agent_id.into(),
        site: sid(site),
        level: Level::One,
        listen,
        advertise_url: String::new(),
        pull: false,
        heartbeat_secs: 3600,
        stats_secs: 600,
        poll_wait_secs: 600,
        stale_after_secs: 7200,
        deployment: dep.id,
        domain: domain(),
        verify_key: dep.verify_hex(),
        peer_secret: PEER_SECRET.into(),
        server,
        queue: Default::default(),
        delivery: Default::default(),
        smtp: Default::default(),
        imap: Default::default(),
        logins: Default::default(),
        door: Default::default(),
        dns: Default::default(),
    }
}

/// Writes `agent.toml` into a fresh directory under `root`.
pub fn write_config(root: &Path, name: &str, cfg: &Config) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    cfg.save(&dir).unwrap();
    dir
}

/// An agent running in-process, with a client pinned to its certificate.
pub struct TestAgent {
    pub dir: PathBuf,
    pub running: Option<Running>,
    pub client: reqwest::Client,
    pub port: u16,
}

impl TestAgent {
    pub async fn start(dir: &Path) -> Self {
        let app = App::build(dir).await.expect("the agent starts");
        let client = pochta_transport::pinned_client(app.fingerprint()).unwrap();
        let port = app.port();
        Self { dir: dir.to_owned(), running: Some(app.spawn()), client, port }
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("the agent is running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn directory(&self) -> Directory {
        (*self.running().replica().directory()).clone()
    }

    pub fn version(&self) -> u64 {
        self.running().replica().version().0
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await.expect("the agent stops cleanly");
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        let again = TestAgent::start(&self.dir).await;
        *self = again;
    }

    /// POSTs a raw body to `/sync/push`: the status and the JSON answer.
    pub async fn push_body(&self, body: Vec<u8>) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(self.url("/sync/push"))
            .bearer_auth(PEER_SECRET)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .expect("the push request completes");
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("the answer is JSON: {text:?}"));
        (status, json)
    }

    pub async fn push(&self, frames: &[&[u8]]) -> (StatusCode, Value) {
        self.push_body(wire::pack(frames.iter().copied())).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
    }

    pub async fn status(&self) -> Value {
        self.get_json("/status").await
    }

    pub async fn resolve(&self, rcpt: &str) -> Value {
        self.get_json(&format!("/resolve?rcpt={rcpt}&internal=true")).await
    }

    /// Waits until the replica reaches `version` (or panics after `secs`).
    pub async fn wait_version(&self, version: u64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.version() < version {
            assert!(Instant::now() < deadline, "stuck at version {} waiting for {version}", self.version());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stand-in central server.

#[derive(Default)]
pub struct StandInState {
    /// Published frames: `frames[i]` is version `i + 1`.
    pub frames: Vec<Vec<u8>>,
    /// Changes after a version below this are gone (410).
    pub gone_before: u64,
    pub snapshot: Option<Vec<u8>>,
    pub changes_requests: usize,
    pub snapshot_requests: usize,
    /// The `Pochta-Applied` header of the last request.
    pub last_applied: Option<String>,
    /// Enrollment: the one valid token and the JSON answer to give for it.
    pub enroll_token: Option<String>,
    pub enroll_answer: Option<Value>,
    pub enroll_requests: Vec<Value>,
    /// Bodies of `POST /api/v1/sync/stats`.
    pub stats: Vec<Value>,
}

pub struct StandIn {
    pub state: Arc<Mutex<StandInState>>,
    pub port: u16,
    pub fingerprint: String,
    handle: axum_server::Handle<SocketAddr>,
}

impl StandIn {
    pub async fn start(root: &Path) -> Self {
        pochta_transport::install_crypto();
        let dir = root.join("stand-in-server");
        std::fs::create_dir_all(&dir).unwrap();
        let id = pochta_transport::Identity::load_or_create(&dir, &["127.0.0.1".into()]).unwrap();
        let state = Arc::new(Mutex::new(StandInState::default()));
        let app = Router::new()
            .route("/api/v1/sync/changes", get(changes))
            .route("/api/v1/sync/snapshot", get(snapshot))
            .route("/api/v1/agents/enroll", post(enroll))
            .route("/api/v1/sync/stats", post(stats))
            .with_state(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = axum_server::Handle::new();
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(id.server_config().unwrap());
        let server = axum_server::from_tcp_rustls(listener, tls).unwrap().handle(handle.clone());
        tokio::spawn(server.serve(app.into_make_service()));
        Self { state, port, fingerprint: id.fingerprint().unwrap(), handle }
    }

    pub fn link(&self) -> ServerLink {
        ServerLink { url: self.url(), tls_sha256: self.fingerprint.clone(), secret: SERVER_SECRET.into() }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn publish(&self, frame: &[u8]) {
        self.state.lock().unwrap().frames.push(frame.to_vec());
    }

    pub fn stop(&self) {
        self.handle.shutdown();
    }
}

async fn stats(
    State(st): State<Arc<Mutex<StandInState>>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if !authorized(&headers) {
        return json_error(StatusCode::UNAUTHORIZED, "bad secret");
    }
    st.lock().unwrap().stats.push(body);
    StatusCode::NO_CONTENT.into_response()
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {SERVER_SECRET}"))
}

fn json_error(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "error": msg }))).into_response()
}

#[derive(serde::Deserialize)]
struct ChangesQuery {
    after: u64,
    #[serde(default)]
    wait: u64,
}

async fn changes(
    State(st): State<Arc<Mutex<StandInState>>>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Response {
    if !authorized(&headers) {
        return json_error(StatusCode::UNAUTHORIZED, "bad secret");
    }
    let deadline = Instant::now() + Duration::from_secs(q.wait);
    loop {
        {
            let mut s = st.lock().unwrap();
            s.changes_requests += 1;
            s.last_applied = headers.get("pochta-applied").and_then(|v| v.to_str().ok()).map(str::to_owned);
            if q.after < s.gone_before {
                return json_error(StatusCode::GONE, "too far behind: bootstrap from the snapshot");
            }
            let after = q.after as usize;
            if s.frames.len() > after || Instant::now() >= deadline {
                let body = wire::pack(s.frames.iter().skip(after).map(Vec::as_slice));
                let head = s.frames.len().to_string();
                return (
                    [("content-type", "application/octet-stream"), ("pochta-version", head.as_str())],
                    body,
                )
                    .into_response();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn snapshot(State(st): State<Arc<Mutex<StandInState>>>, headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return json_error(StatusCode::UNAUTHORIZED, "bad secret");
    }
    let mut s = st.lock().unwrap();
    s.snapshot_requests += 1;
    match &s.snapshot {
        Some(f) => ([("content-type", "application/octet-stream")], f.clone()).into_response(),
        None => json_error(StatusCode::NOT_FOUND, "no snapshot"),
    }
}

async fn enroll(State(st): State<Arc<Mutex<StandInState>>>, axum::Json(req): axum::Json<Value>) -> Response {
    let mut s = st.lock().unwrap();
    s.enroll_requests.push(req.clone());
    let good = s.enroll_token.is_some() && req["token"].as_str() == s.enroll_token.as_deref();
    if !good {
        return json_error(StatusCode::FORBIDDEN, "this enrollment token is unknown or was already used");
    }
    s.enroll_token = None;
    axum::Json(s.enroll_answer.clone().unwrap()).into_response()
}
