//! Replication edges: a signed set far beyond the replica brings a snapshot instead of being
//! held, and a push over the size cap is refused from its `Content-Length` before the body is
//! read, or cut off at the cap when it comes chunked.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use pochta_agent::http::MAX_PUSH_BODY;
use pochta_directory::{Level, Op};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test]
async fn a_set_beyond_the_snapshot_horizon_is_not_held_and_brings_a_snapshot() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutUser(user("ivanov", "msk"))]);
    let server = StandIn::start(root.path()).await;
    server.publish(&dep.frames[0]);
    let cfg = config(&dep, "a1", "msk", server.link(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    agent.wait_version(1, 10).await;

    // The deployment moves on by more than the horizon while the agent hears nothing; the
    // server has pruned the frames in between and serves a snapshot.
    let horizon = pochta_agent::replica::SNAPSHOT_HORIZON as usize;
    for i in 0..horizon + 10 {
        dep.commit(vec![Op::PutUser(user(&format!("u{i}"), "msk"))]);
    }
    {
        let mut s = server.state.lock().unwrap();
        s.frames = dep.frames.clone();
        s.snapshot = Some(dep.snapshot());
        s.gone_before = dep.version().0;
    }
    let far = dep.commit(vec![Op::PutUser(user("latest", "msk"))]);
    server.publish(&far);
    let requests_before = server.state.lock().unwrap().snapshot_requests;

    let (status, body) = agent.push(&[&far]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("snapshot"), "{body}");
    assert_eq!(agent.status().await["held"], 0, "nothing is held for a gap that wide");
    // The agent fetched the snapshot and then the one set after it.
    agent.wait_version(dep.version().0, 20).await;
    assert_eq!(agent.directory(), dep.model);
    assert_eq!(server.state.lock().unwrap().snapshot_requests, requests_before + 1);
    // A set just inside the horizon is still held until its gap is filled (as before).
    let mut near = dep.fork_at(dep.version().0 as usize);
    let skipped = near.commit(vec![Op::PutUser(user("gap", "msk"))]);
    let next = near.commit(vec![Op::PutUser(user("after-gap", "msk"))]);
    assert_eq!(
        agent.push(&[&next]).await,
        (StatusCode::OK, serde_json::json!({ "version": dep.version().0, "held": 1 }))
    );
    assert_eq!(agent.push(&[&skipped]).await.1["held"], 0);
}

/// A TLS connection to the agent's HTTPS port, pinned.
async fn connect(agent: &TestAgent) -> tokio_rustls::client::TlsStream<TcpStream> {
    let pem = std::fs::read_to_string(agent.dir.join("tls.crt")).unwrap();
    let pin = pochta_transport::fingerprint_of_pem(&pem).unwrap();
    let cfg = pochta_transport::client_config(Some(&pin)).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", agent.port)).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap().to_owned();
    tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap()
}

/// Reads until the status line of the answer has arrived (or the connection ends).
async fn status_line(tls: &mut tokio_rustls::client::TlsStream<TcpStream>) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match tls.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).lines().next().unwrap_or_default().to_owned()
}

fn push_head(extra: &str) -> String {
    format!(
        "POST /sync/push HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {PEER_SECRET}\r\n\
         Content-Type: application/octet-stream\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn a_push_over_the_cap_is_refused_by_its_length_before_its_body() {
    let root = tempfile::tempdir().unwrap();
    let dep = Deployment::new();
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    let mut tls = connect(&agent).await;
    // Headers only: the body never comes. An agent that waited for it would never answer.
    let head = push_head(&format!("Content-Length: {}\r\n", MAX_PUSH_BODY + 1));
    tls.write_all(head.as_bytes()).await.unwrap();
    let line = tokio::time::timeout(Duration::from_secs(30), status_line(&mut tls)).await.expect("an answer");
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    assert_eq!(agent.version(), 0);
}

#[tokio::test]
async fn a_chunked_push_is_cut_off_at_the_cap() {
    let root = tempfile::tempdir().unwrap();
    let dep = Deployment::new();
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    let tls = connect(&agent).await;
    let (mut rd, mut wr) = tokio::io::split(tls);
    wr.write_all(push_head("Transfer-Encoding: chunked\r\n").as_bytes()).await.unwrap();
    // An endless body, 64 KiB a chunk, until the agent answers or stops reading.
    let writer = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 << 10];
        let mut sent = 0usize;
        loop {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if wr.write_all(&framed).await.is_err() || sent > 8 * MAX_PUSH_BODY {
                return sent;
            }
            sent += chunk.len();
        }
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while !got.windows(2).any(|w| w == b"\r\n") {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.expect("an answer");
    let line = String::from_utf8_lossy(&got).lines().next().unwrap_or_default().to_owned();
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    drop(rd);
    let sent =
        tokio::time::timeout(Duration::from_secs(60), writer).await.expect("the writer stops").unwrap();
    // The agent stopped reading near the cap: not the eight caps the writer was ready to send.
    assert!(sent < 3 * MAX_PUSH_BODY, "{sent} bytes were taken");
    assert_eq!(agent.version(), 0);
}
