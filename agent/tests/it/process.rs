//! The agent as its real binary, for tests of what only a whole process shows: signals,
//! `kill -9`, the wall clock under it, its RSS.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::helpers::{Deployment, PEER_SECRET};

pub const BIN: &str = env!("CARGO_BIN_EXE_pochta-agent");

pub struct BinAgent {
    pub child: Child,
    client: reqwest::Client,
    https: u16,
}

impl BinAgent {
    /// Starts `pochta-agent run` on the data directory `dir` (whose `agent.toml` listens on
    /// `https`) with extra environment variables, and waits until it answers `/status`.
    pub async fn start(dir: &Path, https: u16, env: &[(&str, &std::ffi::OsStr)]) -> BinAgent {
        BinAgent::start_under(&[], dir, https, env).await
    }

    /// [`BinAgent::start`], run by `wrapper` (e.g. `fiu-run -x`), which must exec the agent.
    pub async fn start_under(
        wrapper: &[&str],
        dir: &Path,
        https: u16,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> BinAgent {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.args(["run", "--data"]).arg(dir).env("RUST_LOG", "warn").kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(pem) = std::fs::read_to_string(dir.join("tls.crt"))
                && let Ok(pin) = pochta_transport::fingerprint_of_pem(&pem)
            {
                let client = pochta_transport::pinned_client(&pin).unwrap();
                if client.get(format!("https://127.0.0.1:{https}/status")).send().await.is_ok() {
                    return BinAgent { child, client, https };
                }
            }
            assert!(Instant::now() < deadline, "the agent did not come up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("https://127.0.0.1:{}{path}", self.https)).send().await.unwrap()
    }

    pub async fn status(&self) -> Value {
        serde_json::from_slice(&self.get("/status").await.bytes().await.unwrap()).unwrap()
    }

    /// Messages in the queue (the `/metrics` gauge).
    pub async fn queued(&self) -> u64 {
        let metrics = self.get("/metrics").await.text().await.unwrap();
        let line = metrics.lines().find(|l| l.starts_with("pochta_queue_messages")).expect("queue gauge");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// Pushes the deployment's whole history.
    pub async fn push(&self, dep: &Deployment) {
        let body = pochta_directory::wire::pack(dep.frames.iter().map(Vec::as_slice));
        let resp = self
            .client
            .post(format!("https://127.0.0.1:{}/sync/push", self.https))
            .bearer_auth(PEER_SECRET)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }

    /// SIGTERM, and waits for the graceful stop.
    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("it stops").unwrap();
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// Reads one SMTP reply (all its lines).
async fn reply<R: tokio::io::AsyncRead + Unpin>(r: &mut BufReader<R>) -> std::io::Result<String> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        all.push_str(&line);
        if line.len() < 4 || line.as_bytes()[3] == b' ' {
            return Ok(all);
        }
    }
}

/// One SMTP transaction from a stranger on `port`; the reply to the end of DATA, or the I/O
/// error that cut it short.
pub async fn send(port: u16, from: &str, to: &[&str], message: &str) -> std::io::Result<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).await?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    reply(&mut r).await?;
    let mut last = String::new();
    let mut cmds = vec!["EHLO outside.test\r\n".to_owned(), format!("MAIL FROM:<{from}>\r\n")];
    cmds.extend(to.iter().map(|t| format!("RCPT TO:<{t}>\r\n")));
    cmds.push("DATA\r\n".to_owned());
    cmds.push(format!("{message}\r\n.\r\n"));
    for cmd in cmds {
        w.write_all(cmd.as_bytes()).await?;
        last = reply(&mut r).await?;
    }
    let _ = w.write_all(b"QUIT\r\n").await;
    Ok(last)
}
