//! The SMTP test harness: a fixed directory, a recording queue, an in-memory session driven
//! as `s.rcpt("nobody@example.org").expect(550)`, and a real SMTP server on port 0.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pochta_agent::metrics::Counters;
use pochta_agent::queue::{Incoming, QueueError, QueueId, Sink};
use pochta_agent::smtp::server::Bound;
use pochta_agent::smtp::session::Action;
use pochta_agent::smtp::{DirectoryView, Limits, Role, Session, SessionConfig, SmtpAddrs, SmtpServer, Step};
use pochta_directory::{Directory, GroupKind, Level, Op, PasswordHash, PostingPolicy};
use tokio::sync::watch;

use crate::helpers::*;

pub const PASSWORD: &str = "correct horse 1";

/// example.org: sites msk and spb; ivanov and petrov (msk, with a password), sidorov (spb),
/// disabled kuznetsov; `team` (anyone), `staff` (internal), `board` (members only).
pub fn fixture() -> Directory {
    let mut dir = Directory::new(domain());
    let mut ivanov = user("ivanov", "msk");
    ivanov.password = Some(PasswordHash::create(PASSWORD));
    ivanov.former_sites.insert(sid("spb"));
    let mut kuz = user("kuznetsov", "msk");
    kuz.enabled = false;
    let ops = vec![
        Op::PutSite(site("msk", Level::One)),
        Op::PutSite(site("spb", Level::One)),
        Op::PutUser(ivanov),
        Op::PutUser(user("petrov", "msk")),
        Op::PutUser(user("sidorov", "spb")),
        Op::PutUser(kuz),
        Op::PutGroup(group(
            "team",
            GroupKind::Alias,
            &["ivanov@example.org", "sidorov@example.org"],
            PostingPolicy::Anyone,
        )),
        Op::PutGroup(group("staff", GroupKind::List, &["petrov@example.org"], PostingPolicy::Internal)),
        Op::PutGroup(group("board", GroupKind::List, &["petrov@example.org"], PostingPolicy::Members)),
    ];
    dir.apply_all(&ops).unwrap();
    dir
}

pub struct Fixed {
    pub dir: Arc<Directory>,
    pub stale: AtomicBool,
}

impl DirectoryView for Fixed {
    fn directory(&self) -> Arc<Directory> {
        self.dir.clone()
    }
    fn stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }
}

pub fn view(stale: bool) -> Arc<Fixed> {
    // One fixture for all tests: hashing its password is the slow part.
    static DIR: std::sync::OnceLock<Arc<Directory>> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| Arc::new(fixture())).clone();
    Arc::new(Fixed { dir, stale: AtomicBool::new(stale) })
}

pub fn session_config(limits: Limits) -> SessionConfig {
    SessionConfig {
        hostname: "msk.example.org".into(),
        site: sid("msk"),
        agent_id: "agent-msk".into(),
        peer_secret: PEER_SECRET.into(),
        limits,
        logins: Default::default(),
        door: None,
    }
}

/// A queue that keeps what it is given, or fails when told to.
#[derive(Default)]
pub struct Recorder {
    pub messages: Mutex<Vec<Incoming>>,
    pub fail: AtomicBool,
    n: AtomicUsize,
}

impl Recorder {
    pub fn take(&self) -> Vec<Incoming> {
        std::mem::take(&mut self.messages.lock().unwrap())
    }
    pub fn count(&self) -> usize {
        self.messages.lock().unwrap().len()
    }
}

impl Sink for Recorder {
    async fn enqueue(&self, msg: Incoming) -> Result<QueueId, QueueError> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(QueueError::Io(std::io::Error::other("disk on fire")));
        }
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        self.messages.lock().unwrap().push(msg);
        Ok(QueueId(format!("Q{n:04}")))
    }
}

/// Replies as (code, full text of the last line).
#[derive(Debug)]
pub struct Replies(pub Vec<(u16, String)>);

impl Replies {
    /// The last reply has this code.
    #[track_caller]
    pub fn expect(&self, code: u16) -> &Self {
        let last = self.0.last().unwrap_or_else(|| panic!("no reply at all, expected {code}"));
        assert_eq!(last.0, code, "got {:?}", self.0);
        self
    }
    /// The last reply carries this enhanced status code.
    #[track_caller]
    pub fn status(&self, st: &str) -> &Self {
        let last = self.0.last().expect("a reply");
        assert!(last.1.starts_with(&format!("{} {st}", last.0)), "expected {st} in {:?}", self.0);
        self
    }
    pub fn codes(&self) -> Vec<u16> {
        self.0.iter().map(|r| r.0).collect()
    }
    pub fn text(&self) -> String {
        self.0.iter().map(|r| r.1.as_str()).collect::<Vec<_>>().join("\n")
    }
}

/// Parses complete replies; multi-line replies count once (by their last line).
pub fn parse_replies(bytes: &[u8]) -> Replies {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if line.len() >= 4 && line.as_bytes()[3] == b'-' {
            continue;
        }
        let code = line[..3].parse().unwrap_or(0);
        out.push((code, line.to_owned()));
    }
    Replies(out)
}

/// A session in memory: actions are carried out at once (TLS is pretended).
pub struct S {
    pub session: Session,
    pub queued: Vec<Incoming>,
    pub fail_queue: bool,
    pub counters: Arc<Counters>,
    pub writes: usize,
}

impl S {
    pub fn new(role: Role) -> Self {
        Self::with(role, Limits::default(), false)
    }

    pub fn with(role: Role, limits: Limits, stale: bool) -> Self {
        let counters = Arc::new(Counters::default());
        let tls = role == Role::Submissions;
        let session = Session::new(
            Arc::new(session_config(limits)),
            view(stale),
            counters.clone(),
            role,
            "192.0.2.7".parse().unwrap(),
            true,
            tls,
        );
        let mut s = Self { session, queued: Vec::new(), fail_queue: false, counters, writes: 0 };
        s.send(b"").expect(220);
        s
    }

    /// Feeds raw bytes; returns every reply produced until the session needs more input.
    pub fn send(&mut self, bytes: &[u8]) -> Replies {
        self.session.feed(bytes);
        let mut out = Vec::new();
        loop {
            match self.session.step() {
                Step::NeedInput => break,
                Step::Close => break,
                Step::Action(Action::StartTls) => {
                    out.extend(self.session.take_output());
                    self.session.tls_established();
                    break;
                }
                Step::Action(Action::Verify(v)) => {
                    let ok = v.hash.map(|h| h.verify(&v.password)).unwrap_or(false);
                    self.session.verified(v.user, ok);
                }
                Step::Action(Action::Enqueue(m)) => {
                    if self.fail_queue {
                        self.session.enqueued(Err(QueueError::Full));
                    } else {
                        self.queued.push(*m);
                        self.session.enqueued(Ok(QueueId(format!("Q{}", self.queued.len()))));
                    }
                }
                Step::Action(Action::CheckSender(_)) => unreachable!("these sessions have no door"),
            }
        }
        out.extend(self.session.take_output());
        if !out.is_empty() {
            self.writes += 1;
        }
        parse_replies(&out)
    }

    pub fn cmd(&mut self, line: &str) -> Replies {
        self.send(format!("{line}\r\n").as_bytes())
    }
    pub fn ehlo(&mut self) -> Replies {
        self.cmd("EHLO client.example.net")
    }
    pub fn mail(&mut self, from: &str) -> Replies {
        self.cmd(&format!("MAIL FROM:<{from}>"))
    }
    pub fn rcpt(&mut self, to: &str) -> Replies {
        self.cmd(&format!("RCPT TO:<{to}>"))
    }
    pub fn data(&mut self, body: &str) -> Replies {
        self.cmd("DATA").expect(354);
        self.send(format!("{body}\r\n.\r\n").as_bytes())
    }
    pub fn closed(&self) -> bool {
        self.session.is_closed()
    }
}

pub fn plain(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"))
}

pub fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A real SMTP server on loopback (all three roles, port 0) with a recording queue.
pub struct Smtp {
    pub addrs: SmtpAddrs,
    pub sink: Arc<Recorder>,
    pub counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Smtp {
    pub async fn start(limits: Limits) -> Self {
        pochta_transport::install_crypto();
        let id = pochta_transport::Identity::generate(&["127.0.0.1".into(), "localhost".into()]).unwrap();
        let tls = id.server_config().unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let bound = Bound::bind(Some(any), Some(any), Some(any)).unwrap();
        let addrs = bound.addrs();
        let sink = Arc::new(Recorder::default());
        let counters = Arc::new(Counters::default());
        let view = view(false);
        let server = SmtpServer::new(session_config(limits), view, counters.clone(), sink.clone(), Some(tls));
        let (stop, rx) = watch::channel(false);
        let task = tokio::spawn(server.serve(bound, rx, Duration::from_secs(5)));
        Self { addrs, sink, counters, stop, task }
    }

    pub fn mx(&self) -> SocketAddr {
        self.addrs.mx.unwrap()
    }
    pub fn submission(&self) -> SocketAddr {
        self.addrs.submission.unwrap()
    }
    pub fn submissions(&self) -> SocketAddr {
        self.addrs.submissions.unwrap()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
