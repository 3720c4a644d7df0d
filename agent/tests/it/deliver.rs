//! Delivery: Maildir, one pinned and authenticated transaction per remote site, per-recipient
//! results, moved users, level-2 relaying.

use pochta_agent::queue::Origin;
use pochta_directory::{GroupKind, Level, Op, PostingPolicy};

use crate::helpers::{addr, group, user};
use crate::queue_rig::{Receiver, Rig, RigOptions, directory, edit, shared, site_at};

#[tokio::test]
async fn local_mailboxes_get_the_message_in_maildir_new() {
    let tmp = tempfile::tempdir().unwrap();
    let mut dir = directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq"), ("Bob.Smith", "hq")]);
    dir.apply(&Op::PutGroup(group(
        "team",
        GroupKind::List,
        &["alice@example.org", "bob.smith@example.org"],
        PostingPolicy::Anyone,
    )))
    .unwrap();
    let rig = Rig::open(tmp.path(), shared(dir), RigOptions::default());
    let body = "Subject: for the team\r\n\r\nHello, team.\r\n";
    rig.send(
        Some("someone@outside.test"),
        &["team@example.org", "alice@hq.example.org"],
        Origin::Outside,
        body,
    )
    .await;
    rig.drained(10).await;
    assert_eq!(rig.mailbox("alice"), vec![body.to_owned()], "one copy per mailbox");
    assert_eq!(rig.mailbox("bob.smith"), vec![body.to_owned()]);
    let tmp_files = std::fs::read_dir(rig.maildir.join("alice/Maildir/tmp")).unwrap().count();
    assert_eq!(tmp_files, 0);
    let snap = rig.counters.snapshot();
    assert_eq!((snap.delivered, snap.sent), (2, 0));
    rig.stop().await;
}

#[tokio::test]
async fn one_pinned_authenticated_transaction_per_remote_site_with_all_its_recipients() {
    let tmp = tempfile::tempdir().unwrap();
    let branch = Receiver::start(true).await;
    let north = Receiver::start(true).await;
    let mut dir = directory(
        vec![
            site_at("hq", Level::One, None),
            site_at("branch", Level::One, Some((&branch.addr(), &branch.pin))),
            site_at("north", Level::Two, Some((&north.addr(), &north.pin))),
        ],
        &[
            ("alice", "hq"),
            ("bob", "branch"),
            ("carl", "branch"),
            ("dan", "north"),
            ("eve", "north"),
            ("fay", "north"),
        ],
    );
    let members = [
        "alice@example.org",
        "bob@example.org",
        "carl@example.org",
        "dan@example.org",
        "eve@example.org",
        "fay@example.org",
    ];
    dir.apply(&Op::PutGroup(group("everyone", GroupKind::List, &members, PostingPolicy::Anyone))).unwrap();
    let rig = Rig::open(tmp.path(), shared(dir), RigOptions::default());
    let body = "Subject: to all sites\r\n\r\n.leading dot\r\nbody\r\n";
    rig.send(
        Some("alice@example.org"),
        &["everyone@example.org"],
        Origin::User(addr("alice@example.org")),
        body,
    )
    .await;
    rig.drained(10).await;
    assert_eq!(rig.mailbox("alice").len(), 1);
    let b = branch.txns();
    assert_eq!(b.len(), 1, "one transaction to branch");
    assert_eq!(b[0].rcpts, vec!["bob@example.org", "carl@example.org"]);
    assert!(b[0].tls, "STARTTLS, pinned");
    assert!(b[0].mail_from.starts_with("<alice@example.org>"), "{}", b[0].mail_from);
    assert_eq!(b[0].auth.as_deref(), Some("agent:hq-agent"));
    // Unchanged (dot-stuffing undone) under the relay trace field that lets the receiver
    // recognise a copy sent twice.
    let (trace, rest) = b[0].data.split_once("\r\n").unwrap();
    assert!(trace.starts_with("X-Pochta-Relay: hq-agent "), "{trace}");
    assert_eq!(rest, body, "the message arrives unchanged");
    let n = north.txns();
    assert_eq!(n.len(), 1, "one transaction to north");
    assert_eq!(n[0].rcpts, vec!["dan@example.org", "eve@example.org", "fay@example.org"]);
    let snap = rig.counters.snapshot();
    assert_eq!(snap.sent, 2);
    assert_eq!(snap.bytes_to["branch"], b[0].data.len() as u64);
    assert_eq!(snap.delivered, 1);
    rig.stop().await;
}

#[tokio::test]
async fn a_wrong_pin_never_gets_the_mail() {
    let tmp = tempfile::tempdir().unwrap();
    let branch = Receiver::start(true).await;
    let dir = directory(
        vec![
            site_at("hq", Level::One, None),
            site_at("branch", Level::One, Some((&branch.addr(), &"ab".repeat(32)))),
        ],
        &[("alice", "hq"), ("bob", "branch")],
    );
    let rig = Rig::open(tmp.path(), shared(dir), RigOptions::default());
    rig.send(
        Some("alice@example.org"),
        &["bob@example.org"],
        Origin::User(addr("alice@example.org")),
        "x\r\n",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    assert!(branch.txns().is_empty());
    assert_eq!(rig.queue.len(), 1, "it waits");
    rig.stop().await;
}

#[tokio::test]
async fn one_refused_recipient_does_not_fail_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = Receiver::start(false).await;
    let dir = directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq")]);
    let rig = Rig::open(
        tmp.path(),
        shared(dir),
        RigOptions { smarthost: Some(outside.addr()), retry: 0.1, lifetime: 1.5, ..Default::default() },
    );
    let to = ["good@outside.test", "bad@outside.test", "later@outside.test"];
    rig.send(
        Some("alice@example.org"),
        &to,
        Origin::User(addr("alice@example.org")),
        "Subject: mixed\r\n\r\nx\r\n",
    )
    .await;
    rig.drained(20).await;
    let delivered: Vec<_> = outside.txns().into_iter().flat_map(|t| t.rcpts).collect();
    assert_eq!(
        delivered,
        vec!["good@outside.test"],
        "the accepted one once, in spite of retries for the other"
    );
    let inbox = rig.mailbox("alice");
    assert_eq!(inbox.len(), 1, "one DSN listing both failures: {inbox:#?}");
    assert!(
        inbox[0].contains("Final-Recipient: rfc822; bad@outside.test\r\nAction: failed\r\nStatus: 5.1.1")
    );
    assert!(
        inbox[0].contains("Final-Recipient: rfc822; later@outside.test\r\nAction: failed\r\nStatus: 4.4.7")
    );
    assert!(!inbox[0].contains("good@outside.test\r\nAction"));
    rig.stop().await;
}

#[tokio::test]
async fn mail_for_a_user_who_moved_is_forwarded_to_his_new_home_site() {
    let tmp = tempfile::tempdir().unwrap();
    let branch = Receiver::start(true).await;
    let shared_dir = shared(directory(
        vec![
            site_at("hq", Level::One, None),
            site_at("branch", Level::One, Some((&branch.addr(), &branch.pin))),
        ],
        &[("alice", "hq"), ("dave", "hq")],
    ));
    // Dave moves to branch; a peer still sends him mail here, at his old site address.
    let mut moved = user("dave", "branch");
    moved.former_sites.insert(crate::helpers::sid("hq"));
    edit(&shared_dir, vec![Op::PutUser(moved)]);
    let rig = Rig::open(tmp.path(), shared_dir, RigOptions::default());
    let peer = Origin::Peer { agent_id: "gw-agent".into() };
    rig.send(
        Some("x@outside.test"),
        &["dave@hq.example.org", "alice@hq.example.org"],
        peer,
        "Subject: hi\r\n\r\n.\r\n",
    )
    .await;
    rig.drained(10).await;
    assert_eq!(rig.mailbox("alice").len(), 1);
    assert!(rig.mailbox("dave").is_empty());
    let t = branch.txns();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].rcpts, vec!["dave@example.org"]);
    rig.stop().await;
}

#[tokio::test]
async fn a_level_two_site_sends_outside_mail_through_a_level_zero_agent_in_one_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let gw = Receiver::start(true).await;
    let dir = directory(
        vec![site_at("gw", Level::Zero, Some((&gw.addr(), &gw.pin))), site_at("north", Level::Two, None)],
        &[("dan", "north")],
    );
    let rig = Rig::open(
        tmp.path(),
        shared(dir),
        RigOptions { site: "north", level: Level::Two, ..Default::default() },
    );
    rig.send(
        Some("dan@example.org"),
        &["x@outside.test", "y@elsewhere.test"],
        Origin::User(addr("dan@example.org")),
        "z\r\n",
    )
    .await;
    rig.drained(10).await;
    let t = gw.txns();
    assert_eq!(t.len(), 1, "both outside domains in one trip to the relay");
    assert_eq!(t[0].rcpts, vec!["x@outside.test", "y@elsewhere.test"]);
    assert_eq!(t[0].auth.as_deref(), Some("agent:north-agent"));
    rig.stop().await;
}
