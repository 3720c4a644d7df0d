//! Concurrent edits: versions stay gap-free and each is used once, on both databases.

use std::collections::BTreeSet;
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{AgentKeys, Backend, spawn_app};
use crate::sync::{pull_all, replay};

both_backends!(concurrent_edits_get_contiguous_versions);
async fn concurrent_edits_get_contiguous_versions(backend: Backend) {
    let app = Arc::new(spawn_app(backend).await);
    app.site("msk", 1).await;
    let keys = AgentKeys::from_enrollment(&app.enroll("msk").await);
    let start = app.version().await;

    // 40 different users at once, plus 10 racing for one name (exactly one may win), all
    // edits in flight together.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let name = if i < 40 { format!("user{i:02}") } else { "contested".to_owned() };
            let body = json!({"name": name, "site": "msk"});
            let (s, v) = app.call(Method::POST, "/users", Some(body)).await;
            (name, s, v)
        }));
    }
    let mut created = BTreeSet::new();
    let mut contested = 0;
    for t in tasks {
        let (name, s, v) = t.await.unwrap();
        match s {
            StatusCode::CREATED => {
                assert!(created.insert(name.clone()), "{name} created twice");
                contested += usize::from(name == "contested");
            }
            StatusCode::CONFLICT => {
                assert_eq!(name, "contested", "{v}");
                assert!(v["error"].as_str().unwrap().contains("already exists"), "{v}");
            }
            other => panic!("{name}: {other} {v}"),
        }
    }
    assert_eq!(contested, 1, "exactly one of the racers wins");
    assert_eq!(created.len(), 41);
    let successes = created.len() as u64;

    // Final version = the edits before + one per success, and the log holds each version once.
    let head = app.version().await;
    assert_eq!(head, start + successes);
    let log = app.changes().await;
    let versions: Vec<u64> = log.iter().map(|c| c["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=head).rev().collect::<Vec<_>>(), "versions 1..=head, no gaps, no repeats");
    let made: BTreeSet<String> = log[..successes as usize]
        .iter()
        .map(|c| {
            assert_eq!(c["author"], "admin");
            assert_eq!(c["ops"].as_array().unwrap().len(), 1);
            c["ops"][0]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(made, created, "one set per created user");

    // The `changes` table as agents read it: the same versions, chained, and it replays to the
    // server's directory.
    let sets = pull_all(&app, &keys).await;
    assert_eq!(sets.len() as u64, head);
    let dir = replay(&sets);
    assert_eq!(dir, *app.state().publisher.current().0);
    assert_eq!(app.ok("/users?limit=100").await["total"], 41);
}
