//! Invariant: a bad signature, a wrong deployment, a malformed, oversized, conflicting or
//! chain-breaking set is refused with a 4xx JSON error, and nothing of it applies.

use axum::http::StatusCode;
use pochta_directory::wire::{self, Signer};
use pochta_directory::{GroupKind, Level, Op, PostingPolicy};
use serde_json::{Value, json};

use crate::helpers::*;

/// A deployment at version 2 and an agent that has applied both sets.
async fn agent_at_v2(root: &std::path::Path) -> (Deployment, TestAgent) {
    let mut dep = Deployment::new();
    let v1 = dep.commit(vec![Op::PutSite(site("msk", Level::One)), Op::PutUser(user("ivanov", "msk"))]);
    let v2 = dep.commit(vec![Op::PutGroup(group(
        "team",
        GroupKind::List,
        &["ivanov@example.org", "friend@gmail.com"],
        PostingPolicy::Anyone,
    ))]);
    let cfg = config(&dep, "a1", "msk", dead_server(), "127.0.0.1:0".parse().unwrap());
    let dir = write_config(root, "agent", &cfg);
    let agent = TestAgent::start(&dir).await;
    let (status, body) = agent.push(&[&v1, &v2]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({ "version": 2, "held": 0 }));
    (dep, agent)
}

/// The version and the look-ups that must not change when a frame is refused.
async fn observed(agent: &TestAgent) -> (Value, Value, Value) {
    let status = agent.status().await;
    (
        status["version"].clone(),
        agent.resolve("ivanov@example.org").await,
        agent.resolve("team@example.org").await,
    )
}

async fn assert_refused(agent: &TestAgent, body: Vec<u8>, expect: StatusCode, needle: &str) {
    let before = observed(agent).await;
    let dir_before = agent.directory();
    let (status, json) = agent.push_body(body).await;
    assert_eq!(status, expect, "{json}");
    let msg = json["error"].as_str().unwrap_or_else(|| panic!("a JSON error: {json}"));
    assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    assert_eq!(observed(agent).await, before, "nothing changed");
    assert_eq!(agent.directory(), dir_before);
}

#[tokio::test]
async fn bad_frames_are_refused_and_change_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (mut dep, agent) = agent_at_v2(root.path()).await;
    assert_eq!(
        agent.resolve("ivanov@example.org").await,
        json!({ "local": { "msk": ["ivanov"] }, "external": [] })
    );
    let fork = dep.fork_at(1);
    let v3 = dep.commit(vec![Op::PutUser(user("petrov", "msk")), Op::DeleteUser { name: lp("ivanov") }]);

    // A byte of the compressed body flipped.
    let mut tampered = v3.clone();
    *tampered.last_mut().unwrap() ^= 0x01;
    assert_refused(&agent, wire::pack([tampered.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "signature")
        .await;

    // A byte of the signature flipped (it starts after the 30-byte header).
    let mut bad_sig = v3.clone();
    bad_sig[40] ^= 0x80;
    assert_refused(&agent, wire::pack([bad_sig.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "signature")
        .await;

    // A validly signed set of an old version with other content than the one applied.
    let mut other = fork;
    let old = other.commit(vec![Op::PutSite(site("spb", Level::Two))]);
    assert_refused(&agent, wire::pack([old.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "differs").await;

    // A set of another deployment (its own key and id).
    let mut foreign = Deployment::new();
    foreign.commit(vec![Op::PutSite(site("x", Level::One))]);
    foreign.commit(vec![Op::PutSite(site("y", Level::One))]);
    let f3 = foreign.commit(vec![Op::PutSite(site("z", Level::One))]);
    assert_refused(&agent, wire::pack([f3.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "deployment").await;

    // Our deployment id, but signed by someone else's key.
    let mut impostor = Deployment::with(Signer::generate(), dep.id);
    impostor.commit(vec![Op::PutSite(site("x", Level::One))]);
    impostor.commit(vec![Op::PutSite(site("y", Level::One))]);
    let i3 = impostor.commit(vec![Op::PutSite(site("z", Level::One))]);
    assert_refused(&agent, wire::pack([i3.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "signature").await;

    // A validly signed next set that does not continue our chain.
    let mut stranger = Deployment::with(Signer::from_hex(&dep.signer.to_hex()).unwrap(), dep.id);
    stranger.commit(vec![Op::PutSite(site("x", Level::One))]);
    stranger.commit(vec![Op::PutSite(site("y", Level::One))]);
    let s3 = stranger.commit(vec![Op::PutSite(site("z", Level::One))]);
    assert_refused(&agent, wire::pack([s3.as_slice()]), StatusCode::UNPROCESSABLE_ENTITY, "history").await;

    // Malformed: garbage, a truncated frame, a broken packing.
    assert_refused(
        &agent,
        wire::pack([b"not a frame at all, really".as_slice()]),
        StatusCode::UNPROCESSABLE_ENTITY,
        "frame",
    )
    .await;
    assert_refused(&agent, wire::pack([&v3[..60]]), StatusCode::UNPROCESSABLE_ENTITY, "truncated").await;
    assert_refused(&agent, vec![0, 0, 1, 0, 1, 2, 3], StatusCode::UNPROCESSABLE_ENTITY, "truncated").await;

    // A frame of 64 MiB + 1 byte (the packing says so, and the bytes are there).
    let mut huge = v3.clone();
    huge.resize(wire::MAX_FRAME + 1, 0);
    assert_refused(&agent, wire::pack([huge.as_slice()]), StatusCode::PAYLOAD_TOO_LARGE, "limit").await;
    drop(huge);
    // A body over the push limit, whatever it holds.
    assert_refused(&agent, vec![0u8; wire::MAX_FRAME + (2 << 20)], StatusCode::PAYLOAD_TOO_LARGE, "limit")
        .await;

    // After all that, the genuine set still applies.
    let (status, body) = agent.push(&[&v3]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 3, "held": 0 })));
    assert_eq!(agent.resolve("ivanov@example.org").await["code"], 550);
    assert_eq!(
        agent.resolve("petrov@example.org").await,
        json!({ "local": { "msk": ["petrov"] }, "external": [] })
    );
    assert_eq!(agent.directory(), dep.model);
}

#[tokio::test]
async fn frames_before_a_refused_one_stay_applied() {
    let root = tempfile::tempdir().unwrap();
    let (mut dep, agent) = agent_at_v2(root.path()).await;
    let v3 = dep.commit(vec![Op::PutUser(user("petrov", "msk"))]);
    let v4 = dep.commit(vec![Op::PutUser(user("sidorov", "msk"))]);
    let mut bad_v4 = v4.clone();
    *bad_v4.last_mut().unwrap() ^= 0xff;
    let (status, body) = agent.push(&[&v3, &bad_v4]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["version"], 3, "{body}");
    assert!(body["error"].as_str().unwrap().contains("frame 1 (version 4)"), "{body}");
    assert_eq!(agent.resolve("sidorov@example.org").await["code"], 550);
    assert_eq!(agent.resolve("petrov@example.org").await["local"]["msk"], json!(["petrov"]));
    let (status, body) = agent.push(&[&v4]).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "version": 4, "held": 0 })));
}

#[tokio::test]
async fn a_snapshot_or_a_wrong_kind_is_not_a_change_set() {
    let root = tempfile::tempdir().unwrap();
    let (dep, agent) = agent_at_v2(root.path()).await;
    let snap = dep.snapshot();
    let (status, body) = agent.push(&[&snap]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["version"], 2);
}

#[tokio::test]
async fn a_push_without_the_peer_secret_is_refused_and_changes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (mut dep, agent) = agent_at_v2(root.path()).await;
    let v3 = dep.commit(vec![Op::PutUser(user("petrov", "msk"))]);
    let before = observed(&agent).await;
    for auth in [None, Some("wrong-secret")] {
        let mut req = agent.client.post(agent.url("/sync/push")).body(wire::pack([v3.as_slice()]));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let json: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert!(json["error"].as_str().unwrap().contains("peer secret"), "{json}");
        assert_eq!(observed(&agent).await, before, "nothing changed");
    }
    let (status, _) = agent.push(&[&v3]).await;
    assert_eq!(status, StatusCode::OK, "with the secret it applies");
}

#[tokio::test]
async fn a_signed_set_with_control_characters_in_directory_text_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let (dep, agent) = agent_at_v2(root.path()).await;
    let mut forged = user("smuggler", "msk");
    forged.display_name = "Smuggler\r\nBcc: everyone@example.org".into();
    let frame = dep.seal_unchecked(vec![Op::PutUser(forged)]);
    let before = observed(&agent).await;
    let (status, json) = agent.push(&[&frame]).await;
    assert!(status.is_client_error(), "{status} {json}");
    assert!(json["error"].as_str().unwrap_or_default().contains("control characters"), "{json}");
    assert_eq!(observed(&agent).await, before, "nothing changed");
    assert!(!agent.directory().users.contains_key(&lp("smuggler")));
}
