//! A restart from the same data folder: the same version, the same directory, the same chain,
//! and edits continue where they stopped.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{AgentKeys, Backend, spawn_app};
use crate::sync::{pull_all, replay};

both_backends!(restart_keeps_everything);
async fn restart_keeps_everything(backend: Backend) {
    let mut app = spawn_app(backend).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    let (s, v) = app
        .post(
            "/users",
            json!({"name": "Ivanov", "display_name": "Иван", "site": "msk", "password": "correct horse 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.user("petrov", "msk").await;
    app.post("/users/petrov/move", json!({"site": "spb"})).await;
    app.patch("/users/petrov", json!({"enabled": false})).await;
    app.group("staff", "list", &["ivanov@example.org", "petrov@msk.example.org", "x@other.net"]).await;
    app.patch("/groups/staff", json!({"policy": "members", "description": "All of us"})).await;
    let keys = AgentKeys::from_enrollment(&app.enroll("spb").await);

    let version = app.version().await;
    let (dir, _) = app.state().publisher.current();
    let users = app.ok("/users").await;
    let groups = app.ok("/groups").await;
    let sites = app.ok("/sites").await;
    let history = app.changes().await;

    app.restart().await;
    assert_eq!(app.version().await, version);
    assert_eq!(*app.state().publisher.current().0, *dir, "the directory read back from the database");
    assert_eq!(app.ok("/users").await, users);
    assert_eq!(app.ok("/groups").await, groups);
    assert_eq!(app.ok("/sites").await, sites);
    assert_eq!(app.changes().await, history);
    // The token and the agent's secret still work; the chain is whole.
    let sets = pull_all(&app, &keys).await;
    assert_eq!(replay(&sets), *dir);

    // Edits continue at version + 1, chained onto the last set from before the restart.
    app.user("sidorova", "spb").await;
    assert_eq!(app.version().await, version + 1);
    let sets = pull_all(&app, &keys).await;
    assert_eq!(sets.len() as u64, version + 1);
    assert_eq!(app.ok("/users/sidorova").await["site"], "spb");
    assert_eq!(replay(&sets), *app.state().publisher.current().0);

    // And once more, after a restart right after that edit.
    app.restart().await;
    assert_eq!(app.version().await, version + 1);
    assert_eq!(app.ok("/users").await["total"], 3);
}
