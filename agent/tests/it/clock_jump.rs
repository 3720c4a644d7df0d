//! The wall clock jumps under a running agent (and while it is down): queued letters keep
//! their lifetime, nobody gets a DSN for a letter that was queued for a minute, and `/status`
//! says what happened. The agent runs as its real binary under Debian's `faketime`, reading
//! its offset from a file the test rewrites (the monotonic clock is left alone, as a real
//! `date -s` leaves it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pochta_agent::config::Config;
use pochta_directory::{Level, Op};

use crate::helpers::{Deployment, config, dead_server, free_port, user, write_config};
use crate::process::{BinAgent, send};
use crate::queue_rig::{mailbox, site_at};

/// libfaketime's preload library (Debian's `faketime` package).
fn libfaketime() -> PathBuf {
    let found = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists());
    found.expect("libfaketime is missing: install Debian's `faketime` package (scripts/test does)")
}

/// Starts the binary with the wall clock at the offset in `offset_file`.
async fn start(dir: &Path, offset_file: &Path, https: u16) -> BinAgent {
    let lib = libfaketime();
    BinAgent::start(
        dir,
        https,
        &[
            ("LD_PRELOAD", lib.as_os_str()),
            ("FAKETIME_TIMESTAMP_FILE", offset_file.as_os_str()),
            ("FAKETIME_NO_CACHE", "1".as_ref()),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1".as_ref()),
        ],
    )
    .await
}

#[tokio::test]
async fn a_wall_clock_jump_neither_expires_nor_postpones_queued_letters() {
    let root = tempfile::tempdir().unwrap();
    let offset = root.path().join("faketime");
    std::fs::write(&offset, "+0d\n").unwrap();
    // Petrov's site has an agent nobody can reach: his letter waits in this agent's queue.
    let dead_peer = format!("127.0.0.1:{}", free_port());
    let mut dep = Deployment::new();
    dep.commit(vec![
        Op::PutSite(site_at("msk", Level::One, None)),
        Op::PutSite(site_at("spb", Level::One, Some((&dead_peer, &"ab".repeat(32))))),
        Op::PutUser(user("ivanov", "msk")),
        Op::PutUser(user("petrov", "spb")),
    ]);
    let https = free_port();
    let smtp = free_port();
    let mut cfg: Config =
        config(&dep, "a1", "msk", dead_server(), format!("127.0.0.1:{https}").parse().unwrap());
    cfg.smtp.listen = Some(format!("127.0.0.1:{smtp}").parse().unwrap());
    cfg.delivery.retry_initial_secs = 0.5;
    cfg.delivery.retry_max_secs = 1.0;
    // Two days: a year's jump is far past it, a day of counted downtime is not.
    cfg.delivery.lifetime_secs = 2.0 * 86400.0;
    let dir = write_config(root.path(), "agent", &cfg);
    cfg.delivery.maildir_root = dir.join("mail");
    cfg.save(&dir).unwrap();

    let agent = start(&dir, &offset, https).await;
    agent.push(&dep).await;
    let message = "Subject: across a clock jump\r\n\r\nHello.";
    let reply = send(smtp, "ivanov@example.org", &["petrov@example.org"], message).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(agent.queued().await, 1);
    assert_eq!(agent.status().await["clock"]["jumps"], 0);

    // A year forward under the running agent.
    std::fs::write(&offset, "+365d\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let s = agent.status().await;
        if s["clock"]["jumps"] == 1 {
            break s;
        }
        assert!(Instant::now() < deadline, "the jump was not noticed: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let by = status["clock"]["last_jump"]["by_secs"].as_i64().unwrap();
    assert!((by - 365 * 86400).abs() < 120, "{status}");
    // Several retries later the letter is still waiting, and Ivanov has no DSN.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(agent.queued().await, 1, "the letter is still queued");
    assert!(mailbox(&dir.join("mail"), "ivanov").is_empty(), "no DSN for a letter queued for seconds");

    // Down, and back "a year and a half later" by the wall clock: the downtime counts for at
    // most a day, so the letter still has a day of its two.
    agent.stop().await;
    std::fs::write(&offset, "+900d\n").unwrap();
    let agent = start(&dir, &offset, https).await;
    let status = agent.status().await;
    assert_eq!(status["clock"]["jumps"], 1, "the jump while down is noticed at the start: {status}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(agent.queued().await, 1, "the letter is still queued after the restart");
    assert!(mailbox(&dir.join("mail"), "ivanov").is_empty(), "no DSN after the restart either");
    agent.stop().await;
}
