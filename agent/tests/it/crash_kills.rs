//! Two hundred `kill -9`s under load: the real agent binary takes letters from four SMTP
//! clients at once and is killed at a random moment, again and again. Afterwards every letter
//! that got its 250 is in each of its mailboxes exactly once, and no letter is anywhere twice —
//! for letters written straight into Maildirs, for a group commit to two mailboxes, and for
//! letters that went through the spool because one recipient is at an unreachable site.
//!
//! `POCHTA_CRASH_KILLS` sets the number of kills (200 by default).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pochta_directory::{Level, Op};

use crate::helpers::{Deployment, config, dead_server, free_port, user, write_config};
use crate::process::{BinAgent, send};
use crate::queue_rig::{mailbox, site_at};

/// The recipients of letter `n`: alice alone (one Maildir write), alice and bob (one group
/// commit), alice and carol at the unreachable site (spooled; alice's copy by the scheduler).
fn recipients(n: u64) -> &'static [&'static str] {
    match n % 3 {
        0 => &["alice@example.org"],
        1 => &["alice@example.org", "bob@example.org"],
        _ => &["alice@example.org", "carol@example.org"],
    }
}

/// The letter numbers found in a mailbox, with how often each is there.
fn numbers(mail: &std::path::Path, user: &str) -> BTreeMap<u64, usize> {
    let mut found = BTreeMap::new();
    for letter in mailbox(mail, user) {
        let n = letter
            .lines()
            .find_map(|l| l.strip_prefix("Subject: crash "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("a letter that was never sent: {letter}"));
        *found.entry(n).or_insert(0) += 1;
    }
    found
}

#[tokio::test]
async fn two_hundred_kills_under_load_lose_and_duplicate_nothing_acknowledged() {
    let kills: u64 = std::env::var("POCHTA_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let root = tempfile::tempdir().unwrap();
    let dead_peer = format!("127.0.0.1:{}", free_port());
    let mut dep = Deployment::new();
    dep.commit(vec![
        Op::PutSite(site_at("msk", Level::One, None)),
        Op::PutSite(site_at("spb", Level::One, Some((&dead_peer, &"cd".repeat(32))))),
        Op::PutUser(user("alice", "msk")),
        Op::PutUser(user("bob", "msk")),
        Op::PutUser(user("carol", "spb")),
    ]);
    let (https, smtp) = (free_port(), free_port());
    let mut cfg = config(&dep, "a1", "msk", dead_server(), format!("127.0.0.1:{https}").parse().unwrap());
    cfg.smtp.listen = Some(format!("127.0.0.1:{smtp}").parse().unwrap());
    cfg.delivery.retry_initial_secs = 0.2;
    cfg.delivery.retry_max_secs = 1.0;
    let dir = write_config(root.path(), "agent", &cfg);
    let mail = dir.join("mail");
    cfg.delivery.maildir_root = mail.clone();
    cfg.save(&dir).unwrap();

    let agent = BinAgent::start(&dir, https, &[]).await;
    agent.push(&dep).await;
    agent.stop().await;

    let next = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let started = Instant::now();
    // A cheap, repeatable spread of moments to kill at: 10 to 250 ms into the load.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..kills {
        let agent = BinAgent::start(&dir, https, &[]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let (next, acked, stop) = (next.clone(), acked.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let message =
                            format!("Subject: crash {n}\r\nMessage-ID: <{n}@crash.test>\r\n\r\nLetter {n}.");
                        match send(smtp, "sender@outside.test", recipients(n), &message).await {
                            Ok(reply) if reply.starts_with("250") => {
                                acked.lock().unwrap().insert(n);
                            }
                            Ok(_) => {}
                            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                        }
                    }
                })
            })
            .collect();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        tokio::time::sleep(Duration::from_millis(10 + (seed >> 33) % 240)).await;
        agent.kill().await;
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    let sent = next.load(Ordering::Relaxed);
    eprintln!(
        "{kills} kills in {:.0?}: {sent} letters tried, {} acknowledged",
        started.elapsed(),
        acked.len()
    );
    assert!(acked.len() as u64 > kills, "the load was real: {} acknowledged", acked.len());

    // One last start recovers the spool; everything for alice and bob arrives.
    let agent = BinAgent::start(&dir, https, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let alice = numbers(&mail, "alice");
        if acked.iter().all(|n| alice.contains_key(n)) {
            break;
        }
        let missing: Vec<_> = acked.iter().filter(|n| !alice.contains_key(n)).take(10).collect();
        assert!(Instant::now() < deadline, "acknowledged letters never reached alice: {missing:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Carol's copies wait for her site; nothing else does.
    tokio::time::sleep(Duration::from_secs(2)).await;
    agent.stop().await;

    let alice = numbers(&mail, "alice");
    let bob = numbers(&mail, "bob");
    for (who, found) in [("alice", &alice), ("bob", &bob)] {
        let twice: Vec<_> = found.iter().filter(|(_, c)| **c > 1).collect();
        assert!(twice.is_empty(), "letters in {who}'s mailbox twice: {twice:?}");
    }
    for n in &acked {
        assert!(alice.contains_key(n), "acknowledged letter {n} lost for alice");
        if n % 3 == 1 {
            assert!(bob.contains_key(n), "acknowledged letter {n} lost for bob");
        }
    }
    assert!(bob.keys().all(|n| n % 3 == 1), "bob got letters that were not for him");
}
