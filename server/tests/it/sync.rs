//! Enrollment, and what agents pull: signed, hash-chained change sets and snapshots.

use std::time::{Duration, Instant};

use pochta_directory::wire::{ChainHash, ChangeSet, FORMAT, Snapshot, Verified};
use pochta_directory::{Directory, Domain};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{AgentKeys, Backend, DOMAIN, TestApp, assert_error, decode_code, spawn_app};

/// Pulls every change set from version 0, as a new agent would, and checks the chain: versions
/// 1..=head in order, each set naming the hash of the one before. Returns the sets.
pub(crate) async fn pull_all(app: &TestApp, keys: &AgentKeys) -> Vec<Verified<ChangeSet>> {
    let r = app.sync(&keys.secret, "changes?after=0").await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.headers["content-type"], "application/octet-stream");
    let head: u64 = r.headers["pochta-version"].to_str().unwrap().parse().unwrap();
    let sets = keys.open_all(&r.body);
    let versions: Vec<u64> = sets.iter().map(|s| s.value.version.0).collect();
    assert_eq!(versions, (1..=head).collect::<Vec<_>>(), "versions 1..=head, in order, each once");
    let mut prev = ChainHash::default();
    for s in &sets {
        assert_eq!(s.value.prev, prev, "set {} does not continue the chain", s.value.version);
        assert_eq!(s.value.deployment, keys.deployment);
        prev = s.hash;
    }
    sets
}

/// Replays change sets onto an empty directory, as an agent does.
pub(crate) fn replay(sets: &[Verified<ChangeSet>]) -> Directory {
    let mut dir = Directory::new(Domain::parse(DOMAIN).unwrap());
    for s in sets {
        dir.apply_all(&s.value.ops).unwrap_or_else(|e| panic!("set {} does not apply: {e}", s.value.version));
    }
    dir
}

async fn enroll_request(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let r = app
        .raw(Method::POST, "/agents/enroll", None, Some(("application/json", body.to_string().into())))
        .await;
    (r.status, r.json())
}

both_backends!(enrollment);
async fn enrollment(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await;
    let (s, v) = app.post("/sites/msk/enrollment", json!({})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["site"], "msk");
    assert!(v["expires_at"].as_i64().unwrap() > pochta_server::db::now());
    // The code carries the server's URL, its TLS pin and a one-time token.
    let code = decode_code(v["code"].as_str().unwrap());
    assert_eq!(code["server"], app.url);
    let cert = std::fs::read_to_string(app.dir.path().join("tls.crt")).unwrap();
    assert_eq!(code["tls_sha256"], pochta_transport::fingerprint_of_pem(&cert).unwrap());
    let token = code["token"].as_str().unwrap();
    let pin = "0123456789abcdef".repeat(4);
    let good = json!({"token": token, "url": "", "tls_sha256": pin, "format": FORMAT});

    // Refusals change nothing and do not use the code up.
    let version = app.version().await;
    let refusals = [
        (
            json!({"token": token, "url": "", "tls_sha256": "xyz", "format": FORMAT}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "64 hex",
        ),
        (
            json!({"token": token, "url": "http://x", "tls_sha256": pin, "format": FORMAT}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "https://",
        ),
        (
            json!({"token": token, "url": "", "tls_sha256": pin, "format": FORMAT + 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "format",
        ),
        (
            json!({"token": "made-up", "url": "", "tls_sha256": pin, "format": FORMAT}),
            StatusCode::UNAUTHORIZED,
            "unknown, used or expired",
        ),
        (json!({"token": token, "tls_sha256": pin}), StatusCode::UNPROCESSABLE_ENTITY, "format"),
    ];
    for (body, status, says) in refusals {
        let (s, v) = enroll_request(&app, body).await;
        assert_error(s, &v, status, says);
    }
    assert_eq!(app.version().await, version);

    let (s, agent) = enroll_request(&app, good.clone()).await;
    assert_eq!(s, StatusCode::OK, "{agent}");
    let id = agent["agent_id"].as_str().unwrap();
    assert!(id.starts_with("msk-"), "{id}");
    assert!(agent["secret"].as_str().unwrap().len() >= 40);
    assert_eq!((agent["site"].clone(), agent["level"].clone()), (json!("msk"), json!(1)));
    assert_eq!(agent["domain"], DOMAIN);
    let about = app.ok("/version").await;
    assert_eq!(agent["deployment"], about["deployment"]);
    assert_eq!(agent["deployment"], app.init.deployment);
    assert_eq!(agent["verify_key"], about["verify_key"]);
    assert_eq!(agent["verify_key"], app.init.verify_key);
    assert!(!agent["peer_secret"].as_str().unwrap().is_empty());
    assert_eq!(app.version().await, version + 1, "enrollment is one change set");

    // Once only.
    let (s, v) = enroll_request(&app, good).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "unknown, used or expired");
    assert_eq!(app.version().await, version + 1);

    // The site lists the agent's endpoint, and so does the directory the agents get.
    let site = app.ok("/sites/msk").await;
    assert_eq!(site["agents"], json!([{"id": id, "url": "", "tls_sha256": pin}]));
    let agents = app.ok("/agents").await;
    assert_eq!(agents.as_array().unwrap().len(), 1);
    assert_eq!(agents[0]["id"], id);
    assert_eq!(agents[0]["applied"], 0);
    assert_eq!(agents[0]["last_seen"], Value::Null);

    // A second agent for a level-2 site behind NAT.
    app.site("spb", 2).await;
    let second = app.enroll("spb").await;
    assert_eq!(second["level"], 2);
    assert_eq!(app.ok("/agents").await.as_array().unwrap().len(), 2);

    // Forgetting an agent: its endpoint leaves the directory, its secret stops working.
    let keys = AgentKeys::from_enrollment(&second);
    assert_eq!(app.sync(&keys.secret, "changes?after=0").await.status, StatusCode::OK);
    let before = app.version().await;
    let (s, _) = app.delete(&format!("/agents/{}", second["agent_id"].as_str().unwrap())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.version().await, before + 1);
    assert_eq!(app.ok("/sites/spb").await["agents"], json!([]));
    let r = app.sync(&keys.secret, "changes?after=0").await;
    assert_error(r.status, &r.json(), StatusCode::UNAUTHORIZED, "credentials");
}

both_backends!(sync_changes_and_snapshot);
async fn sync_changes_and_snapshot(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("hq", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    let agent = app.enroll("msk").await;
    let keys = AgentKeys::from_enrollment(&agent);
    let (s, v) =
        app.post("/users", json!({"name": "ivanov", "site": "msk", "password": "correct horse 1"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.user("petrov", "msk").await;
    app.user("sidorova", "spb").await;
    app.group("staff", "list", &["ivanov@example.org", "sidorova@spb.example.org", "x@other.net"]).await;
    app.post("/users/petrov/move", json!({"site": "spb"})).await;
    app.patch("/users/sidorova", json!({"enabled": false})).await;
    app.delete("/users/ivanov").await;
    app.post("/users", json!({"name": "ivanov", "site": "spb", "display_name": "The new one"})).await;
    let head = app.version().await;

    // Every set verifies, the chain is whole, and replaying it gives the server's directory.
    let sets = pull_all(&app, &keys).await;
    assert_eq!(sets.len() as u64, head);
    let replayed = replay(&sets);
    let (server_dir, server_version) = app.state().publisher.current();
    assert_eq!(server_version.0, head);
    assert_eq!(replayed, *server_dir);
    // Agents do get the password hash (they check SMTP and IMAP logins).
    let with_hash = sets.iter().flat_map(|s| &s.value.ops).any(|op| {
        matches!(op, pochta_directory::Op::PutUser(u) if u.password.as_ref().is_some_and(|p| p.0.starts_with("$argon2id$")))
    });
    assert!(with_hash);

    // The snapshot is the same directory at the same version, continuing the same chain.
    let r = app.sync(&keys.secret, "snapshot").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["pochta-version"], head.to_string().as_str());
    let snap = Snapshot::open(&r.body, &keys.verifier, &keys.deployment).expect("a snapshot that verifies");
    assert_eq!(snap.version.0, head);
    assert_eq!(snap.head, sets.last().unwrap().hash);
    assert_eq!(snap.directory, replayed);

    // Partial pulls continue where the agent is.
    let r = app.sync(&keys.secret, &format!("changes?after={}", head - 2)).await;
    let tail = keys.open_all(&r.body);
    assert_eq!(tail.iter().map(|s| s.value.version.0).collect::<Vec<_>>(), [head - 1, head]);
    assert_eq!(tail[0].value.prev, sets[sets.len() - 3].hash);
    let r = app.sync(&keys.secret, &format!("changes?after={head}")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0), "nothing new");
    // An agent ahead of the server is told so.
    let r = app.sync(&keys.secret, &format!("changes?after={}", head + 5)).await;
    assert_error(r.status, &r.json(), StatusCode::CONFLICT, "restored");
    let claimed = app.ok("/agents").await[0]["applied"].as_u64().unwrap();
    assert!(claimed <= head, "an agent ahead of the server shows as having applied {claimed} of {head}");
    let r = app.sync(&keys.secret, "changes").await;
    assert_error(r.status, &r.json(), StatusCode::BAD_REQUEST, "after");

    // Only enrolled agents may pull; an API token is not an agent secret, nor the reverse.
    for bad in [Some("not-a-secret"), None, Some(app.token.as_str())] {
        for path in ["changes?after=0", "snapshot"] {
            let r = app.raw(Method::GET, &format!("/sync/{path}"), bad, None).await;
            assert_error(r.status, &r.json(), StatusCode::UNAUTHORIZED, "credentials");
        }
    }
    let (s, v) = app.call_as(&keys.secret, Method::GET, "/users", None).await;
    assert_error(s, &v, StatusCode::UNAUTHORIZED, "credentials");

    // The server records what the agent says it has applied, and when it was last heard from.
    let before = app.ok("/agents").await[0].clone();
    assert_eq!(before["lag"], head - before["applied"].as_u64().unwrap());
    let r = app
        .client
        .get(app.api(&format!("/sync/changes?after={head}")))
        .bearer_auth(&keys.secret)
        .header("Pochta-Applied", head.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let seen = app.ok("/agents").await[0].clone();
    assert_eq!(seen["applied"], head);
    assert_eq!(seen["lag"], 0);
    assert!(seen["last_seen"].as_i64().unwrap() >= pochta_server::db::now() - 60);
    assert!(seen["silent_secs"].as_i64().unwrap() < 60);
    // It never moves back.
    app.sync(&keys.secret, "changes?after=1").await;
    assert_eq!(app.ok("/agents").await[0]["applied"], head);
}

both_backends!(long_poll);
async fn long_poll(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await;
    let keys = AgentKeys::from_enrollment(&app.enroll("msk").await);
    let head = app.version().await;

    // Nothing happens: the poll ends empty when the wait is over.
    let started = Instant::now();
    let r = app.sync(&keys.secret, &format!("changes?after={head}&wait=1")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    assert!(started.elapsed() >= Duration::from_millis(900), "the server waited");

    // An edit while an agent waits: the poll answers with that edit's set, well before its
    // 30-second wait is over.
    let poll = {
        let (client, url, secret) = (
            app.client.clone(),
            app.api(&format!("/sync/changes?after={head}&wait=30")),
            keys.secret.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client.get(url).bearer_auth(secret).send().await.unwrap();
            let status = r.status();
            (status, r.bytes().await.unwrap().to_vec(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.user("ivanov", "msk").await;
    let (status, body, took) = poll.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let sets = keys.open_all(&body);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].value.version.0, head + 1);
    assert!(
        matches!(&sets[0].value.ops[..], [pochta_directory::Op::PutUser(u)] if u.name.as_str() == "ivanov")
    );
    assert!(took < Duration::from_secs(20), "the poll waited {took:?} instead of answering at the edit");
}
