//! A loopback TCP relay that counts the bytes crossing it and can be cut: a stand-in for an
//! inter-site link in benchmarks and tests. It counts what really goes over the wire: TLS
//! records, HTTP framing and all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Counters {
    /// Bytes from the connecting side to the target.
    pub up: AtomicU64,
    /// Bytes from the target back.
    pub down: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    cut: AtomicBool,
}

impl Counters {
    pub fn total(&self) -> u64 {
        self.up.load(Ordering::Relaxed) + self.down.load(Ordering::Relaxed)
    }
    pub fn reset(&self) {
        self.up.store(0, Ordering::Relaxed);
        self.down.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
    }
}

pub struct Proxy {
    pub port: u16,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Relays 127.0.0.1:<new port> to `target`.
    pub async fn start(target: std::net::SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if c.cut.load(Ordering::Relaxed) {
                    continue; // dropped: the link is down
                }
                c.connections.fetch_add(1, Ordering::Relaxed);
                let c = c.clone();
                tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        relay(inbound, outbound, c).await;
                    }
                });
            }
        });
        Ok(Proxy { port, counters, task })
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Cuts the link: new connections are dropped and open ones close at their next byte.
    pub fn cut(&self, down: bool) {
        self.counters.cut.store(down, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(a: TcpStream, b: TcpStream, c: Arc<Counters>) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (ar, aw) = a.into_split();
    let (br, bw) = b.into_split();
    let up = pump(ar, bw, c.clone(), true);
    let down = pump(br, aw, c, false);
    tokio::select! { _ = up => {}, _ = down => {} }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    c: Arc<Counters>,
    up: bool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if c.cut.load(Ordering::Relaxed) || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        let counter = if up { &c.up } else { &c.down };
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
