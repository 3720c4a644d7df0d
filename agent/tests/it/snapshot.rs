//! Invariant: a new or far-behind agent bootstraps from a signed snapshot, then continues with
//! change sets. Pull mode long-polls.

use std::time::Duration;

use axum::http::StatusCode;
use pochta_directory::wire;
use pochta_directory::{GroupKind, Level, Op, PostingPolicy};
use serde_json::json;

use crate::helpers::*;

fn history(dep: &mut Deployment, n: usize) {
    dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutSite(site("spb", Level::Two))]);
    for i in 1..n {
        let name = format!("user{i}");
        dep.commit(vec![Op::PutUser(user(&name, if i % 2 == 0 { "msk" } else { "spb" }))]);
    }
}

#[tokio::test]
async fn new_agent_bootstraps_from_the_snapshot_then_follows_changes() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    history(&mut dep, 5);
    let server = StandIn::start(root.path()).await;
    {
        let mut s = server.state.lock().unwrap();
        s.frames = dep.frames.clone();
        s.snapshot = Some(dep.snapshot());
        // The server's log no longer starts at 1: only the snapshot can bring an agent up.
        s.gone_before = dep.version().0;
    }
    let snapshot_version = dep.version().0;
    for i in 0..3 {
        let f = dep.commit(vec![Op::PutGroup(group(
            &format!("list{i}"),
            GroupKind::List,
            &["user1@example.org", "user2@example.org"],
            PostingPolicy::Anyone,
        ))]);
        server.publish(&f);
    }

    let cfg = config(&dep, "a1", "msk", server.link(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    agent.wait_version(dep.version().0, 10).await;
    assert_eq!(agent.directory(), dep.model);
    assert_eq!(server.state.lock().unwrap().snapshot_requests, 1);
    let s = agent.status().await;
    assert_eq!(
        (s["version"].as_u64(), s["server_version"].as_u64(), s["stale"].as_bool()),
        (Some(8), Some(8), Some(false))
    );
    assert_eq!(
        agent.resolve("list2@example.org").await,
        json!({ "local": { "msk": ["user2"], "spb": ["user1"] }, "external": [] })
    );

    // It serves peers only what it has: after the snapshot.
    let peer = |after: u64| {
        agent.client.get(agent.url(&format!("/sync/changes?after={after}"))).bearer_auth(PEER_SECRET).send()
    };
    assert_eq!(peer(2).await.unwrap().status().as_u16(), 410);
    let resp = peer(snapshot_version).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["pochta-version"], "8");
    let body = resp.bytes().await.unwrap();
    let frames = wire::unpack(&body).unwrap();
    assert_eq!(frames, dep.frames[snapshot_version as usize..].iter().map(Vec::as_slice).collect::<Vec<_>>());

    // Pushes continue from there.
    let next = dep.commit(vec![Op::DeleteUser { name: lp("user4") }]);
    server.publish(&next);
    let (status, body) = agent.push(&[&next]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 9, "held": 0 })));
    assert_eq!(agent.directory(), dep.model);
}

#[tokio::test]
async fn far_behind_agent_rebootstraps_on_410() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    history(&mut dep, 2);
    // First it runs standalone and gets to version 2 from pushes.
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let dir = write_config(root.path(), "agent", &cfg);
    let mut agent = TestAgent::start(&dir).await;
    agent.push(&[dep.frame(1), dep.frame(2)]).await;
    assert_eq!(agent.version(), 2);
    agent.stop().await;

    // Meanwhile the server moved on and compacted its log.
    for i in 0..4 {
        dep.commit(vec![Op::PutUser(user(&format!("late{i}"), "msk"))]);
    }
    let snapshot = dep.snapshot();
    dep.commit(vec![Op::DeleteUser { name: lp("late0") }]);
    let server = StandIn::start(root.path()).await;
    {
        let mut s = server.state.lock().unwrap();
        s.frames = dep.frames.clone();
        s.gone_before = 4;
        s.snapshot = Some(snapshot);
    }
    let mut cfg = cfg;
    cfg.server = server.link();
    cfg.save(&dir).unwrap();
    agent = TestAgent::start(&dir).await;
    agent.wait_version(dep.version().0, 10).await;
    assert_eq!(agent.directory(), dep.model);
    let s = server.state.lock().unwrap();
    assert_eq!(s.snapshot_requests, 1, "one bootstrap, on the 410");
    assert_eq!(s.last_applied.as_deref(), Some("6"), "requests say what the agent has applied");
}

#[tokio::test]
async fn pull_mode_long_polls_the_server() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    history(&mut dep, 2);
    let server = StandIn::start(root.path()).await;
    server.state.lock().unwrap().frames = dep.frames.clone();
    let mut cfg = config(&dep, "a1", "msk", server.link(), "127.0.0.1:0".parse().unwrap());
    cfg.pull = true;
    cfg.poll_wait_secs = 30;
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    agent.wait_version(2, 10).await;
    // Let the long poll settle, then publish: the change arrives within the poll, not after it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    server.publish(&dep.commit(vec![Op::PutUser(user("fresh", "msk"))]));
    agent.wait_version(3, 10).await;
    assert!(started.elapsed() < Duration::from_secs(2), "propagation took {:?}", started.elapsed());
    assert_eq!(agent.directory(), dep.model);
    let s = agent.status().await;
    assert_eq!((s["server_version"].as_u64(), s["stale"].as_bool()), (Some(3), Some(false)));
}
