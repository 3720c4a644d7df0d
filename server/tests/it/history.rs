//! The change log as the audit log: every successful edit is exactly one new version, recorded
//! with its author; it can be searched; password hashes never show.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::Browser;
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

/// Versions of `/changes` with this query, newest first.
async fn versions(app: &TestApp, query: &str) -> Vec<u64> {
    let v = app.ok(&format!("/changes?{query}")).await;
    v.as_array().unwrap().iter().map(|c| c["version"].as_u64().unwrap()).collect()
}

both_backends!(history_in_words_filtered_and_reverted);
async fn history_in_words_filtered_and_reverted(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await; // 1
    app.site("spb", 2).await; // 2
    app.user("petrov", "msk").await; // 3
    let (s, v) = app.patch("/users/petrov", json!({"display_name": "Пётр Петров"})).await; // 4
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.patch("/users/petrov", json!({"enabled": false})).await; // 5
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app.post("/users/petrov/move", json!({"site": "spb"})).await; // 6
    assert_eq!(s, StatusCode::OK, "{v}");
    app.group("staff", "list", &["chief@example.net"]).await; // 7
    let (s, v) = app.post("/groups/staff/members", json!({"address": "petrov@example.org"})).await; // 8
    assert!(s.is_success(), "{v}");
    app.user("sidorov", "msk").await; // 9

    // Old → new, in words, with links to what still exists, sites by their names.
    let mut en = Browser::admin(&app, "en").await;
    en.get("/admin/history")
        .await
        .has("petrov moved from Site msk to Site spb")
        .has("petrov disabled")
        .has("Full name: none → Пётр Петров")
        .has("petrov@example.org added to staff")
        .has("User petrov created at Site msk")
        .has("Mailing list staff created (1 members)")
        .has(r#"<a href="/admin/users/petrov">"#)
        .has(r#"<a href="/admin/groups/staff">"#)
        .has("Version 6")
        .lacks("saved");
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/history")
        .await
        .has("petrov: ящик перенесён с площадки «Site msk» на «Site spb»")
        .has("Пользователь petrov отключён")
        .has("ФИО: нет → Пётр Петров")
        .has("staff: добавлен участник petrov@example.org");

    // Filters: record, site (a move concerns both), type, author, dates; combined.
    assert_eq!(versions(&app, "object=petrov").await, [8, 6, 5, 4, 3]);
    assert_eq!(versions(&app, "object=PETROV@example.org").await, [8], "a member's address");
    assert_eq!(versions(&app, "site=spb").await, [6, 2]);
    assert_eq!(versions(&app, "site=msk").await, [9, 6, 5, 4, 3, 1]);
    assert_eq!(versions(&app, "kind=group").await, [8, 7]);
    assert_eq!(versions(&app, "kind=site&site=msk").await, [1]);
    assert_eq!(versions(&app, "author=admin").await.len(), 9);
    assert_eq!(versions(&app, "author=nobody").await, Vec::<u64>::new());
    assert_eq!(versions(&app, "object=petr_v").await, Vec::<u64>::new(), "_ is no wildcard");
    assert_eq!(versions(&app, "until=1000").await, Vec::<u64>::new());
    assert_eq!(versions(&app, "since=1000&object=sidorov").await, [9]);
    let (s, v) = app.get("/changes?kind=everything").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    en.get("/admin/history?object=petrov&kind=user&site=spb")
        .await
        .has("petrov moved from")
        .lacks("added to staff");
    let r = ru.get("/admin/history?since=31.12.2025").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.has("«31.12.2025» — не дата");

    // A revert that later changes would silently undo is refused, and says which.
    let before = app.version().await;
    let (s, v) = app.post("/changes/5/revert", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(v["error"].as_str().unwrap().contains("(versions 6)"), "{v}");
    en.get("/admin/history/5/revert").await.has("Later changes touch the same records (versions 6)");
    assert_eq!(app.version().await, before, "a refused revert changes nothing");
    let r = en.get("/admin/history/999/revert").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.has("There is no version 999");
    assert_eq!(en.get("/admin/history/x/revert").await.status, StatusCode::NOT_FOUND);

    // Reverting the newest change to the list: the confirmation says what will happen.
    let r = ru.get("/admin/history/8/revert").await;
    r.has("Отмена версии 8").has("staff: исключён участник petrov@example.org");
    let r = ru.post("/admin/history/8/revert", &[]).await;
    assert_eq!(r.location(), "/admin/history?ok=reverted");
    ru.get(r.location()).await.has("Изменения отменены").has("отменяет версию 8");
    let staff = app.ok("/groups/staff").await;
    assert_eq!(staff["members"], json!(["chief@example.net"]), "{staff}");
    assert_eq!(app.changes().await[0]["reverts"], 8);

    // Reverting the move is a move back: the site he leaves keeps his address working.
    let r = en.get("/admin/history/6/revert").await;
    r.has("petrov moved from Site spb to Site msk").has("letters already moved follow");
    let (s, v) = app.post("/changes/6/revert", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["reverts"], 6);
    let petrov = app.ok("/users/petrov").await;
    assert_eq!(petrov["site"], "msk", "{petrov}");
    assert_eq!(petrov["former_sites"], json!(["spb"]), "the old address keeps working: {petrov}");
    assert_eq!(petrov["enabled"], false, "only the move is undone: {petrov}");

    // Reverting a creation deletes; the revert of the revert brings it back.
    let (s, v) = app.post("/changes/9/revert", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let undo = v["version"].as_u64().unwrap();
    assert_eq!(app.get("/users/sidorov").await.0, StatusCode::NOT_FOUND);
    en.get("/admin/history").await.has("User sidorov deleted (lived at Site msk)");
    let (s, v) = app.post(&format!("/changes/{undo}/revert"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.ok("/users/sidorov").await["site"], "msk");
}
