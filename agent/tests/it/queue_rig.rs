//! Harness for the queue and delivery tests: a queue on a temporary spool with its scheduler,
//! a hand-made directory that tests can change, Postfix's `smtp-sink` as the outside world,
//! and a tiny SMTP receiver (optionally STARTTLS + AUTH, like a peer agent) that records
//! every transaction and refuses recipients named `bad*` (550) and `later*` (451).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pochta_agent::config::{DeliveryConfig, QueueConfig};
use pochta_agent::deliver::{Context, Deliverer};
use pochta_agent::durable::Durable;
use pochta_agent::metrics::Counters;
use pochta_agent::queue::{Incoming, Origin, Queue, QueueId, Schedule, Sink};
use pochta_directory::{AgentEndpoint, Directory, Level, Op, Site};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::helpers::{PEER_SECRET, addr, domain, sid, site, user};

pub type SharedDir = Arc<RwLock<Arc<Directory>>>;

pub fn shared(dir: Directory) -> SharedDir {
    Arc::new(RwLock::new(Arc::new(dir)))
}

pub fn edit(dir: &SharedDir, ops: Vec<Op>) {
    let mut d = (**dir.read().unwrap()).clone();
    d.apply_all(&ops).unwrap();
    *dir.write().unwrap() = Arc::new(d);
}

/// A directory with the given sites and `user@site` pairs.
pub fn directory(sites: Vec<Site>, users: &[(&str, &str)]) -> Directory {
    let mut d = Directory::new(domain());
    let mut ops: Vec<Op> = sites.into_iter().map(Op::PutSite).collect();
    ops.extend(users.iter().map(|(u, s)| Op::PutUser(user(u, s))));
    d.apply_all(&ops).unwrap();
    d
}

pub fn site_at(id: &str, level: Level, smtp: Option<(&str, &str)>) -> Site {
    let mut s = site(id, level);
    if let Some((smtp, pin)) = smtp {
        s.agents.push(AgentEndpoint {
            id: format!("{id}-agent"),
            url: String::new(),
            tls_sha256: pin.into(),
            smtp: smtp.into(),
        });
    }
    s
}

pub struct Rig {
    pub queue: Arc<Queue>,
    pub deliverer: Arc<Deliverer>,
    pub counters: Arc<Counters>,
    pub maildir: PathBuf,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

pub struct RigOptions {
    pub site: &'static str,
    pub level: Level,
    pub smarthost: Option<String>,
    pub retry: f64,
    pub lifetime: f64,
    pub run: bool,
    pub dns_servers: Vec<std::net::SocketAddr>,
    pub extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    pub mta_sts_port: u16,
    pub dnssec_trust_anchor: Option<PathBuf>,
}

impl Default for RigOptions {
    fn default() -> Self {
        Self {
            site: "hq",
            level: Level::One,
            smarthost: None,
            retry: 0.2,
            lifetime: 3600.0,
            run: true,
            dns_servers: vec![],
            extra_roots: vec![],
            mta_sts_port: 443,
            dnssec_trust_anchor: None,
        }
    }
}

impl Rig {
    pub fn open(root: &Path, dir: SharedDir, o: RigOptions) -> Rig {
        let counters = Arc::new(Counters::default());
        let maildir = root.join("mail");
        let (stop, stop_rx) = watch::channel(false);
        let source = dir.clone();
        let ctx = Context {
            directory: Arc::new(move || source.read().unwrap().clone()),
            site: sid(o.site),
            level: o.level,
            agent_id: format!("{}-agent", o.site),
            peer_secret: PEER_SECRET.into(),
            maildir_root: maildir.clone(),
            mail_owner: None,
            smarthost: o.smarthost.clone(),
            hostname: format!("{}.example.org", o.site),
            timeout: Duration::from_secs(5),
            counters: counters.clone(),
            send_unsigned_on_dkim_failure: false,
            dns_servers: o.dns_servers.clone(),
            extra_roots: o.extra_roots.clone(),
            mta_sts_port: o.mta_sts_port,
            dnssec_trust_anchor: o.dnssec_trust_anchor.clone(),
        };
        let durable = Durable::new(QueueConfig::default().committers as usize);
        let deliverer = Arc::new(Deliverer::new(ctx, durable).unwrap());
        let queue = Queue::open(&root.join("queue"), &QueueConfig::default(), deliverer.clone()).unwrap();
        let task = o.run.then(|| {
            let cfg = DeliveryConfig {
                retry_initial_secs: o.retry,
                retry_max_secs: o.retry * 4.0,
                lifetime_secs: o.lifetime,
                ..DeliveryConfig::default()
            };
            let schedule = Schedule::from_config(&cfg, format!("{}.example.org", o.site));
            tokio::spawn(queue.clone().run(schedule, stop_rx))
        });
        Rig { queue, deliverer, counters, maildir, stop, task }
    }

    pub async fn send(&self, from: Option<&str>, to: &[&str], origin: Origin, body: &str) -> QueueId {
        let msg = Incoming {
            reverse_path: from.map(addr),
            recipients: to.iter().map(|a| addr(a)).collect(),
            origin,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            data: body.as_bytes().to_vec(),
        };
        self.queue.enqueue(msg).await.expect("the queue takes the message")
    }

    /// Waits until the queue is empty.
    pub async fn drained(&self, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.queue.is_empty() {
            assert!(Instant::now() < deadline, "queue not drained: {:#?}", self.queue.list());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Files in `user`'s `Maildir/new`, contents.
    pub fn mailbox(&self, user: &str) -> Vec<String> {
        mailbox(&self.maildir, user)
    }

    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }

    /// A crash: the scheduler is killed wherever it is, nothing is flushed or closed.
    pub fn crash(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

pub fn mailbox(root: &Path, user: &str) -> Vec<String> {
    let new = root.join(user).join("Maildir").join("new");
    let Ok(entries) = std::fs::read_dir(new) else { return vec![] };
    let mut out: Vec<String> = entries
        .flatten()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
        .collect();
    out.sort();
    out
}

// ---------------------------------------------------------------------------------------------
// smtp-sink

pub struct SmtpSink {
    pub dir: PathBuf,
    child: std::process::Child,
}

impl SmtpSink {
    pub fn start(root: &Path, port: u16) -> SmtpSink {
        let dir = root.join(format!("sink-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        set_mode(&dir, 0o777);
        let child = std::process::Command::new("/usr/sbin/smtp-sink")
            .args(["-u", "nobody", "-d"])
            .arg(format!("{}/%M.", dir.display()))
            .arg(format!("127.0.0.1:{port}"))
            .arg("50")
            .spawn()
            .expect("smtp-sink runs (Postfix is installed)");
        // Wait for the listener.
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        SmtpSink { dir, child }
    }

    /// Every transaction received: its dump (X-Rcpt-Args lines, then the message).
    pub fn transactions(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned())
            .collect();
        out.sort();
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A recording SMTP receiver.

#[derive(Debug, Clone, Default)]
pub struct Txn {
    pub tls: bool,
    pub auth: Option<String>,
    pub mail_from: String,
    pub rcpts: Vec<String>,
    pub data: String,
}

pub struct Receiver {
    pub port: u16,
    pub pin: String,
    pub txns: Arc<Mutex<Vec<Txn>>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// With `tls`, it offers STARTTLS (its certificate's fingerprint is `pin`) and requires
    /// it, and AUTH PLAIN, before MAIL.
    pub async fn start(tls: bool) -> Receiver {
        pochta_transport::install_crypto();
        let id = pochta_transport::Identity::generate(&["127.0.0.1".into()]).unwrap();
        let pin = id.fingerprint().unwrap();
        let mut cfg = (*id.server_config().unwrap()).clone();
        cfg.alpn_protocols.clear();
        let mut r = Receiver::listen("127.0.0.1:0", tls.then_some(cfg), tls).await;
        r.pin = pin;
        r
    }

    /// An outside MX on `addr`: STARTTLS with `tls` when given, no AUTH.
    pub async fn mx(addr: &str, tls: Option<rustls::ServerConfig>) -> Receiver {
        Receiver::listen(addr, tls, false).await
    }

    async fn listen(addr: &str, tls: Option<rustls::ServerConfig>, require_auth: bool) -> Receiver {
        let acceptor = tls.map(|cfg| tokio_rustls::TlsAcceptor::from(Arc::new(cfg)));
        // A receiver dropped just before on the same address lets go of it once its task ends.
        let mut tries = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(e) => panic!("bind {addr}: {e}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        let txns = Arc::new(Mutex::new(Vec::new()));
        let t = txns.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                let (t, acceptor) = (t.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let _ = session(sock, acceptor, require_auth, t).await;
                });
            }
        });
        Receiver { port, pin: String::new(), txns, task }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn txns(&self) -> Vec<Txn> {
        self.txns.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn session(
    sock: tokio::net::TcpStream,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    require_auth: bool,
    txns: Arc<Mutex<Vec<Txn>>>,
) -> std::io::Result<()> {
    let mut io = BufReader::new(Box::new(sock) as Box<dyn Io>);
    io.get_mut().write_all(b"220 receiver ESMTP\r\n").await?;
    let mut tls = false;
    let mut auth: Option<String> = None;
    let mut txn = Txn::default();
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") {
            let mut r = "250-receiver\r\n250-PIPELINING\r\n250-8BITMIME\r\n".to_owned();
            if acceptor.is_some() && !tls {
                r.push_str("250-STARTTLS\r\n");
            }
            if tls {
                r.push_str("250-AUTH PLAIN\r\n");
            }
            r.push_str("250 SIZE 10000000");
            r
        } else if upper == "STARTTLS" && acceptor.is_some() && !tls {
            io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await?;
            let sock = io.into_inner();
            let stream = acceptor.as_ref().unwrap().accept(sock).await?;
            io = BufReader::new(Box::new(stream) as Box<dyn Io>);
            tls = true;
            continue;
        } else if let Some(token) = upper.strip_prefix("AUTH PLAIN ").map(|_| &cmd[11..]) {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD.decode(token.trim()).unwrap_or_default();
            let parts: Vec<String> =
                raw.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned()).collect();
            if parts.len() == 3 && parts[2] == PEER_SECRET {
                auth = Some(parts[1].clone());
                "235 2.7.0 ok".into()
            } else {
                "535 5.7.8 bad credentials".into()
            }
        } else if upper.starts_with("MAIL FROM:") {
            if require_auth && auth.is_none() {
                "530 5.7.0 authentication required".into()
            } else {
                txn = Txn { tls, auth: auth.clone(), mail_from: cmd[10..].to_owned(), ..Txn::default() };
                "250 2.1.0 ok".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = cmd[8..].trim_matches(['<', '>']).to_owned();
            if rcpt.starts_with("bad") {
                "550 5.1.1 no such user here".into()
            } else if rcpt.starts_with("later") {
                "451 4.2.0 try again later".into()
            } else {
                txn.rcpts.push(rcpt);
                "250 2.1.5 ok".into()
            }
        } else if upper == "DATA" {
            io.get_mut().write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if io.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            txn.data = data;
            txns.lock().unwrap().push(std::mem::take(&mut txn));
            "250 2.0.0 queued".into()
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else {
            "250 ok".into()
        };
        io.get_mut().write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
}
