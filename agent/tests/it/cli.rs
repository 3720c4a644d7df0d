//! The replica survives restarts; the `resolve` and `status` commands read it while the agent
//! is stopped; the binary runs, stops on SIGTERM, and enrolls.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use pochta_agent::App;
use pochta_agent::config::Config;
use pochta_agent::enroll::EnrollmentCode;
use pochta_directory::{GroupKind, Level, Op, PostingPolicy};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_pochta-agent");

async fn cli(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--data").arg(data).args(args).output().await.expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn org(dep: &mut Deployment) {
    let mut blocked = user("blocked", "msk");
    blocked.enabled = false;
    dep.commit(vec![
        Op::PutSite(site("msk", Level::One)),
        Op::PutSite(site("spb", Level::Two)),
        Op::PutUser(user("ivanov", "msk")),
        Op::PutUser(user("petrov", "spb")),
        Op::PutUser(blocked),
    ]);
    dep.commit(vec![
        Op::PutGroup(group("boss", GroupKind::Alias, &["ivanov@example.org"], PostingPolicy::Anyone)),
        Op::PutGroup(group(
            "team",
            GroupKind::List,
            &["boss@example.org", "petrov@example.org", "friend@gmail.com"],
            PostingPolicy::Anyone,
        )),
    ]);
    dep.commit(vec![Op::PutGroup(group(
        "staff",
        GroupKind::List,
        &["petrov@example.org"],
        PostingPolicy::Internal,
    ))]);
}

#[tokio::test]
async fn restart_keeps_the_replica_and_the_cli_resolves_from_it_offline() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    org(&mut dep);
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let dir = write_config(root.path(), "agent", &cfg);
    let mut agent = TestAgent::start(&dir).await;
    let all: Vec<&[u8]> = dep.frames.iter().map(Vec::as_slice).collect();
    assert_eq!(agent.push(&all).await, (StatusCode::OK, json!({ "version": 3, "held": 0 })));
    let team = agent.resolve("team@example.org").await;
    assert_eq!(
        team,
        json!({ "local": { "msk": ["ivanov"], "spb": ["petrov"] }, "external": ["friend@gmail.com"] })
    );
    agent.stop().await;

    // Stopped: the CLI reads the replica file.
    let out = cli(&dir, &["resolve", "team@example.org"]).await;
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for line in [
        "250 team@example.org",
        "deliver here, site msk: ivanov",
        "relay to site spb: petrov",
        "external: friend@gmail.com",
    ] {
        assert!(text.contains(line), "{text:?} should contain {line:?}");
    }
    let out = cli(&dir, &["resolve", "--json", "TEAM@Example.ORG"]).await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), team);

    let out = cli(&dir, &["resolve", "nobody@example.org"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("550 5.1.1 nobody@example.org"), "{}", stdout(&out));
    let out = cli(&dir, &["resolve", "blocked@example.org", "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["status"], "5.2.1");
    let out = cli(&dir, &["resolve", "staff@example.org", "--from", "someone@gmail.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("550 5.7.1"), "{}", stdout(&out));
    let out =
        cli(&dir, &["resolve", "staff@example.org", "--from", "ivanov@example.org", "--internal"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("relay to site spb: petrov"));
    let out = cli(&dir, &["resolve", "someone@gmail.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("554 5.7.1"), "{}", stdout(&out));
    let out = cli(&dir, &["resolve", "not an address"]).await;
    assert_eq!(out.status.code(), Some(1));
    // What SMTP answers at RCPT for the same address (one policy decides both).
    assert!(stdout(&out).starts_with("553 5.1.3"), "{}", stdout(&out));

    let out = cli(&dir, &["status", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (s["version"].as_u64(), s["users"].as_u64(), s["groups"].as_u64(), s["sites"].as_u64()),
        (Some(3), Some(3), Some(3), Some(2))
    );
    assert_eq!(s["stale"], false, "the push was contact with the server: {s}");
    let out = cli(&dir, &["status"]).await;
    assert!(stdout(&out).contains("2 sites, 3 users, 3 aliases and lists"), "{}", stdout(&out));

    // Started again: same version, same directory, same answers.
    agent = TestAgent::start(&dir).await;
    assert_eq!(agent.version(), 3);
    assert_eq!(agent.directory(), dep.model);
    assert_eq!(agent.resolve("team@example.org").await, team);
    // And it goes on from there.
    let v4 = dep.commit(vec![Op::DeleteGroup { name: lp("staff") }]);
    assert_eq!(agent.push(&[&v4]).await, (StatusCode::OK, json!({ "version": 4, "held": 0 })));
    agent.stop().await;
}

#[tokio::test]
async fn cli_errors_are_clear() {
    let root = tempfile::tempdir().unwrap();
    let out = cli(&root.path().join("nothing"), &["status"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("enroll this agent first"), "{}", stderr(&out));
}

#[tokio::test]
async fn the_binary_runs_and_stops_on_sigterm() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    org(&mut dep);
    let port = free_port();
    let cfg = config(&dep, "a1", "msk", dead_server(), format!("127.0.0.1:{port}").parse().unwrap());
    let dir = write_config(root.path(), "agent", &cfg);
    let mut child = Command::new(BIN)
        .args(["run", "--data"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The identity is made at the first start; wait for it, then pin it.
    let deadline = Instant::now() + Duration::from_secs(20);
    let client = loop {
        if let Ok(pem) = std::fs::read_to_string(dir.join("tls.crt")) {
            let client =
                pochta_transport::pinned_client(&pochta_transport::fingerprint_of_pem(&pem).unwrap())
                    .unwrap();
            if client.get(format!("https://127.0.0.1:{port}/status")).send().await.is_ok() {
                break client;
            }
        }
        assert!(Instant::now() < deadline, "the agent did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let body = pochta_directory::wire::pack(dep.frames.iter().map(Vec::as_slice));
    let resp = client
        .post(format!("https://127.0.0.1:{port}/sync/push"))
        .bearer_auth(PEER_SECRET)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(killed.success());
    let status =
        tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("it stops").unwrap();
    assert!(status.success(), "graceful stop: {status:?}");

    let out = cli(&dir, &["status", "--json"]).await;
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap()["version"], 3);
}

#[tokio::test]
async fn enroll_writes_a_working_configuration() {
    let root = tempfile::tempdir().unwrap();
    let dep = Deployment::new();
    let server = StandIn::start(root.path()).await;
    {
        let mut s = server.state.lock().unwrap();
        s.enroll_token = Some("one-time-token".into());
        s.enroll_answer = Some(json!({
            "agent_id": "7", "secret": SERVER_SECRET, "site": "msk", "level": 1,
            "deployment": dep.id.to_hex(), "domain": "example.org", "verify_key": dep.verify_hex(),
            "peer_secret": PEER_SECRET,
        }));
    }
    let code = |server: &str, token: &str, pin: &str| {
        EnrollmentCode { server: server.into(), tls_sha256: pin.into(), token: token.into() }.encode()
    };
    let good = code(&server.url(), "one-time-token", &server.fingerprint);
    let data = root.path().join("agent");
    let out = cli(&data, &["enroll", "--code", &good, "--listen", "127.0.0.1:7443"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("enrolled agent 7 for site msk"), "{}", stdout(&out));

    let cfg = Config::load(&data).unwrap();
    assert_eq!((cfg.agent_id.as_str(), cfg.site.as_str(), cfg.pull), ("7", "msk", false));
    assert_eq!(cfg.advertise_url, "https://127.0.0.1:7443");
    assert_eq!((cfg.server.url.as_str(), cfg.server.secret.as_str()), (server.url().as_str(), SERVER_SECRET));
    assert_eq!((cfg.heartbeat_secs, cfg.poll_wait_secs, cfg.stale_after_secs), (3600, 1800, 7200));
    assert!(data.join("replica.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("agent.toml")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the configuration holds secrets");
    }
    let pin = pochta_transport::fingerprint_of_pem(&std::fs::read_to_string(data.join("tls.crt")).unwrap())
        .unwrap();
    let sent = server.state.lock().unwrap().enroll_requests[0].clone();
    assert_eq!(
        sent,
        json!({ "token": "one-time-token", "url": "https://127.0.0.1:7443", "tls_sha256": pin, "format": 1 })
    );

    // The result starts (on another port: 7443 may be taken on the test machine).
    let mut cfg = cfg;
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.save(&data).unwrap();
    let app = App::build(&data).await.unwrap();
    assert_eq!(app.fingerprint(), pin);
    drop(app);

    // Used token, enrolled directory, bad code, no server: each a clear message, exit 2.
    let pulling = root.path().join("pulling");
    let out = cli(&pulling, &["enroll", "--code", &good, "--pull"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("refused the enrollment (403): this enrollment token is unknown or was already used"),
        "{}",
        stderr(&out)
    );
    assert_eq!(server.state.lock().unwrap().enroll_requests[1]["url"], "", "pull-only agents send no URL");
    let out = cli(&data, &["enroll", "--code", &good, "--pull"]).await;
    assert!(stderr(&out).contains("already enrolled"), "{}", stderr(&out));
    let out = cli(&pulling, &["enroll", "--code", "bm90IGEgY29kZQ", "--pull"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("enrollment code is not valid"), "{}", stderr(&out));
    let dead = code(&format!("https://127.0.0.1:{}", free_port()), "t", &server.fingerprint);
    let out = cli(&pulling, &["enroll", "--code", &dead, "--pull"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot reach the server"), "{}", stderr(&out));
    let out =
        cli(&pulling, &["enroll", "--code", &code(&server.url(), "t", &"ab".repeat(32)), "--pull"]).await;
    assert!(
        stderr(&out).contains("cannot reach the server"),
        "a wrong pin fails the TLS handshake: {}",
        stderr(&out)
    );
}
