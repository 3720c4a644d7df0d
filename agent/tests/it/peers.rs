//! Invariant: any agent can catch up from a peer, since the signature, not the source, is what
//! it trusts.

use axum::http::StatusCode;
use pochta_agent::App;
use pochta_directory::{Level, Op};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn agent_catches_up_from_a_peer_while_the_server_is_down() {
    let root = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new();

    // Agent B (site spb) first, to learn its URL and pin for the directory.
    let cfg_b = config(&dep, "b1", "spb", dead_server(), "127.0.0.1:0".parse().unwrap());
    let dir_b = write_config(root.path(), "b", &cfg_b);
    let app_b = App::build(&dir_b).await.unwrap();
    let b_url = format!("https://127.0.0.1:{}", app_b.port());
    let b_pin = app_b.fingerprint().to_owned();
    drop(app_b);
    let mut cfg_b = cfg_b;
    cfg_b.listen = format!("127.0.0.1:{}", b_url.rsplit(':').next().unwrap()).parse().unwrap();
    cfg_b.advertise_url = b_url.clone();
    cfg_b.save(&dir_b).unwrap();
    let b = TestAgent::start(&dir_b).await;

    let v1 = dep.commit(vec![
        Op::PutSite(site("msk", Level::One)),
        Op::PutSite(site_with_agent("spb", "b1", &b_url, &b_pin)),
        Op::PutUser(user("ivanov", "msk")),
    ]);
    for i in 0..4 {
        dep.commit(vec![Op::PutUser(user(&format!("u{i}"), "spb"))]);
    }
    let all: Vec<&[u8]> = dep.frames.iter().map(Vec::as_slice).collect();
    let (status, body) = b.push(&all).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 5, "held": 0 })));

    // Peers need the deployment's peer secret.
    let resp = b.client.get(b.url("/sync/changes?after=0")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = b.client.get(b.url("/sync/changes?after=0")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Agent A (site msk) knows B from the directory (v1), then sees a gap: v5 without 2..4.
    let cfg_a = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let a = TestAgent::start(&write_config(root.path(), "a", &cfg_a)).await;
    assert_eq!(a.push(&[&v1]).await.1, json!({ "version": 1, "held": 0 }));
    let (status, body) = a.push(&[dep.frame(5)]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 1, "held": 1 })));
    a.wait_version(5, 10).await;
    assert_eq!(a.directory(), dep.model);
    assert_eq!(a.running().replica().held(), 0);
}
