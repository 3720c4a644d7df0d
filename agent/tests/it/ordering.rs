//! Invariant: change set N+1 applies only on top of N; a gap is held and filled; a duplicate is
//! a no-op.

use axum::http::StatusCode;
use pochta_directory::{Level, Op};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn gap_is_held_until_filled_and_duplicates_are_no_ops() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutUser(user("ivanov", "msk"))]);
    let v2 = dep.commit(vec![Op::PutSite(site("spb", Level::Two)), Op::PutUser(user("petrov", "spb"))]);
    // v3 moves ivanov to spb: it only makes sense after v2.
    let mut moved = user("ivanov", "spb");
    moved.former_sites.insert(sid("msk"));
    let v3 = dep.commit(vec![Op::PutUser(moved)]);
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;

    let (status, body) = agent.push(&[&v3]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 0, "held": 1 })));
    assert_eq!(agent.status().await["version"], 0);
    assert_eq!(agent.status().await["held"], 1);
    let (status, body) = agent.push(&[&v1]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 1, "held": 1 })));
    assert_eq!(agent.resolve("ivanov@example.org").await["local"], json!({ "msk": ["ivanov"] }));
    let (status, body) = agent.push(&[&v2]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 3, "held": 0 })));
    assert_eq!(agent.directory(), dep.model);
    assert_eq!(agent.resolve("ivanov@example.org").await["local"], json!({ "spb": ["ivanov"] }));
    assert_eq!(agent.resolve("ivanov@msk.example.org").await["local"], json!({ "spb": ["ivanov"] }));

    // Duplicates, alone and mixed with the current one: no-ops.
    for dup in [&v2, &v1, &v3] {
        let (status, body) = agent.push(&[dup]).await;
        assert_eq!((status, body), (StatusCode::OK, json!({ "version": 3, "held": 0 })));
    }
    let (status, body) = agent.push(&[&v1, &v2, &v3, &v3]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 3, "held": 0 })));
    assert_eq!(agent.directory(), dep.model);

    // The same gap arriving twice is held once.
    let v4 = dep.commit(vec![Op::DeleteUser { name: lp("petrov") }]);
    let v5 = dep.commit(vec![Op::PutUser(user("sidorov", "msk"))]);
    let (_, body) = agent.push(&[&v5, &v5]).await;
    assert_eq!(body, json!({ "version": 3, "held": 1 }));
    let (_, body) = agent.push(&[&v4]).await;
    assert_eq!(body, json!({ "version": 5, "held": 0 }));
    assert_eq!(agent.directory(), dep.model);
}

#[tokio::test]
async fn status_reports_contact_and_staleness() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![Op::PutSite(site("msk", Level::One))]);
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let agent = TestAgent::start(&write_config(root.path(), "agent", &cfg)).await;
    let s = agent.status().await;
    assert_eq!(s["last_contact"], json!(null));
    assert_eq!(s["staleness_secs"], json!(null));
    assert_eq!(s["stale"], true, "never contacted is stale");
    assert_eq!(
        (s["agent_id"].as_str(), s["site"].as_str(), s["level"].as_u64()),
        (Some("a1"), Some("msk"), Some(1))
    );
    assert_eq!(s["domain"], "example.org");
    assert_eq!(s["deployment"], dep.id.to_hex());

    // A push is contact with the server.
    agent.push(&[&v1]).await;
    let s = agent.status().await;
    assert!(s["last_contact"].as_i64().is_some(), "{s}");
    assert!(s["staleness_secs"].as_u64().unwrap() < 5);
    assert_eq!(s["stale"], false);
    assert_eq!(s["server_version"], 1);
    assert_eq!(s["version"], 1);
}
