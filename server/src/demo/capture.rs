//! The demo's stand-in for the rest of the Internet: a capture MX on loopback that the level 0
//! and 1 agents use as their smarthost, and that files every letter it is given, byte for byte,
//! in `<demo>/outside/`, so a newcomer can see what left the deployment (DKIM-signed).
//!
//! Hand-written (about 60 lines) because it is a test fixture, not a mail server: it takes every
//! transaction, speaks only what our delivery client sends, and never relays.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Listens on `127.0.0.1:<free port>`; returns the address and the task.
pub async fn start(dir: PathBuf) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    std::fs::create_dir_all(&dir)?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let seq = Arc::new(AtomicU64::new(0));
    let task = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (dir, seq) = (dir.clone(), seq.clone());
            tokio::spawn(async move {
                if let Err(e) = session(sock, &dir, &seq).await {
                    tracing::debug!(error = %e, "capture session ended");
                }
            });
        }
    });
    Ok((addr, task))
}

async fn session(sock: tokio::net::TcpStream, dir: &std::path::Path, seq: &AtomicU64) -> std::io::Result<()> {
    let mut io = BufReader::new(sock);
    io.get_mut().write_all(b"220 outside.test capture ESMTP\r\n").await?;
    let mut rcpts: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-outside.test\r\n250-8BITMIME\r\n250-PIPELINING\r\n250 SIZE 52428800\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let path = line.trim_end()[8..].trim().trim_start_matches('<');
            rcpts.push(path.split('>').next().unwrap_or("").to_owned());
            b"250 2.1.5 ok\r\n"
        } else if upper == "DATA" {
            io.get_mut().write_all(b"354 go ahead\r\n").await?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if io.read_until(b'\n', &mut l).await? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                // RFC 5321 §4.5.2: a leading dot was doubled by the sender.
                data.extend_from_slice(if l.starts_with(b"..") { &l[1..] } else { &l });
            }
            let n = seq.fetch_add(1, Ordering::Relaxed) + 1;
            let to = rcpts.first().map(|r| r.replace(['/', '\\'], "_")).unwrap_or_default();
            std::fs::write(dir.join(format!("{n:04}-{to}.eml")), &data)?;
            rcpts.clear();
            b"250 2.0.0 captured\r\n"
        } else if upper == "QUIT" {
            io.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(());
        } else if upper.starts_with("MAIL FROM:")
            || upper == "RSET"
            || upper == "NOOP"
            || upper.starts_with("HELO")
        {
            if upper == "RSET" {
                rcpts.clear();
            }
            b"250 2.0.0 ok\r\n"
        } else {
            b"502 5.5.1 not here\r\n"
        };
        io.get_mut().write_all(reply).await?;
    }
}
