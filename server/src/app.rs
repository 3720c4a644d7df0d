//! Startup: load the data folder, open the database, start pushing, serve HTTPS.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use pochta_directory::wire::Signer;
use pochta_transport::Identity;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::db::Db;
use crate::publish::Publisher;
use crate::push::Pusher;
use crate::state::AppState;

pub struct App {
    state: AppState,
    listener: std::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
}

/// A server running in the background of this process.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    sweeper: tokio::task::JoinHandle<()>,
}

impl App {
    pub async fn build(data_dir: &Path) -> anyhow::Result<App> {
        pochta_transport::install_crypto();
        let config = Config::load(data_dir)?;
        let key = std::fs::read_to_string(config.signing_key_path()).context("reading the signing key")?;
        let signer = Signer::from_hex(&key).context("the signing key is not valid")?;
        let peer_secret = std::fs::read_to_string(data_dir.join("peer.secret"))
            .context("reading peer.secret")?
            .trim()
            .to_owned();
        let identity = Identity::load_or_create(data_dir, &tls_names(&config))?;
        let db =
            Db::connect(&config.database).await.with_context(|| format!("opening {}", config.database))?;
        let publisher = Arc::new(Publisher::load(db.clone(), signer).await?);
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let public_url =
            if config.public_url.is_empty() { format!("https://{addr}") } else { config.public_url.clone() };
        let pusher = Pusher::new(db.clone(), publisher.clone(), peer_secret);
        let reports = Arc::new(crate::reports::AgentReports::load(&db.pool).await?);
        let state = AppState {
            db,
            publisher,
            pusher,
            config: Arc::new(config),
            public_url: Arc::new(public_url),
            tls_sha256: Arc::new(identity.fingerprint()?),
            hashing: Arc::new(Semaphore::new(2)),
            web: Default::default(),
            moves: Default::default(),
            warnings: Default::default(),
            facts: Default::default(),
            reports,
            site_summaries: Default::default(),
        };
        Ok(App { state, listener, tls: identity.server_config()? })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves in a background task.
    pub async fn spawn(self) -> anyhow::Result<Running> {
        self.state.pusher.start().await?;
        let addr = self.addr();
        let handle = axum_server::Handle::new();
        let router = crate::api::router(self.state.clone());
        let server = axum_server::from_tcp_rustls(
            self.listener,
            axum_server::tls_rustls::RustlsConfig::from_config(self.tls),
        )?
        .handle(handle.clone());
        // Connection info gives the web pages the client address for login rate limits.
        let task = tokio::spawn(server.serve(router.into_make_service_with_connect_info::<SocketAddr>()));
        tracing::info!(%addr, url = %self.state.public_url, "pochta-server listening");
        let sweeper = crate::manage::dkim::spawn_sweeper(self.state.clone());
        Ok(Running { addr, state: self.state, handle, task, sweeper })
    }
}

impl Running {
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Stops serving and pushing; open requests get a moment to finish.
    pub async fn stop(self) {
        self.state.pusher.stop();
        self.sweeper.abort();
        self.handle.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
        let _ = self.task.await;
        self.state.db.pool.close().await;
    }

    /// Serves until the task ends (it does not end by itself).
    pub async fn wait(self) -> anyhow::Result<()> {
        Ok(self.task.await??)
    }
}

fn tls_names(cfg: &Config) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), cfg.listen.ip().to_string()];
    if let Some(host) = cfg.public_url.strip_prefix("https://").and_then(|h| h.split([':', '/']).next()) {
        names.push(host.to_owned());
    }
    names.dedup();
    names
}
