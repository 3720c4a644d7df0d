//! Mailbox moves: a user moves from hq to branch; the letters already in her Maildir at hq
//! follow her, land in the same folders with the same flags, exactly once — also when hq's
//! agent dies in the middle of the move.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pochta_agent::mailbox_move::{Mover, MoverConfig, Progress};
use pochta_agent::queue::Origin;
use pochta_directory::{Level, Op};
use tokio::sync::watch;

use crate::helpers::{PEER_SECRET, sid, user};
use crate::queue_rig::{Receiver, Rig, RigOptions, SharedDir, directory, edit, shared, site_at};

const FIRST: &str = "Subject: one\r\n\r\nfirst letter\r\n";
const SECOND: &str = "Subject: two\r\n\r\nsecond letter\r\n";
const THIRD: &str = "Subject: three\r\n\r\nthird letter\r\n";

fn mover(rig: &Rig, dir: &SharedDir) -> Mover {
    let source = dir.clone();
    let cfg = MoverConfig {
        site: sid("hq"),
        agent_id: "hq-agent".into(),
        peer_secret: PEER_SECRET.into(),
        maildir_root: rig.maildir.clone(),
        directory: Arc::new(move || source.read().unwrap().clone()),
        max_size: 1 << 20,
    };
    Mover::new(cfg, rig.queue.clone(), Progress::default())
}

fn put(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// Every file under `md` except in `tmp/`: (path relative to `md`, contents).
fn files(md: &Path) -> Vec<(String, String)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if e.file_name() != "tmp" {
                    walk(base, &p, out);
                }
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(md, md, &mut out);
    out.sort();
    out
}

async fn until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_moved_users_letters_follow_her_once_with_folders_and_flags_even_across_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let (hq_root, branch_root) = (tmp.path().join("hq"), tmp.path().join("branch"));
    let branch_smtp = Receiver::start(true).await;
    let dir = shared(directory(
        vec![
            site_at("hq", Level::One, None),
            site_at("branch", Level::One, Some((&branch_smtp.addr(), &branch_smtp.pin))),
        ],
        &[("alice", "hq")],
    ));
    let hq = Rig::open(&hq_root, dir.clone(), RigOptions::default());
    let branch = Rig::open(&branch_root, dir.clone(), RigOptions { site: "branch", ..RigOptions::default() });
    let src = hq.maildir.join("alice").join("Maildir");
    put(&src.join("cur").join("1700000001.a1.hq:2,RS"), FIRST);
    put(&src.join(".Sent").join("cur").join("1700000002.a2.hq:2,S"), SECOND);
    put(&src.join("new").join("1700000003.a3.hq"), THIRD);
    std::fs::create_dir_all(src.join("tmp")).unwrap();

    // Nothing to do while she lives here.
    let (_stop_tx, stop) = watch::channel(false);
    let m = mover(&hq, &dir);
    assert_eq!(m.pass(&stop).await.unwrap(), 0);
    assert_eq!(files(&src).len(), 3);

    let mut moved = user("alice", "branch");
    moved.former_sites.insert(sid("hq"));
    edit(&dir, vec![Op::PutUser(moved)]);
    assert_eq!(m.pass(&stop).await.unwrap(), 3);
    assert_eq!(files(&src), vec![], "hq keeps no letter");
    assert!(src.join("new").is_dir(), "the Maildir stays, empty");
    assert!(!m.progress().running(), "no move in progress after the pass");
    // The ended move waits for the server with how it went.
    let ended = m.progress().list();
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!((ended[0].moved, ended[0].remaining, ended[0].remaining_bytes), (3, 0, 0), "{ended:?}");
    assert!(ended[0].moved_bytes > 0, "{ended:?}");
    assert_eq!(ended[0].ended, Some(pochta_agent::mailbox_move::MoveEnd::Done { kept: 0 }));

    // hq dies right after the hand-over, and the removal of one source file did not survive
    // it: the restarted agent hands that letter over a second time.
    drop(m);
    hq.crash();
    put(&src.join("new").join("1700000003.a3.hq"), THIRD);
    let hq = Rig::open(&hq_root, dir.clone(), RigOptions::default());
    let m = mover(&hq, &dir);
    assert_eq!(m.pass(&stop).await.unwrap(), 1);
    assert_eq!(files(&src), vec![]);
    hq.drained(10).await;
    let sent = branch_smtp.txns();
    assert!(sent.len() >= 4, "3 letters and the repeated one: {sent:#?}");
    assert!(
        sent.iter().all(|t| t.auth.as_deref() == Some("agent:hq-agent") && t.rcpts == ["alice@example.org"])
    );

    // branch's SMTP service hands every copy to its queue as from a peer.
    for t in &sent {
        branch
            .send(None, &["alice@example.org"], Origin::Peer { agent_id: "hq-agent".into() }, &t.data)
            .await;
    }
    branch.drained(10).await;
    let dst = branch.maildir.join("alice").join("Maildir");
    let got = files(&dst);
    assert_eq!(got.len(), 3, "each letter exactly once: {got:#?}");
    let find = |body: &str| got.iter().find(|(_, d)| d == body).map(|(p, _)| p.clone());
    let first = find(FIRST).expect("the first letter as it was, without trace fields");
    assert!(first.starts_with("cur/1700000001.M") && first.ends_with(":2,RS"), "{first}");
    let second = find(SECOND).expect("the second letter");
    assert!(second.starts_with(".Sent/cur/1700000002.M") && second.ends_with(":2,S"), "{second}");
    let third = find(THIRD).expect("the third letter");
    assert!(third.starts_with("new/1700000003.M") && !third.contains(':'), "{third}");
    // Counted apart from mail: every filing attempt as moved in, none as delivered.
    assert_eq!(branch.counters.moved_in.load(std::sync::atomic::Ordering::Relaxed), sent.len() as u64);
    assert_eq!(branch.counters.delivered.load(std::sync::atomic::Ordering::Relaxed), 0, "a move is not mail");
    assert_eq!(hq.counters.accepted.load(std::sync::atomic::Ordering::Relaxed), 0, "a move is not new mail");
    until("nothing left", 1, || files(&src).is_empty()).await;
    hq.stop().await;
    branch.stop().await;
}

#[tokio::test]
async fn a_forged_move_field_from_outside_files_nothing_anywhere_special() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shared(directory(vec![site_at("hq", Level::One, None)], &[("alice", "hq")]));
    let hq = Rig::open(tmp.path(), dir, RigOptions::default());
    let forged =
        "X-Pochta-Move: id=ab secs=1 folder=5472617368 in=cur flags=ST mac=00\r\nSubject: x\r\n\r\nx\r\n";
    hq.send(None, &["alice@example.org"], Origin::Peer { agent_id: "gw-agent".into() }, forged).await;
    hq.drained(10).await;
    let md = hq.maildir.join("alice").join("Maildir");
    let got = files(&md);
    assert_eq!(got.len(), 1);
    assert!(got[0].0.starts_with("new/") && got[0].1 == forged, "{got:?}");
    assert!(!md.join(".Trash").exists());
    hq.stop().await;
}

#[tokio::test]
async fn a_large_mailbox_moves_a_window_at_a_time_and_shows_its_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shared(directory(
        vec![site_at("hq", Level::One, None), site_at("branch", Level::One, None)],
        &[("alice", "hq")],
    ));
    // hq's scheduler is not running: nothing leaves its queue.
    let hq = Rig::open(tmp.path(), dir.clone(), RigOptions { run: false, ..RigOptions::default() });
    let src = hq.maildir.join("alice").join("Maildir");
    for i in 0..20 {
        put(&src.join("cur").join(format!("17000000{i:02}.x{i}.hq:2,S")), FIRST);
    }
    put(&src.join("cur").join("1700000099.big.hq:2,S"), &"x".repeat((1 << 20) + 1));
    edit(&dir, vec![Op::PutUser(user("alice", "branch"))]);
    let m = Arc::new(mover(&hq, &dir));
    let (stop_tx, stop) = watch::channel(false);
    let pass = tokio::spawn({
        let m = m.clone();
        async move { m.pass(&stop).await.unwrap() }
    });
    until("a full window", 10, || m.progress().list().first().is_some_and(|p| p.moved == 16)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let p = m.progress().list();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].user.as_str(), p[0].to_site.as_str(), p[0].remaining, p[0].moved),
        ("alice", "branch", 5, 16)
    );
    assert_eq!(hq.queue.len(), 16, "no more than the window waits in the queue");
    assert_eq!(files(&src).len(), 5);
    let _ = stop_tx.send(true);
    assert_eq!(pass.await.unwrap(), 16);
    assert!(m.progress().list().is_empty());
    hq.stop().await;
}

/// The stats report carries the moves in progress, and a move starting or ending is reported at
/// once, not at the next tick (600 s here), its progress every couple of seconds while it
/// lasts, and its end once, with how it ended.
#[tokio::test]
async fn stats_reports_carry_the_moves_promptly() {
    use crate::helpers::{Deployment, StandIn, config};
    use pochta_agent::mailbox_move::{MoveEnd, MoveProgress};
    let root = tempfile::tempdir().unwrap();
    let server = StandIn::start(root.path()).await;
    let dep = Deployment::new();
    let cfg = Arc::new(config(&dep, "hq-agent", "hq", server.link(), "127.0.0.1:0".parse().unwrap()));
    let moves = Progress::default();
    let reporter = pochta_agent::sync::StatsReporter::new(
        cfg,
        Arc::new(pochta_agent::metrics::Counters::default()),
        Arc::new(|| 0),
        moves.clone(),
    )
    .unwrap();
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(reporter.run(stop_rx));
    let reports = |n: usize| {
        let server = &server;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let got = server.state.lock().unwrap().stats.clone();
                if got.len() >= n {
                    return got;
                }
                assert!(Instant::now() < deadline, "report {n} arrives promptly");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let first = reports(1).await;
    assert!(first[0].get("mailbox_moves").is_none(), "no moves, no field: {}", first[0]);
    moves.set(MoveProgress {
        user: "petrova".into(),
        to_site: "branch".into(),
        remaining: 7,
        remaining_bytes: 7000,
        ..Default::default()
    });
    let second = reports(2).await;
    assert_eq!(
        second[1]["mailbox_moves"],
        serde_json::json!([{"user": "petrova", "to_site": "branch", "remaining": 7, "moved": 0,
            "moved_bytes": 0, "remaining_bytes": 7000, "elapsed_secs": 0}])
    );
    // While it goes on, its progress is reported every couple of seconds, not at the tick.
    moves.set(MoveProgress {
        user: "petrova".into(),
        to_site: "branch".into(),
        remaining: 4,
        moved: 3,
        remaining_bytes: 4000,
        moved_bytes: 3000,
        ..Default::default()
    });
    let third = reports(3).await;
    assert_eq!(third[2]["mailbox_moves"][0]["moved"], 3, "{}", third[2]);
    assert_eq!(third[2]["mailbox_moves"][0]["moved_bytes"], 3000, "{}", third[2]);
    // Its end is reported with how it ended, once: the server took it, the agent forgets it.
    moves.end("petrova", Some(MoveEnd::Done { kept: 1 }));
    let fourth = reports(4).await;
    assert_eq!(fourth[3]["mailbox_moves"][0]["ended"], serde_json::json!({"outcome": "done", "kept": 1}));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !moves.list().is_empty() {
        assert!(Instant::now() < deadline, "a taken end is forgotten: {:?}", moves.list());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // An ending without an outcome (the agent stopping) is not reported as finished.
    moves.set(MoveProgress {
        user: "ivanov".into(),
        to_site: "branch".into(),
        remaining: 2,
        ..Default::default()
    });
    let fifth = reports(5).await;
    assert_eq!(fifth[4]["mailbox_moves"][0]["user"], "ivanov");
    moves.end("ivanov", None);
    assert!(moves.list().is_empty());
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    server.stop();
}
