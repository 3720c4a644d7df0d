//! The durable queue: group commit, restart and crash recovery, retries, lifetime and DSNs.

use std::sync::Arc;
use std::time::Duration;

use pochta_agent::queue::{Origin, Queue};
use pochta_directory::Level;

use crate::helpers::{addr, free_port};
use crate::queue_rig::{Rig, RigOptions, SmtpSink, directory, shared, site_at};

const MSG: &str = "Subject: test\r\nFrom: alice@example.org\r\n\r\nHello.\r\n";

fn hq_only() -> pochta_directory::Directory {
    directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq"), ("bob", "hq")])
}

#[tokio::test]
async fn group_commit_makes_every_concurrent_message_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let rig = Rig::open(tmp.path(), shared(hq_only()), RigOptions { run: false, ..Default::default() });
    let queue = rig.queue.clone();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let rig_queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            use pochta_agent::queue::{Incoming, Sink};
            let msg = Incoming {
                reverse_path: Some(addr("alice@example.org")),
                recipients: vec![addr("bob@example.org")],
                origin: Origin::Outside,
                client_ip: "127.0.0.1".parse().unwrap(),
                data: format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes(),
            };
            rig_queue.enqueue(msg).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 300, "every message has its own id");
    assert_eq!(rig.counters.snapshot().accepted, 300);
    // Spread over several directories, each message one file, no temporary file left.
    let spool = tmp.path().join("queue");
    let mut files = 0;
    let mut used_dirs = 0;
    for d in std::fs::read_dir(&spool).unwrap().flatten() {
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(names.iter().all(|n| !n.to_string_lossy().ends_with(".tmp")));
        files += names.iter().filter(|n| n.to_string_lossy().ends_with(".msg")).count();
        used_dirs += usize::from(!names.is_empty());
    }
    assert_eq!(files, 300);
    assert!(used_dirs >= 8, "files spread over the subdirectories ({used_dirs})");
    // What a restart finds: all of them, with their envelopes.
    let deliverer = rig.deliverer.clone();
    rig.crash();
    drop(queue);
    let again = Queue::open(&spool, &Default::default(), deliverer).unwrap();
    assert_eq!(again.len(), 300);
    assert!(again.list().iter().all(|e| e.recipients == vec![addr("bob@example.org")]));
}

#[tokio::test]
async fn messages_queued_before_a_crash_are_delivered_exactly_once_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sink_port = free_port();
    let dir = shared(hq_only());
    // 1. Accepted, then the agent dies before delivering anything.
    let rig = Rig::open(tmp.path(), dir.clone(), RigOptions { run: false, ..Default::default() });
    for i in 0..10 {
        rig.send(
            Some("bob@example.org"),
            &["alice@example.org", "x@outside.test"],
            Origin::Outside,
            &format!("Subject: a{i}\r\n\r\nA\r\n"),
        )
        .await;
    }
    rig.crash();
    // 2. Restarted while the outside world is down: local copies go, outside ones wait; then
    //    it dies again in the middle of retrying.
    let smarthost = Some(format!("127.0.0.1:{sink_port}"));
    let rig =
        Rig::open(tmp.path(), dir.clone(), RigOptions { smarthost: smarthost.clone(), ..Default::default() });
    for _ in 0..200 {
        if rig.mailbox("alice").len() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rig.mailbox("alice").len(), 10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.queue.len(), 10, "outside copies wait");
    rig.crash();
    // A crash can also fall between a mailbox write and the state update: forget the states.
    for d in std::fs::read_dir(tmp.path().join("queue")).unwrap().flatten() {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            if f.file_name().to_string_lossy().ends_with(".env") {
                std::fs::remove_file(f.path()).unwrap();
            }
        }
    }
    // 3. Restarted with the outside world back: everything goes, once.
    let sink = SmtpSink::start(tmp.path(), sink_port);
    let rig = Rig::open(tmp.path(), dir, RigOptions { smarthost, ..Default::default() });
    rig.drained(20).await;
    assert_eq!(rig.mailbox("alice").len(), 10, "no local copy twice");
    let txns = sink.transactions();
    assert_eq!(txns.len(), 10, "each outside copy once");
    for i in 0..10 {
        let subject = format!("Subject: a{i}");
        assert_eq!(txns.iter().filter(|t| t.lines().any(|l| l.trim_end() == subject)).count(), 1);
    }
    rig.stop().await;
}

#[tokio::test]
async fn mail_for_a_destination_that_is_down_waits_and_goes_once_when_it_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let rig = Rig::open(
        tmp.path(),
        shared(hq_only()),
        RigOptions { smarthost: Some(format!("127.0.0.1:{port}")), retry: 0.2, ..Default::default() },
    );
    for i in 0..5 {
        rig.send(
            Some("alice@example.org"),
            &["one@outside.test", "two@outside.test"],
            Origin::User(addr("alice@example.org")),
            &format!("Subject: w{i}\r\n\r\nwaiting\r\n"),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(rig.queue.len(), 5, "nothing lost while the destination is down");
    let env = &rig.queue.list()[0];
    assert!(env.attempts >= 1);
    let sink = SmtpSink::start(tmp.path(), port);
    rig.drained(20).await;
    let txns = sink.transactions();
    assert_eq!(txns.len(), 5, "one transaction per message: {txns:#?}");
    for t in &txns {
        assert!(
            t.contains("X-Rcpt-Args: <one@outside.test>") && t.contains("X-Rcpt-Args: <two@outside.test>")
        );
    }
    let snap = rig.counters.snapshot();
    assert_eq!(snap.sent, 5);
    assert!(snap.bytes_to["external"] > 0);
    assert!(rig.mailbox("alice").is_empty(), "no DSN: everything arrived");
    rig.stop().await;
}

#[tokio::test]
async fn lifetime_expiry_bounces_once_and_never_to_the_null_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let dead = format!("127.0.0.1:{}", free_port());
    let rig = Rig::open(
        tmp.path(),
        shared(hq_only()),
        RigOptions { smarthost: Some(dead), retry: 0.1, lifetime: 1.0, ..Default::default() },
    );
    rig.send(
        Some("alice@example.org"),
        &["far@outside.test", "away@outside.test"],
        Origin::User(addr("alice@example.org")),
        MSG,
    )
    .await;
    rig.send(None, &["far@outside.test"], Origin::Outside, "Subject: a bounce\r\n\r\n.\r\n").await;
    rig.drained(20).await;
    let inbox = rig.mailbox("alice");
    assert_eq!(inbox.len(), 1, "one DSN for the message, none for the bounce: {inbox:#?}");
    let dsn = &inbox[0];
    assert!(dsn.contains("Content-Type: multipart/report; report-type=delivery-status"));
    assert!(dsn.contains("Final-Recipient: rfc822; far@outside.test"));
    assert!(dsn.contains("Final-Recipient: rfc822; away@outside.test"));
    assert!(dsn.contains("Status: 4.4.7"));
    assert!(dsn.contains("Subject: test"), "the original headers come back");
    rig.stop().await;
}

#[tokio::test]
async fn queue_requests_retry_bounce_and_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let dead = format!("127.0.0.1:{}", free_port());
    let rig = Rig::open(
        tmp.path(),
        shared(hq_only()),
        RigOptions { smarthost: Some(dead), retry: 30.0, ..Default::default() },
    );
    let a = rig.send(Some("alice@example.org"), &["x@outside.test"], Origin::Outside, MSG).await;
    let b = rig.send(Some("bob@example.org"), &["y@outside.test"], Origin::Outside, MSG).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let spool = tmp.path().join("queue");
    pochta_agent::queue::spool::Spool::request(&spool, &a, "bounce").unwrap();
    pochta_agent::queue::spool::Spool::request(&spool, &b, "delete").unwrap();
    rig.drained(10).await;
    assert_eq!(rig.mailbox("alice").len(), 1, "a bounce request sends a DSN");
    assert!(rig.mailbox("alice")[0].contains("Status: 5.0.0"));
    assert!(rig.mailbox("bob").is_empty(), "a delete request does not");
    let _ = Arc::clone(&rig.queue);
    rig.stop().await;
}

#[tokio::test]
async fn the_queue_command_lists_shows_and_requests() {
    let tmp = tempfile::tempdir().unwrap();
    let rig = Rig::open(tmp.path(), shared(hq_only()), RigOptions { run: false, ..Default::default() });
    let id = rig.send(Some("alice@example.org"), &["x@outside.test"], Origin::Outside, MSG).await;
    rig.crash();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pochta-agent"))
            .arg("--data")
            .arg(tmp.path())
            .arg("queue")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let list = run(&["list"]);
    assert!(
        list.contains(&id.0) && list.contains("alice@example.org") && list.contains("1 message(s)"),
        "{list}"
    );
    let show = run(&["show", &id.0]);
    assert!(
        show.contains("\"reverse_path\": \"alice@example.org\"") && show.contains("Subject: test"),
        "{show}"
    );
    run(&["delete", &id.0]);
    assert!(tmp.path().join("queue/ctl").join(format!("{id}.delete")).exists());
    // The next start applies it.
    let rig = Rig::open(tmp.path(), shared(hq_only()), RigOptions::default());
    rig.drained(5).await;
    assert!(rig.mailbox("alice").is_empty());
    rig.stop().await;
}

/// The agents' relay field stays inside the deployment: a letter a level-2 site relayed through
/// this agent leaves for the outside (here the smarthost) without it, everything else intact.
#[tokio::test]
async fn the_relay_field_does_not_leave_the_deployment() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let sink = SmtpSink::start(tmp.path(), port);
    let rig = Rig::open(
        tmp.path(),
        shared(hq_only()),
        RigOptions { smarthost: Some(format!("127.0.0.1:{port}")), ..Default::default() },
    );
    let relayed = "X-Pochta-Relay: br-1 19a2b3c4d5e0a1b2c3d000001 1700000000123\r\n\
                   Received: from br.example.org by br-1\r\n\
                   Subject: out through the gateway\r\n\r\nHello.\r\n";
    rig.send(
        Some("alice@example.org"),
        &["friend@outside.test"],
        Origin::Peer { agent_id: "br-1".into() },
        relayed,
    )
    .await;
    rig.drained(20).await;
    let txns = sink.transactions();
    assert_eq!(txns.len(), 1);
    assert!(!txns[0].to_ascii_lowercase().contains("x-pochta-relay"), "{}", txns[0]);
    assert!(txns[0].contains("Received: from br.example.org by br-1"), "{}", txns[0]);
    assert!(txns[0].contains("Subject: out through the gateway"), "{}", txns[0]);
    rig.stop().await;
}

#[tokio::test]
async fn a_letter_for_local_mailboxes_only_is_in_maildir_new_before_enqueue_returns_and_never_spooled() {
    let tmp = tempfile::tempdir().unwrap();
    let rig = Rig::open(tmp.path(), shared(hq_only()), RigOptions::default());
    // The scheduler hands the queue its deliverer as it starts.
    tokio::time::sleep(Duration::from_millis(100)).await;
    rig.send(Some("x@outside.test"), &["alice@example.org", "bob@example.org"], Origin::Outside, MSG).await;
    // Durable in its final place as soon as the hand-over returns: no waiting.
    assert_eq!(rig.mailbox("alice"), vec![MSG.to_owned()]);
    assert_eq!(rig.mailbox("bob"), vec![MSG.to_owned()]);
    assert!(rig.queue.is_empty(), "nothing queued");
    let spooled: usize = std::fs::read_dir(tmp.path().join("queue"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum();
    assert_eq!(spooled, 0, "no spool file");
    for user in ["alice", "bob"] {
        let tmpdir = tmp.path().join("mail").join(user).join("Maildir").join("tmp");
        assert_eq!(std::fs::read_dir(tmpdir).unwrap().count(), 0, "no temporary file left");
    }
    let c = rig.counters.snapshot();
    assert_eq!((c.accepted, c.delivered), (1, 2));
    // A letter with an outside recipient too takes the queue, as before.
    rig.send(Some("alice@example.org"), &["bob@example.org", "x@outside.test"], Origin::Outside, MSG).await;
    assert_eq!(rig.queue.len(), 1, "a mixed letter is queued");
    rig.stop().await;
}
