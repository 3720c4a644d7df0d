//! The test bed shared by the end-to-end tests: a seeded central server in this process and
//! real `pochta-agent` processes beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pochta_directory::{Directory, LocalPart, Op, SiteId, User};
use pochta_server::demo::{self, AgentLinks, DemoAgent};
use pochta_server::{App, Running};
use tokio::process::Child;

pub(crate) const SYNC: Duration = Duration::from_secs(90);

pub(crate) struct Bed {
    _tmp: tempfile::TempDir,
    pub base: PathBuf,
    server_dir: PathBuf,
    running: Option<Running>,
    pub bin: PathBuf,
    /// The first administrator's name, password and API token.
    pub init: pochta_server::init::Initialised,
}

impl Bed {
    /// A seeded server whose port stays the same across restarts.
    pub(crate) async fn new(users: usize) -> Bed {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        let server_dir = base.join("server");
        let (running, init) = demo::seeded_server(&server_dir, users, false).await.unwrap();
        let mut cfg = pochta_server::config::Config::load(&server_dir).unwrap();
        cfg.listen = running.addr;
        cfg.save().unwrap();
        Bed { _tmp: tmp, base, server_dir, running: Some(running), bin: demo::agent_binary().unwrap(), init }
    }

    pub(crate) fn server(&self) -> &Running {
        self.running.as_ref().expect("server running")
    }

    pub(crate) async fn agent(&self, site: &str, links: AgentLinks) -> (Child, DemoAgent) {
        demo::start_agent(self.server(), &self.bin, &self.base, site, links).await.unwrap()
    }

    pub(crate) fn restart_agent(&self, a: &DemoAgent) -> Child {
        demo::run_agent(&self.bin, &a.data_dir, &self.base.join(format!("agent-{}.log", a.site))).unwrap()
    }

    pub(crate) async fn stop_server(&mut self) {
        self.running.take().expect("running").stop().await;
    }

    pub(crate) async fn start_server(&mut self) {
        self.running = Some(App::build(&self.server_dir).await.unwrap().spawn().await.unwrap());
    }

    pub(crate) async fn edit(&self, ops: impl FnOnce(&Directory) -> Vec<Op>) -> u64 {
        self.server()
            .state
            .publisher
            .edit::<pochta_server::publish::EditError>("test", |d| Ok(ops(d)))
            .await
            .unwrap()
            .0
    }

    pub(crate) fn directory(&self) -> Directory {
        (*self.server().state.publisher.current().0).clone()
    }
}

pub(crate) async fn kill(mut c: Child) {
    c.start_kill().unwrap();
    c.wait().await.unwrap();
}

pub(crate) fn pin(dir: &Path) -> String {
    pochta_transport::fingerprint_of_pem(&std::fs::read_to_string(dir.join("tls.crt")).unwrap()).unwrap()
}

pub(crate) async fn get_json(a: &DemoAgent, path: &str) -> Option<serde_json::Value> {
    let client = pochta_transport::pinned_client(&pin(&a.data_dir)).ok()?;
    let body = client.get(format!("{}{path}", a.url)).send().await.ok()?.bytes().await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// The agent's `/metrics` (Prometheus text).
pub(crate) async fn metrics(a: &DemoAgent) -> String {
    let client = pochta_transport::pinned_client(&pin(&a.data_dir)).unwrap();
    client.get(format!("{}/metrics", a.url)).send().await.unwrap().text().await.unwrap()
}

/// The value of counter `name` in `metrics`.
pub(crate) fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

/// Waits until the agent's own status says `version`, without asking the server.
pub(crate) async fn agent_reaches(a: &DemoAgent, version: u64) {
    let until = tokio::time::Instant::now() + SYNC;
    loop {
        let v = get_json(a, "/status").await.and_then(|s| s["version"].as_u64());
        if v == Some(version) {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "agent {} stuck at {v:?}, want {version}", a.site);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn replica_of(a: &DemoAgent) -> Directory {
    let offline = pochta_agent::Offline::open(&a.data_dir).await.unwrap();
    let dir = (*offline.replica.directory()).clone();
    offline.close().await;
    dir
}

pub(crate) fn user(name: &str, site: &str) -> User {
    User {
        app_passwords: Vec::new(),
        name: LocalPart::parse(name).unwrap(),
        display_name: name.to_owned(),
        site: SiteId::parse(site).unwrap(),
        former_sites: Default::default(),
        password: None,
        enabled: true,
        mailbox: Default::default(),
    }
}
