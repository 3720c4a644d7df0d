//! One SMTP connection: the session's I/O. Reads feed the sans-IO [`Session`]; its replies
//! are written whenever it needs more input (so a pipelined group is answered in one write);
//! its actions run here: the TLS handshake, password checks on the blocking pool, and the
//! hand-over to the queue.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use pochta_directory::{PasswordHash, PasswordPool};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::session::{Action, DirectoryView, Role, Session, SessionConfig, Step};
use crate::door;
use crate::metrics::Counters;
use crate::queue::{Origin, Sink};

/// What every connection of the service shares.
pub(crate) struct Shared<S> {
    pub cfg: Arc<SessionConfig>,
    pub view: Arc<dyn DirectoryView>,
    pub counters: Arc<Counters>,
    pub sink: Arc<S>,
    pub tls: Option<TlsAcceptor>,
    /// Caps concurrent Argon2id verifications in the whole agent; as many permits as the
    /// pool has memory areas, so a permitted check never waits for one.
    pub auth: Arc<Semaphore>,
    pub passwords: Arc<PasswordPool>,
    /// Connections per client address and in all, for the limits the listener enforces.
    pub per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub total: std::sync::atomic::AtomicUsize,
}

/// A plain or TLS stream; STARTTLS turns the first into the second.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static PasswordHash {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    DUMMY.get_or_init(|| PasswordHash::create("pochta: no such user, no such password"))
}

async fn write_out(stream: &mut Stream, session: &mut Session) -> bool {
    let out = session.take_output();
    if out.is_empty() {
        return true;
    }
    stream.write_all(&out).await.is_ok() && stream.flush().await.is_ok()
}

/// Serves one accepted connection to its end.
pub(crate) async fn serve<S: Sink>(
    shared: Arc<Shared<S>>,
    tcp: TcpStream,
    peer: SocketAddr,
    role: Role,
    mut stop: watch::Receiver<bool>,
) {
    let limits = &shared.cfg.limits;
    let _ = tcp.set_nodelay(true);
    let mut stream = match (role, &shared.tls) {
        // RFC 8314 §3.3: implicit TLS from the first byte.
        (Role::Submissions, Some(acceptor)) => match timeout(limits.idle_timeout, acceptor.accept(tcp)).await
        {
            Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
            _ => return,
        },
        (Role::Submissions, None) => return,
        _ => Stream::Plain(tcp),
    };
    let tls_now = matches!(stream, Stream::Tls(_));
    let mut session = Session::new(
        shared.cfg.clone(),
        shared.view.clone(),
        shared.counters.clone(),
        role,
        peer.ip(),
        shared.tls.is_some(),
        tls_now,
    );
    let deadline = Instant::now() + limits.session_timeout;
    let mut buf = vec![0u8; 16 * 1024];
    if *stop.borrow() {
        session.shutting_down();
    }
    loop {
        match session.step() {
            Step::NeedInput => {
                if !write_out(&mut stream, &mut session).await {
                    break;
                }
                tokio::select! {
                    r = timeout(limits.idle_timeout, stream.read(&mut buf)) => match r {
                        Err(_) => session.timed_out(),
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(n)) => session.feed(&buf[..n]),
                    },
                    _ = sleep_until(deadline) => session.timed_out(),
                    _ = stop.changed() => session.shutting_down(),
                }
            }
            Step::Action(Action::StartTls) => {
                if !write_out(&mut stream, &mut session).await {
                    break;
                }
                let (Stream::Plain(tcp), Some(acceptor)) = (stream, &shared.tls) else { break };
                // Nothing read before the handshake survives it: the session dropped its
                // buffer when it answered 220, and we read nothing since.
                match timeout(limits.idle_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        stream = Stream::Tls(Box::new(tls));
                        session.tls_established();
                    }
                    _ => break,
                }
            }
            Step::Action(Action::Verify(v)) => {
                let Ok(permit) = shared.auth.clone().acquire_owned().await else { break };
                let user = v.user;
                let (hash, password) = (v.hash, v.password);
                let pool = shared.passwords.clone();
                let ok = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    // An app password costs a digest; only a miss pays for Argon2id.
                    if pochta_directory::app_password::any_matches(&v.apps, &password) {
                        return true;
                    }
                    match hash {
                        Some(h) => pool.verify(&h, &password),
                        None => {
                            let _ = pool.verify(dummy_hash(), &password);
                            false
                        }
                    }
                })
                .await
                .unwrap_or(false);
                session.verified(user, ok);
            }
            Step::Action(Action::Enqueue(mut msg)) => {
                if let Some(door) = shared.cfg.door.as_ref().filter(|d| d.scans())
                    && msg.origin == Origin::Outside
                {
                    let letter = door::Letter {
                        client_ip: msg.client_ip,
                        helo: session.helo(),
                        from: msg.reverse_path.as_ref(),
                        rcpts: &msg.recipients,
                        data: &msg.data,
                        spf: session.spf(),
                    };
                    let name = format!("{}-{}", peer, msg.data.len());
                    match door.scan(&letter, &name).await {
                        door::Decision::Refuse { reason, reply } => {
                            session.refused_at_door(reason, reply);
                            continue;
                        }
                        door::Decision::Accept { data, junk } => {
                            if junk {
                                tracing::info!(ip = %peer.ip(), "spam accepted for the Junk folder");
                            }
                            msg.data = data;
                        }
                    }
                }
                // Not cancelled by shutdown or a client hanging up: once started, the queue
                // finishes, and the answer reflects what it did.
                let r = shared.sink.enqueue(*msg).await;
                session.enqueued_counted(r, S::COUNTS_ACCEPTED);
            }
            Step::Action(Action::CheckSender(q)) => {
                let Some(door) = shared.cfg.door.as_ref() else { break };
                let check = door.check_sender(q.client_ip, &q.helo, q.from.as_ref()).await;
                session.sender_checked(check.spf, check.refuse);
            }
            Step::Close => {
                let _ = write_out(&mut stream, &mut session).await;
                let _ = stream.shutdown().await;
                break;
            }
        }
    }
}
