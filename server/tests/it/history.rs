//! The change log as the audit log: every successful edit is exactly one new version, recorded
//! with its author; it can be searched; password hashes never show.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

/// Runs one edit that must succeed and checks that it made exactly one new version, the
/// newest in the log, by `author`.
async fn one_version(
    app: &TestApp,
    what: &str,
    author: &str,
    edit: impl Future<Output = (StatusCode, Value)>,
) {
    let before = app.version().await;
    let (status, body) = edit.await;
    assert!(status.is_success(), "{what}: {status} {body}");
    assert_eq!(app.version().await, before + 1, "{what} must make exactly one version");
    let log = app.changes().await;
    assert_eq!(log.len() as u64, before + 1, "{what}");
    assert_eq!(log[0]["version"], before + 1, "{what}");
    assert_eq!(log[0]["author"], author, "{what}");
    assert!(log[0]["bytes"].as_u64().unwrap() > 0);
    assert!(log[0]["at"].as_i64().unwrap() > 1_700_000_000);
}

both_backends!(every_edit_is_one_version_by_its_author);
async fn every_edit_is_one_version_by_its_author(backend: Backend) {
    let app = spawn_app(backend).await;
    let a = "admin";
    one_version(&app, "create site", a, app.post("/sites", json!({"id": "msk", "name": "M", "level": 1})))
        .await;
    one_version(&app, "create site 2", a, app.post("/sites", json!({"id": "spb", "name": "S", "level": 2})))
        .await;
    one_version(&app, "rename site", a, app.patch("/sites/spb", json!({"name": "Saint Petersburg"}))).await;
    one_version(
        &app,
        "create user",
        a,
        app.post("/users", json!({"name": "ivanov", "site": "msk", "password": "correct horse 1"})),
    )
    .await;
    one_version(&app, "create user 2", a, app.post("/users", json!({"name": "petrov", "site": "msk"}))).await;
    one_version(&app, "patch user", a, app.patch("/users/petrov", json!({"display_name": "P"}))).await;
    one_version(&app, "disable user", a, app.patch("/users/petrov", json!({"enabled": false}))).await;
    one_version(&app, "move user", a, app.post("/users/petrov/move", json!({"site": "spb"}))).await;
    one_version(
        &app,
        "create list",
        a,
        app.post("/groups", json!({"name": "staff", "kind": "list", "members": ["ivanov@example.org"]})),
    )
    .await;
    one_version(
        &app,
        "add member",
        a,
        app.post("/groups/staff/members", json!({"address": "petrov@example.org"})),
    )
    .await;
    one_version(&app, "remove member", a, app.delete("/groups/staff/members/petrov@example.org")).await;
    one_version(&app, "patch list", a, app.patch("/groups/staff", json!({"policy": "members"}))).await;
    one_version(&app, "delete user in a list", a, app.delete("/users/ivanov")).await;
    one_version(&app, "delete list", a, app.delete("/groups/staff")).await;

    // Another token, another author.
    let (s, v) = app
        .post("/tokens", json!({"admin": "admin", "password": app.init.password, "name": "provisioning"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap();
    let edit = app.call_as(token, Method::POST, "/users", Some(json!({"name": "kuznetsov", "site": "msk"})));
    one_version(&app, "edit with another token", "admin (provisioning)", edit).await;

    // An enrollment is one version too, by the agent.
    let before = app.version().await;
    let agent = app.enroll("msk").await;
    assert_eq!(app.version().await, before + 1);
    let last = &app.ok("/changes?limit=1").await[0];
    assert_eq!(last["author"], format!("agent {}", agent["agent_id"].as_str().unwrap()));

    // `before` pages back through the log.
    let page = app.ok("/changes?before=4&limit=2").await;
    let versions: Vec<u64> =
        page.as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [3, 2]);
}

both_backends!(history_search_and_hidden_passwords);
async fn history_search_and_hidden_passwords(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await;
    // Cyrillic names need the domain's consent.
    let (s, v) = app.put("/settings", json!({"unicode_names": true})).await;
    assert_eq!((s, &v["unicode_names"]), (StatusCode::OK, &json!(true)), "{v}");
    let (s, v) = app
        .post(
            "/users",
            json!({"name": "Иванов", "display_name": "Иван Иванов", "site": "msk", "password": "correct horse 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.user("i_petrov", "msk").await;
    app.user("ipetrov", "msk").await;
    app.group("staff", "list", &["i_petrov@example.org"]).await;
    let (s, _) = app.put("/users/ipetrov/password", json!({"password": "correct horse 2"})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let found = async |q: &str| -> Vec<u64> {
        let path = format!("/changes?q={}", percent(q));
        app.ok(&path).await.as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()).collect()
    };
    // By user name, as written and in any case, Cyrillic included.
    assert_eq!(found("Иванов").await, [3]);
    assert_eq!(found("иВАНОВ").await, [3]);
    assert_eq!(found("иван иванов").await, [3], "and by display name");
    // `_` and `%` are ordinary characters, not wildcards.
    assert_eq!(found("i_petrov").await, [6, 4]);
    assert_eq!(found("ipetrov").await, [7, 5]);
    assert_eq!(found("i%petrov").await, Vec::<u64>::new());
    // By author, and by site.
    assert_eq!(found("ADMIN").await.len(), 7);
    // Version 7 only set a password: it names the user, not his site.
    assert_eq!(found("msk").await, [5, 4, 3, 1]);
    assert_eq!(found("  ").await.len(), 7, "a blank search is no filter");
    assert_eq!(app.ok("/changes?q=msk&limit=2").await.as_array().unwrap().len(), 2);

    // Hashes travel to agents but never show in the history, nor can a search find them.
    let log = app.changes().await;
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains("argon2"), "a password hash leaked into the history: {text}");
    let with_password: Vec<&Value> = log
        .iter()
        .flat_map(|c| c["ops"].as_array().unwrap())
        .filter(|op| op.get("password").is_some() || op["op"] == "set_password")
        .collect();
    assert_eq!(with_password.len(), 2, "{text}");
    assert!(
        with_password.iter().all(|op| op["password"] == "(hidden)" || op["hash"] == "(hidden)"),
        "{text}"
    );
    assert_eq!(found("argon2").await, Vec::<u64>::new());
    assert_eq!(found("$argon2id$v=19").await, Vec::<u64>::new());
}

/// Percent-encodes a query value.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
