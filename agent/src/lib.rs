//! The Pochta site agent. This half keeps the local replica of the directory: it applies the
//! central server's signed change sets strictly in order (pushed, pulled, or fetched from
//! peers), serves them on to peers, and answers look-ups from memory. The SMTP half builds on
//! [`App`] and [`replica::Replica::directory`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), pochta_agent::StartError> {
//! let app = pochta_agent::App::build("agent-data".as_ref()).await?;
//! println!("listening on {}", app.port());
//! app.run().await
//! # }
//! ```

pub mod clock;
pub mod config;
pub mod deliver;
pub mod door;
pub mod durable;
pub mod enroll;
pub mod http;
pub mod imap;
pub mod mail;
pub mod mailbox_move;
pub mod metrics;
pub mod queue;
pub mod replica;
pub mod reply;
pub mod routing;
pub mod secret;
pub mod smtp;
pub mod status;
pub mod sync;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::replica::{Db, DbError, Replica};
use crate::status::StatusReport;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the configured verify key is invalid: {0}")]
    VerifyKey(#[from] pochta_directory::wire::WireError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("TLS: {0}")]
    Transport(#[from] pochta_transport::TransportError),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("the HTTPS server failed: {0}")]
    Serve(std::io::Error),
    #[error("there is no replica at {0}: enroll this agent first")]
    NoReplica(String),
    #[error("the queue at {0} cannot be opened: {1}")]
    Queue(String, std::io::Error),
    #[error("IMAP/POP3: {0}")]
    Imap(#[from] imap::ImapError),
    #[error("{0}")]
    Door(#[from] door::DoorError),
    #[error("[delivery] tls_ca_file {0}: {1}")]
    CaFile(String, String),
}

/// A configured agent, bound to its port, ready to run.
pub struct App {
    cfg: Arc<Config>,
    replica: Arc<Replica>,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    fingerprint: String,
    counters: Arc<metrics::Counters>,
    queue: Arc<queue::Queue>,
    deliverer: Arc<deliver::Deliverer>,
    smtp: smtp::server::Bound,
    imap: Option<imap::Imap>,
    /// One throttle for every login path of the agent: SMTP AUTH and Dovecot's.
    logins: Arc<pochta_directory::LoginThrottle>,
    /// The checks on mail from outside, when `[door]` configures any.
    door: Option<Arc<door::Door>>,
    /// The data folder (its free space is reported to the server).
    data: std::path::PathBuf,
}

impl App {
    /// Loads `agent.toml`, the TLS identity and the replica from `dir`, and binds the listen
    /// address (port 0 picks a free port: see [`App::port`]).
    pub async fn build(dir: &Path) -> Result<App, StartError> {
        pochta_transport::install_crypto();
        let cfg = Config::load(dir)?;
        let identity = pochta_transport::Identity::load_or_create(
            dir,
            &enroll::identity_names(&cfg.listen, &cfg.advertise_url),
        )?;
        let tls = identity.server_config()?;
        let fingerprint = identity.fingerprint()?;
        let db = Db::open(&Config::replica_path(dir)).await?;
        let replica = Replica::load(db, &cfg.domain, cfg.verifier()?, cfg.deployment).await?;
        let listener =
            std::net::TcpListener::bind(cfg.listen).map_err(|e| StartError::Listen(cfg.listen, e))?;
        let addr = listener.local_addr().map_err(|e| StartError::Listen(cfg.listen, e))?;
        let counters = Arc::new(metrics::Counters::default());
        let queue_dir = Config::queue_path(dir);
        let replica = Arc::new(replica);
        // Delivery first: it owns the durable writer the spool shares, and the queue delivers
        // through it (its fast path at acceptance, its scheduler afterwards).
        let durable = durable::Durable::new(cfg.queue.committers as usize);
        let imap = imap::Imap::prepare(&cfg, dir)?;
        let owner = imap.as_ref().and_then(imap::Imap::file_owner);
        let deliverer = Arc::new(deliverer(&cfg, dir, &replica, &counters, durable, owner)?);
        let queue = queue::Queue::open(&queue_dir, &cfg.queue, deliverer.clone())
            .map_err(|e| StartError::Queue(queue_dir.display().to_string(), e))?;
        let smtp = smtp::server::Bound::bind(cfg.smtp.listen, cfg.smtp.submission, cfg.smtp.submissions)
            .map_err(|(a, e)| StartError::Listen(a, e))?;
        tracing::info!(
            agent = %cfg.agent_id, site = %cfg.site, %addr, version = %replica.version(),
            mode = if cfg.pull { "pull" } else { "push" }, "agent ready"
        );
        let logins = Arc::new(pochta_directory::LoginThrottle::new(cfg.logins.policy()));
        let door = door::Door::open(&cfg.door, &cfg.dns, dir, &smtp_hostname(&cfg), cfg.domain.as_str())
            .await?
            .map(Arc::new);
        Ok(App {
            cfg: Arc::new(cfg),
            replica,
            listener,
            addr,
            tls,
            fingerprint,
            counters,
            queue,
            deliverer,
            smtp,
            imap,
            logins,
            door,
            data: dir.to_path_buf(),
        })
    }

    /// The IMAP and POP3 listeners, when `[imap]` configures any (port 0 picks free ports).
    pub fn imap_listeners(&self) -> Option<imap::Listeners> {
        self.imap.as_ref().map(imap::Imap::listeners)
    }

    /// Dovecot's master process id while it runs (`None` without `[imap]`).
    pub fn dovecot_pid(&self) -> Option<watch::Receiver<Option<u32>>> {
        self.imap.as_ref().map(imap::Imap::pid)
    }

    /// The bound SMTP listeners (port 0 in `[smtp]` picks free ports).
    pub fn smtp_addrs(&self) -> smtp::SmtpAddrs {
        self.smtp.addrs()
    }

    /// The bound HTTPS port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// SHA-256 of the agent's TLS certificate: what the server and peers pin.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.cfg
    }

    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }

    /// The durable queue: SMTP hands accepted messages to it ([`queue::Sink`]).
    pub fn queue(&self) -> Arc<queue::Queue> {
        self.queue.clone()
    }

    /// The agent's counters (received, accepted, delivered, sent, ...).
    pub fn counters(&self) -> &Arc<metrics::Counters> {
        &self.counters
    }

    /// The delivery side of this agent: Maildir, other sites, the outside world.
    pub fn deliverer(&self) -> &Arc<deliver::Deliverer> {
        &self.deliverer
    }

    /// Runs until SIGINT or SIGTERM.
    pub async fn run(self) -> Result<(), StartError> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `shutdown` completes, then stops serving (letting requests in flight finish
    /// for a few seconds), stops syncing and closes the replica.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), StartError> {
        let App {
            cfg,
            replica,
            listener,
            tls,
            queue,
            deliverer,
            counters,
            smtp: smtp_bound,
            imap,
            logins,
            door,
            data,
            ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let handle = axum_server::Handle::new();
        let moves = mailbox_move::Progress::default();
        let router = http::router(http::AppState {
            cfg: cfg.clone(),
            replica: replica.clone(),
            counters: counters.clone(),
            queue: queue.clone(),
            moves: moves.clone(),
            door: door.clone(),
        });
        let mut server = axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls.clone()))
            .map_err(StartError::Serve)?;
        // This endpoint talks only to the central server and to peer agents, never to browsers.
        // A `date` header on every push reply would be the largest part of it after HPACK, on
        // links where every byte is paid for.
        server.http_builder().http1().auto_date_header(false);
        server.http_builder().http2().auto_date_header(false);
        let server = server.handle(handle.clone()).serve(router.into_make_service());
        let mut server = tokio::spawn(server);
        let syncer = sync::Syncer::new(cfg.clone(), replica.clone())?;
        let sync_task = tokio::spawn(syncer.run(stop_rx.clone()));
        let stats_task = if cfg.stats_secs > 0 {
            let q = queue.clone();
            let reporter = sync::StatsReporter::new(
                cfg.clone(),
                counters.clone(),
                Arc::new(move || q.len()),
                moves.clone(),
            )?
            .with_services(client_services(&cfg, imap.as_ref()))
            .with_door(door.clone())
            .with_data_dir(data.clone());
            let d = deliverer.clone();
            let reporter = reporter.with_mailbox_sizes(Arc::new(move || d.mailbox_sizes()));
            Some(tokio::spawn(reporter.run(stop_rx.clone())))
        } else {
            None
        };
        let smtp_task = if smtp_bound.is_empty() {
            None
        } else {
            let service = smtp_service(
                &cfg,
                &replica,
                &counters,
                queue.clone(),
                tls.clone(),
                Some(deliverer.clone()),
                Guards { logins: logins.clone(), door: door.clone() },
            );
            Some(tokio::spawn(service.serve(smtp_bound, stop_rx.clone(), Duration::from_secs(10))))
        };
        let mover = mailbox_move::Mover::new(
            mailbox_move::MoverConfig {
                site: cfg.site.clone(),
                agent_id: cfg.agent_id.clone(),
                peer_secret: cfg.peer_secret.clone(),
                maildir_root: deliverer.context().maildir_root.clone(),
                directory: deliverer.context().directory.clone(),
                max_size: cfg.smtp.limits().max_message.saturating_sub(4096),
            },
            queue.clone(),
            moves,
        );
        let move_task = tokio::spawn(mover.run(replica.subscribe(), stop_rx.clone()));
        let schedule = queue::Schedule::from_config(&cfg.delivery, deliverer.context().hostname.clone());
        let imap_task = imap.map(|i| tokio::spawn(i.run(replica.clone(), logins.clone(), stop_rx.clone())));
        let sweep_task = tokio::spawn(sweep_tmp(
            deliverer.context().maildir_root.clone(),
            Duration::from_secs(cfg.delivery.tmp_grace_secs),
            stop_rx.clone(),
        ));
        let queue_task = tokio::spawn(queue.clone().run(schedule, stop_rx));

        let served = tokio::select! {
            _ = shutdown => None,
            r = &mut server => Some(r),
        };
        tracing::info!("agent stopping");
        let _ = stop_tx.send(true);
        handle.graceful_shutdown(Some(Duration::from_secs(5)));
        let served = match served {
            Some(r) => r,
            None => server.await,
        };
        let _ = sync_task.await;
        if let Some(t) = stats_task {
            let _ = t.await;
        }
        if let Some(t) = smtp_task {
            let _ = t.await;
        }
        let _ = move_task.await;
        let _ = queue_task.await;
        let _ = sweep_task.await;
        if let Some(t) = imap_task {
            let _ = t.await;
        }
        replica.close().await;
        match served {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StartError::Serve(e)),
            Err(e) => Err(StartError::Serve(std::io::Error::other(e))),
        }
    }

    /// Runs in a background task; [`Running::stop`] shuts it down.
    pub fn spawn(self) -> Running {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let port = self.port();
        let fingerprint = self.fingerprint.clone();
        let replica = self.replica.clone();
        let cfg = self.cfg.clone();
        let smtp = self.smtp_addrs();
        let imap = self.imap_listeners();
        let dovecot = self.dovecot_pid();
        let task = tokio::spawn(self.run_until(async move {
            let _ = rx.await;
        }));
        Running { port, fingerprint, replica, cfg, smtp, imap, dovecot, stop: tx, task }
    }
}

/// An agent running in a background task.
pub struct Running {
    port: u16,
    fingerprint: String,
    replica: Arc<Replica>,
    cfg: Arc<Config>,
    smtp: smtp::SmtpAddrs,
    imap: Option<imap::Listeners>,
    dovecot: Option<watch::Receiver<Option<u32>>>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<Result<(), StartError>>,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.port
    }
    /// The bound SMTP listeners.
    pub fn smtp_addrs(&self) -> smtp::SmtpAddrs {
        self.smtp
    }
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }
    /// The IMAP and POP3 listeners, when `[imap]` configures any.
    pub fn imap_listeners(&self) -> Option<imap::Listeners> {
        self.imap
    }
    /// Dovecot's master process id while it runs (`None` without `[imap]`).
    pub fn dovecot_pid(&self) -> Option<watch::Receiver<Option<u32>>> {
        self.dovecot.clone()
    }
    pub fn replica(&self) -> &Arc<Replica> {
        &self.replica
    }
    pub fn status(&self) -> StatusReport {
        StatusReport::live(&self.cfg, &self.replica)
    }

    /// Stops the agent and waits until its replica is closed.
    pub async fn stop(self) -> Result<(), StartError> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(StartError::Serve(std::io::Error::other(e))),
        }
    }
}

/// What every SMTP session of the agent checks against: the one login throttle, and the door.
pub struct Guards {
    pub logins: Arc<pochta_directory::LoginThrottle>,
    pub door: Option<Arc<door::Door>>,
}

/// The SMTP service of this agent, handing accepted mail to `sink` (the queue).
pub fn smtp_service<S: queue::Sink>(
    cfg: &Config,
    replica: &Arc<Replica>,
    counters: &Arc<metrics::Counters>,
    sink: Arc<S>,
    tls: Arc<rustls::ServerConfig>,
    mailboxes: Option<Arc<deliver::Deliverer>>,
    guards: Guards,
) -> smtp::SmtpServer<S> {
    let Guards { logins, door } = guards;
    let session = smtp::SessionConfig {
        hostname: smtp_hostname(cfg),
        site: cfg.site.clone(),
        agent_id: cfg.agent_id.clone(),
        peer_secret: cfg.peer_secret.clone(),
        limits: cfg.smtp.limits(),
        logins,
        door,
    };
    let view = Arc::new(smtp::ReplicaView {
        replica: replica.clone(),
        stale_after_secs: cfg.stale_after_secs,
        mailboxes,
    });
    smtp::SmtpServer::new(session, view, counters.clone(), sink, Some(tls))
}

fn deliverer(
    cfg: &Config,
    dir: &Path,
    replica: &Arc<Replica>,
    counters: &Arc<metrics::Counters>,
    durable: Arc<durable::Durable>,
    mail_owner: Option<durable::Owner>,
) -> Result<deliver::Deliverer, StartError> {
    let hostname = if cfg.delivery.hostname.is_empty() {
        format!("{}.{}", cfg.site, cfg.domain)
    } else {
        cfg.delivery.hostname.clone()
    };
    let source = replica.clone();
    let extra_roots = if cfg.delivery.tls_ca_file.as_os_str().is_empty() {
        Vec::new()
    } else {
        use rustls_pki_types::pem::PemObject as _;
        let file = &cfg.delivery.tls_ca_file;
        let bad = |e: String| StartError::CaFile(file.display().to_string(), e);
        rustls_pki_types::CertificateDer::pem_file_iter(file)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(e.to_string()))?
    };
    let ctx = deliver::Context {
        directory: Arc::new(move || source.directory()),
        site: cfg.site.clone(),
        level: cfg.level,
        agent_id: cfg.agent_id.clone(),
        peer_secret: cfg.peer_secret.clone(),
        maildir_root: cfg.maildir_root(dir),
        mail_owner,
        smarthost: (!cfg.delivery.smarthost.is_empty()).then(|| cfg.delivery.smarthost.clone()),
        hostname,
        timeout: Duration::from_secs_f64(cfg.delivery.timeout_secs.max(0.1)),
        counters: counters.clone(),
        send_unsigned_on_dkim_failure: cfg.delivery.send_unsigned_on_dkim_failure,
        dns_servers: cfg.dns.servers.clone(),
        extra_roots,
        mta_sts_port: cfg.delivery.mta_sts_port,
        dnssec_trust_anchor: (!cfg.dns.dnssec_trust_anchor.as_os_str().is_empty())
            .then(|| cfg.dns.dnssec_trust_anchor.clone()),
    };
    deliver::Deliverer::new(ctx, durable)
        .map_err(|e| StartError::Transport(pochta_transport::TransportError::Tls(e)))
}

/// Sweeps the Maildirs' `tmp/` at start and every hour until `stop`.
async fn sweep_tmp(root: PathBuf, grace: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let r = root.clone();
        let removed =
            tokio::task::spawn_blocking(move || deliver::maildir::sweep_tmp(&r, grace)).await.unwrap_or(0);
        if removed > 0 {
            tracing::info!(removed, "removed files a crash left in Maildir tmp/");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// The name in the SMTP greeting and `Received:` fields: `[smtp] hostname`, else `<site>.<domain>`.
fn smtp_hostname(cfg: &Config) -> String {
    if cfg.smtp.hostname.is_empty() {
        format!("{}.{}", cfg.site, cfg.domain)
    } else {
        cfg.smtp.hostname.clone()
    }
}

/// What mail clients at this site connect to: submission from `[smtp]`, IMAP and POP3 from
/// `[imap]`, each under the name clients are told to use.
fn client_services(cfg: &Config, imap: Option<&imap::Imap>) -> pochta_directory::api::ClientServices {
    let mut s = imap.map(imap::Imap::services).unwrap_or_default();
    let host = cfg.client_host();
    let at = |a: Option<SocketAddr>| a.map(|a| format!("{host}:{}", a.port())).unwrap_or_default();
    s.submission = at(cfg.smtp.submission);
    s.submissions = at(cfg.smtp.submissions);
    s
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The replica of a stopped (or running) agent, read straight from its data directory, for
/// the `resolve` and `status` commands.
pub struct Offline {
    pub cfg: Config,
    pub replica: Replica,
}

impl Offline {
    pub async fn open(dir: &Path) -> Result<Self, StartError> {
        let cfg = Config::load(dir)?;
        let path: PathBuf = Config::replica_path(dir);
        if !path.exists() {
            return Err(StartError::NoReplica(path.display().to_string()));
        }
        let db = Db::open(&path).await?;
        let replica = Replica::load(db, &cfg.domain, cfg.verifier()?, cfg.deployment).await?;
        Ok(Self { cfg, replica })
    }

    pub fn status(&self) -> StatusReport {
        StatusReport::live(&self.cfg, &self.replica)
    }

    pub async fn close(self) {
        self.replica.close().await;
    }
}
