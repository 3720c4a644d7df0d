//! Sending letters from inside a namespace: this test binary re-run there (`role_smtp`) with a
//! job file, speaking plain SMTP with pipelining off, recording when each letter's data ended.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Letter {
    pub id: String,
    pub server: String,
    pub from: String,
    pub to: Vec<String>,
    pub size: usize,
    /// Seconds after the start of the batch.
    pub at: f64,
    /// The body, instead of filler text up to `size` (GTUBE, an EICAR attachment, ...).
    #[serde(default)]
    pub body: Option<String>,
    /// Header lines to add (a MIME content type for `body`).
    #[serde(default)]
    pub headers: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Sent {
    pub id: String,
    /// Per-recipient reply codes.
    pub rcpt: Vec<u16>,
    /// Reply to the end of data (0: not sent).
    pub data: u16,
    /// Unix time (s) when the final dot was written.
    pub t_dot: f64,
    pub error: Option<String>,
}

/// Sends `letters` from namespace `ns`, `parallel` at a time; blocks until all are done.
pub(crate) fn send_from(ns: &str, dir: &Path, letters: &[Letter], parallel: usize) -> Vec<Sent> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let jobs = dir.join(format!("jobs-{n}.json"));
    let out = dir.join(format!("sent-{n}.json"));
    std::fs::write(&jobs, serde_json::to_vec(letters).unwrap()).unwrap();
    let res = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(std::env::current_exe().unwrap())
        .args(["role_smtp", "--exact", "--ignored", "--nocapture", "--test-threads", "1"])
        .env("TB_ROLE", "smtp")
        .env("TB_JOBS", &jobs)
        .env("TB_OUT", &out)
        .env("TB_PARALLEL", parallel.to_string())
        .output()
        .unwrap();
    assert!(res.status.success(), "smtp client in {ns}: {}", String::from_utf8_lossy(&res.stderr));
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// The client role: runs inside the namespace.
pub(crate) fn role_main(jobs: &Path, out: &Path, parallel: usize) {
    let letters: Vec<Letter> = serde_json::from_slice(&std::fs::read(jobs).unwrap()).unwrap();
    let start = Instant::now();
    let queue = std::sync::Mutex::new(letters.into_iter().collect::<std::collections::VecDeque<_>>());
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel.max(1) {
            s.spawn(|| {
                loop {
                    let Some(l) = queue.lock().unwrap().pop_front() else { break };
                    let wait = Duration::from_secs_f64(l.at).saturating_sub(start.elapsed());
                    std::thread::sleep(wait);
                    let r = send(&l);
                    results.lock().unwrap().push(r);
                }
            });
        }
    });
    std::fs::write(out, serde_json::to_vec(&results.into_inner().unwrap()).unwrap()).unwrap();
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

fn send(l: &Letter) -> Sent {
    let mut sent = Sent { id: l.id.clone(), rcpt: vec![], data: 0, t_dot: 0.0, error: None };
    if let Err(e) = try_send(l, &mut sent) {
        sent.error = Some(e.to_string());
    }
    sent
}

fn try_send(l: &Letter, sent: &mut Sent) -> std::io::Result<()> {
    let stream = TcpStream::connect_timeout(&l.server.parse().unwrap(), Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut w = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    let reply = |r: &mut BufReader<TcpStream>| -> std::io::Result<u16> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("connection closed"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0));
            }
        }
    };
    reply(&mut r)?;
    w.write_all(b"EHLO client.testbed\r\n")?;
    reply(&mut r)?;
    w.write_all(format!("MAIL FROM:<{}>\r\n", l.from).as_bytes())?;
    let code = reply(&mut r)?;
    if code != 250 {
        sent.rcpt = vec![code; l.to.len()];
        return Ok(());
    }
    for to in &l.to {
        w.write_all(format!("RCPT TO:<{to}>\r\n").as_bytes())?;
        sent.rcpt.push(reply(&mut r)?);
    }
    if sent.rcpt.iter().any(|c| *c == 250 || *c == 251) {
        w.write_all(b"DATA\r\n")?;
        if reply(&mut r)? == 354 {
            let mut msg = format!(
                "From: <{}>\r\nTo: <{}>\r\nSubject: tb-{}\r\nMessage-ID: <tb-{}@client.testbed>\r\n{}\r\n",
                l.from,
                l.to.join(">, <"),
                l.id,
                l.id,
                l.headers
            );
            match &l.body {
                Some(b) => msg.push_str(b),
                None => {
                    while msg.len() < l.size {
                        msg.push_str(
                            "The quick brown fox jumps over the lazy dog, letter body of the test bed.\r\n",
                        );
                    }
                }
            }
            w.write_all(msg.as_bytes())?;
            sent.t_dot = now();
            w.write_all(b".\r\n")?;
            sent.data = reply(&mut r)?;
        }
    }
    w.write_all(b"QUIT\r\n")?;
    let _ = reply(&mut r);
    Ok(())
}
