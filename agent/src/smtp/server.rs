//! The SMTP listeners: the port-25 role (inbound MX and peer agents), submission (587) and
//! implicit-TLS submission (465). Connection limits per client address and overall are
//! enforced at accept; each connection then runs in its own task ([`super::conn`]).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::conn::Shared;
use super::session::{DirectoryView, Role, SessionConfig};
use crate::metrics::Counters;
use crate::queue::Sink;
use crate::reply::Reply;

/// Where the SMTP listeners are bound (port 0 in the configuration picks a free port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmtpAddrs {
    pub mx: Option<SocketAddr>,
    pub submission: Option<SocketAddr>,
    pub submissions: Option<SocketAddr>,
}

/// Bound, not yet serving, listeners.
pub struct Bound {
    listeners: Vec<(Role, std::net::TcpListener)>,
    addrs: SmtpAddrs,
}

impl Bound {
    pub fn bind(
        mx: Option<SocketAddr>,
        submission: Option<SocketAddr>,
        submissions: Option<SocketAddr>,
    ) -> Result<Bound, (SocketAddr, std::io::Error)> {
        let mut listeners = Vec::new();
        let mut addrs = SmtpAddrs::default();
        for (role, want, slot) in [
            (Role::Mx, mx, &mut addrs.mx),
            (Role::Submission, submission, &mut addrs.submission),
            (Role::Submissions, submissions, &mut addrs.submissions),
        ] {
            let Some(want) = want else { continue };
            let l = std::net::TcpListener::bind(want).map_err(|e| (want, e))?;
            l.set_nonblocking(true).map_err(|e| (want, e))?;
            *slot = Some(l.local_addr().map_err(|e| (want, e))?);
            listeners.push((role, l));
        }
        Ok(Bound { listeners, addrs })
    }

    pub fn addrs(&self) -> SmtpAddrs {
        self.addrs
    }

    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }
}

/// Holds one connection's place in the limits; gives it back when dropped.
struct Slot<S> {
    shared: Arc<Shared<S>>,
    ip: IpAddr,
}

impl<S> Drop for Slot<S> {
    fn drop(&mut self) {
        self.shared.total.fetch_sub(1, Ordering::Relaxed);
        let mut m = self.shared.per_ip.lock().expect("not poisoned");
        if let Some(n) = m.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

impl<S: Sink> Shared<S> {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot<S>> {
        let limits = &self.cfg.limits;
        let mut m = self.per_ip.lock().expect("not poisoned");
        let n = m.entry(ip).or_default();
        if *n >= limits.max_connections_per_ip || self.total.load(Ordering::Relaxed) >= limits.max_connections
        {
            if *n == 0 {
                m.remove(&ip);
            }
            return None;
        }
        *n += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        Some(Slot { shared: self.clone(), ip })
    }
}

/// The SMTP service, generic over where accepted mail goes.
pub struct SmtpServer<S: Sink> {
    shared: Arc<Shared<S>>,
}

impl<S: Sink> SmtpServer<S> {
    /// `tls` is the agent's own identity (the one peers pin); `None` serves without TLS (no
    /// STARTTLS, no AUTH, no port 465).
    pub fn new(
        cfg: SessionConfig,
        view: Arc<dyn DirectoryView>,
        counters: Arc<Counters>,
        sink: Arc<S>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let tls = tls.map(|c| {
            // The HTTPS identity offers ALPN h2/http1.1; SMTP negotiates none.
            let mut c = (*c).clone();
            c.alpn_protocols.clear();
            TlsAcceptor::from(Arc::new(c))
        });
        let areas = cfg.limits.max_concurrent_auth.max(1);
        let auth = Arc::new(Semaphore::new(areas));
        let passwords = Arc::new(pochta_directory::PasswordPool::new(areas));
        let shared = Arc::new(Shared {
            cfg: Arc::new(cfg),
            view,
            counters,
            sink,
            tls,
            auth,
            passwords,
            per_ip: Mutex::new(HashMap::new()),
            total: Default::default(),
        });
        Self { shared }
    }

    /// Serves until `stop` turns true, then tells open sessions 421, lets a message being
    /// queued finish, and returns once every connection closed (or after `grace`).
    pub async fn serve(self, bound: Bound, stop: watch::Receiver<bool>, grace: Duration) {
        let mut tasks = JoinSet::new();
        for (role, l) in bound.listeners {
            let listener = match TcpListener::from_std(l) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(error = %e, "cannot use an SMTP listener");
                    continue;
                }
            };
            if role == Role::Submissions && self.shared.tls.is_none() {
                tracing::warn!("port 465 needs TLS; not serving it");
                continue;
            }
            if let Ok(a) = listener.local_addr() {
                tracing::info!(addr = %a, ?role, "SMTP listening");
            }
            tasks.spawn(accept_loop(self.shared.clone(), listener, role, stop.clone(), grace));
        }
        while tasks.join_next().await.is_some() {}
    }
}

async fn accept_loop<S: Sink>(
    shared: Arc<Shared<S>>,
    listener: TcpListener,
    role: Role,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = stop.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "SMTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                shared.counters.received.fetch_add(1, Ordering::Relaxed);
                match shared.admit(peer.ip()) {
                    Some(slot) => {
                        let stop = stop.clone();
                        let shared = shared.clone();
                        conns.spawn(async move {
                            let _slot = slot;
                            super::conn::serve(shared, tcp, peer, role, stop).await;
                        });
                    }
                    None => {
                        shared.counters.reject("too_many_connections");
                        let bye = Reply::busy(&shared.cfg.hostname).to_bytes();
                        conns.spawn(async move {
                            let mut tcp = tcp;
                            let _ = tcp.write_all(&bye).await;
                            let _ = tcp.shutdown().await;
                        });
                    }
                }
            }
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        conns.abort_all();
    }
}
