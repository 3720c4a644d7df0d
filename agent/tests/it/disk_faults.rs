//! The disk failing under the real agent binary: a letter refused with 4xx is never delivered
//! later, a failed fsync is not retried into a false success, and a full queue file system
//! answers `452 4.3.1`, keeps no partial file and accepts again once space is freed.
//!
//! Before: letters refused with 451 after an fsync error were delivered at the next start
//! (the spool file stayed, with a valid checksum), and a 1 MiB partial file stayed on a full
//! disk, so every later letter got 451 until a restart.

use std::path::Path;
use std::time::Duration;

use pochta_directory::{Level, Op};

use crate::helpers::{Deployment, config, dead_server, free_port, user, write_config};
use crate::process::{BinAgent, send};
use crate::queue_rig::{mailbox, site_at};

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(files(&p)) } else { out.push(p) }
    }
    out
}

fn letter(subject: &str, bytes: usize) -> String {
    let line = "x".repeat(76);
    let body: Vec<&str> = std::iter::repeat_n(line.as_str(), bytes / 78 + 1).collect();
    format!("From: someone@example.net\r\nSubject: {subject}\r\n\r\n{}", body.join("\r\n"))
}

struct Rig {
    _root: tempfile::TempDir,
    dir: std::path::PathBuf,
    dep: Deployment,
    https: u16,
    smtp: u16,
}

/// msk with alice (here) and carol at spb, whose agent never answers: carol's letters wait in
/// the spool.
fn rig() -> Rig {
    let root = tempfile::tempdir().unwrap();
    let dead_peer = format!("127.0.0.1:{}", free_port());
    let mut dep = Deployment::new();
    dep.commit(vec![
        Op::PutSite(site_at("msk", Level::One, None)),
        Op::PutSite(site_at("spb", Level::One, Some((&dead_peer, &"cd".repeat(32))))),
        Op::PutUser(user("alice", "msk")),
        Op::PutUser(user("carol", "spb")),
    ]);
    let (https, smtp) = (free_port(), free_port());
    let mut cfg = config(&dep, "a1", "msk", dead_server(), format!("127.0.0.1:{https}").parse().unwrap());
    cfg.smtp.listen = Some(format!("127.0.0.1:{smtp}").parse().unwrap());
    cfg.smtp.max_message_bytes = 8 << 20;
    let dir = write_config(root.path(), "agent", &cfg);
    Rig { _root: root, dir, dep, https, smtp }
}

fn tool(name: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn a_letter_refused_after_a_failed_fsync_is_never_delivered() {
    assert!(tool("fiu-run"), "fiu-run is needed: apt-get install fiu-utils (scripts/test does)");
    let r = rig();
    let agent = BinAgent::start_under(&["fiu-run", "-x"], &r.dir, r.https, &[]).await;
    agent.push(&r.dep).await;
    let pid = agent.child.id().unwrap().to_string();
    let fiu = |cmd: &str| {
        let ok = std::process::Command::new("fiu-ctrl").args(["-c", cmd, &pid]).status().unwrap();
        assert!(ok.success(), "fiu-ctrl {cmd}");
    };
    // Every fsync fails with EIO (5): the Maildir copy and then the spool file.
    fiu("enable name=posix/io/sync/fsync,failinfo=5");
    let reply =
        send(r.smtp, "someone@example.net", &["alice@example.org"], &letter("refused", 2000)).await.unwrap();
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
    let reply =
        send(r.smtp, "someone@example.net", &["carol@example.org"], &letter("refused", 2000)).await.unwrap();
    assert!(reply.starts_with("451 4.3.0"), "{reply}");
    fiu("disable name=posix/io/sync/fsync");
    // Nothing of either letter is left, in the spool or in a mailbox's tmp/ or new/.
    let mail = r.dir.join("mail");
    let left: Vec<_> = files(&r.dir.join("queue")).into_iter().chain(files(&mail)).collect();
    assert!(
        left.iter().all(|p| !std::fs::read(p).unwrap_or_default().windows(7).any(|w| w == b"refused")),
        "{left:?}"
    );
    agent.stop().await;

    // After a restart nothing surfaces; the client's retry is delivered, once.
    let agent = BinAgent::start(&r.dir, r.https, &[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(mailbox(&mail, "alice").is_empty(), "a refused letter was delivered");
    assert_eq!(agent.queued().await, 0, "a refused letter is queued");
    let reply =
        send(r.smtp, "someone@example.net", &["alice@example.org"], &letter("again", 2000)).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(mailbox(&mail, "alice").len(), 1);
    agent.kill().await;
}

#[tokio::test]
async fn a_full_queue_disk_answers_452_keeps_no_partial_file_and_recovers_without_a_restart() {
    let r = rig();
    let queue = r.dir.join("queue");
    std::fs::create_dir_all(&queue).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=6m", "pochta-test-queue"])
        .arg(&queue)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "mounting a small tmpfs needs root (CI runs as root)");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(queue.clone());
    let agent = BinAgent::start(&r.dir, r.https, &[]).await;
    agent.push(&r.dep).await;
    // Leave about 2.5 MiB free: one 1 MiB letter for carol fits, then a 2 MiB one does not.
    let filler = queue.join("filler");
    std::fs::write(&filler, vec![0u8; 3 << 20]).unwrap();
    let to = ["carol@example.org"];
    let reply = send(r.smtp, "someone@example.net", &to, &letter("fits", 1 << 20)).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    // The files of the letters in the queue, by id (`<id>.msg`, and `<id>.env` once the
    // scheduler has rewritten its envelope).
    let ids = || {
        let mut ids: Vec<String> = files(&queue)
            .iter()
            .filter(|p| p.parent() != Some(queue.as_path()))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let before = ids();
    assert_eq!(before.len(), 1);
    let reply = send(r.smtp, "someone@example.net", &to, &letter("too big", 2 << 20)).await.unwrap();
    assert!(reply.starts_with("452 4.3.1"), "{reply}");
    assert_eq!(ids(), before, "the refused letter left a file behind");
    // A smaller letter still fits: the failed one took no space.
    let reply = send(r.smtp, "someone@example.net", &to, &letter("small", 100 << 10)).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    // Space freed: the big letter is accepted, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let reply = send(r.smtp, "someone@example.net", &to, &letter("too big", 2 << 20)).await.unwrap();
    assert!(reply.starts_with("250"), "{reply}");
    assert_eq!(agent.queued().await, 3);
    agent.kill().await;
}
