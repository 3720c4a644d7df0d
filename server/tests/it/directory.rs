//! Sites, users, aliases and lists through the API, as an administrator uses them.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, assert_error, spawn_app};

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_owned()).collect()
}

both_backends!(sites_levels_and_mx);
async fn sites_levels_and_mx(backend: Backend) {
    let app = spawn_app(backend).await;
    for (id, level) in [("hq", 0), ("msk", 1), ("nsk", 1), ("spb", 2)] {
        let (s, v) =
            app.post("/sites", json!({"id": id, "name": format!("Office {id}"), "level": level})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["id"], id);
        assert_eq!(v["level"], level);
        assert_eq!(v["domain"], format!("{id}.example.org"));
        assert_eq!(v["agents"], json!([]));
    }
    assert_eq!(app.version().await, 4);
    app.user("ivanov", "nsk").await;

    // Level 0 first; then level 1 by active users (nsk has one); level 2 is no MX.
    let sites = app.ok("/sites").await;
    let mx: Vec<(String, Value)> = sites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["mx_priority"].clone()))
        .collect();
    assert_eq!(
        mx,
        vec![
            ("hq".into(), json!(10)),
            ("msk".into(), json!(30)),
            ("nsk".into(), json!(20)),
            ("spb".into(), Value::Null)
        ]
    );

    // Rename; a level-0 site cannot hold users; a site with users cannot be deleted.
    let (s, v) = app.patch("/sites/msk", json!({"name": "Moscow"})).await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("Moscow")));
    let (s, v) = app.patch("/sites/nsk", json!({"level": 0})).await;
    assert_error(s, &v, StatusCode::CONFLICT, "still has 1 users");
    let (s, v) = app.delete("/sites/nsk").await;
    assert_error(s, &v, StatusCode::CONFLICT, "move them first");
    let (s, v) = app.delete("/sites/spb").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, v) = app.get("/sites/spb").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no site 'spb'");
    assert_eq!(app.version().await, 4 + 1 + 1 + 1);
}

both_backends!(users_create_list_search_paginate);
async fn users_create_list_search_paginate(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("hq", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;

    // One user with a password (Argon2 work), the rest without.
    let (s, v) = app
        .post(
            "/users",
            json!({"name": "Ivanov", "display_name": "Ivan Ivanov", "site": "msk", "password": "correct horse 1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "Ivanov");
    assert_eq!(v["address"], "Ivanov@example.org");
    assert_eq!(v["local_address"], "Ivanov@msk.example.org");
    assert_eq!(v["has_password"], true);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["former_sites"], json!([]));
    assert!(v.get("password").is_none(), "the API never shows a hash: {v}");

    for (name, display, site) in [
        ("petrov", "Pyotr Petrov", "msk"),
        ("sidorova", "Maria Sidorova", "spb"),
        ("smirnov", "Анна Смирнова", "spb"),
        ("kuznetsov", "", "msk"),
    ] {
        let (s, v) = app.post("/users", json!({"name": name, "display_name": display, "site": site})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["has_password"], false);
    }
    let (s, v) = app.post("/users", json!({"name": "nomail", "site": "hq"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "level 0");
    let (s, v) = app.get("/users/ivanov").await;
    assert_eq!((s, v["display_name"].as_str()), (StatusCode::OK, Some("Ivan Ivanov")), "names fold case");

    let all = app.ok("/users").await;
    assert_eq!(all["total"], 5);
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    // Search by name or display name, case-insensitively, also in Cyrillic.
    assert_eq!(names(&app.ok("/users?q=IVAN").await), ["Ivanov"]);
    assert_eq!(names(&app.ok("/users?q=maria").await), ["sidorova"]);
    assert_eq!(names(&app.ok("/users?q=%D1%81%D0%BC%D0%B8%D1%80%D0%BD").await), ["smirnov"], "q=смирн");
    assert_eq!(app.ok("/users?q=nobody-at-all").await["total"], 0);
    // Filter by site, alone and with a search.
    let spb = app.ok("/users?site=spb").await;
    assert_eq!(
        (spb["total"].clone(), names(&spb)),
        (json!(2), vec!["sidorova".to_owned(), "smirnov".to_owned()])
    );
    assert_eq!(names(&app.ok("/users?site=msk&q=petr").await), ["petrov"]);
    assert_eq!(app.ok("/users?site=hq").await["total"], 0);

    // Pages: total counts every match; pages do not overlap and cover everything.
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let page = app.ok(&format!("/users?offset={offset}&limit=2")).await;
        assert_eq!(page["total"], 5);
        assert_eq!(page["offset"], offset);
        seen.extend(names(&page));
    }
    assert_eq!(seen, names(&all));
    let beyond = app.ok("/users?offset=10&limit=2").await;
    assert_eq!((beyond["total"].clone(), names(&beyond).len()), (json!(5), 0));
    let site_page = app.ok("/users?site=msk&offset=1&limit=1").await;
    assert_eq!((site_page["total"].clone(), names(&site_page)), (json!(3), vec!["kuznetsov".to_owned()]));
}

both_backends!(users_edit_disable_move_password);
async fn users_edit_disable_move_password(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("hq", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    app.user("ivanov", "msk").await;
    app.user("petrov", "msk").await;
    let mut v0 = app.version().await;

    // Patch.
    let (s, v) = app.patch("/users/ivanov", json!({"display_name": "  Ivan Ivanov  "})).await;
    assert_eq!((s, v["display_name"].as_str()), (StatusCode::OK, Some("Ivan Ivanov")), "{v}");
    assert_eq!(app.version().await, v0 + 1);
    v0 += 1;
    // The same patch again changes nothing, so it makes no version.
    let (s, _) = app.patch("/users/ivanov", json!({"display_name": "Ivan Ivanov"})).await;
    assert_eq!((s, app.version().await), (StatusCode::OK, v0));

    // Disable: the user stays, but gets no mail and does not count as active.
    let (s, v) = app.patch("/users/petrov", json!({"enabled": false})).await;
    assert_eq!((s, v["enabled"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
    assert_eq!(app.ok("/sites/msk").await["active_users"], 1);
    assert_eq!(app.ok("/sites/msk").await["users"], 2);
    let r = app.ok("/resolve?rcpt=petrov@example.org&internal=true").await;
    assert_eq!((r["code"].clone(), r["status"].clone()), (json!(550), json!("5.2.1")), "{r}");
    let (s, _) = app.patch("/users/petrov", json!({"enabled": true})).await;
    assert_eq!(s, StatusCode::OK);
    v0 += 2;

    // Move: home and local address change, the former site is remembered and its address
    // keeps working.
    let (s, v) = app.post("/users/ivanov/move", json!({"site": "spb"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["site"], "spb");
    assert_eq!(v["local_address"], "ivanov@spb.example.org");
    assert_eq!(v["former_sites"], json!(["msk"]));
    assert_eq!(app.version().await, v0 + 1);
    v0 += 1;
    let r = app.ok("/resolve?rcpt=ivanov@msk.example.org&internal=true").await;
    assert_eq!(r["sites"], json!({"spb": ["ivanov"]}), "{r}");
    assert_eq!(app.ok("/users?site=spb").await["total"], 1);
    // Moving to a level-0 site or to no site is refused and changes nothing.
    let (s, v) = app.post("/users/ivanov/move", json!({"site": "hq"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "level 0");
    let (s, v) = app.post("/users/ivanov/move", json!({"site": "nowhere"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "no site 'nowhere'");
    assert_eq!(app.ok("/users/ivanov").await["site"], "spb");
    assert_eq!(app.version().await, v0);
    // Moving back home drops the site from the former ones.
    let (_, v) = app.post("/users/ivanov/move", json!({"site": "msk"})).await;
    assert_eq!((v["site"].clone(), v["former_sites"].clone()), (json!("msk"), json!(["spb"])));
    v0 += 1;

    // Passwords: too short is refused with a JSON error; a good one is stored as a hash.
    let (s, v) = app.put("/users/petrov/password", json!({"password": "short1"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "at least 10 characters");
    let (s, v) = app.put("/users/petrov/password", json!({"password": "onlyletters"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "only letters");
    assert_eq!(app.ok("/users/petrov").await["has_password"], false);
    assert_eq!(app.version().await, v0);
    let (s, v) = app.put("/users/petrov/password", json!({"password": "correct horse 2"})).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(app.ok("/users/petrov").await["has_password"], true);
    assert_eq!(app.version().await, v0 + 1);
    let (s, v) = app.put("/users/nobody/password", json!({"password": "correct horse 3"})).await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no user 'nobody'");
    let dir = app.state().publisher.current().0;
    let hash = &dir.users.values().find(|u| u.name.as_str() == "petrov").unwrap().password;
    assert!(hash.as_ref().unwrap().verify("correct horse 2"), "the stored hash checks the password");
}

both_backends!(groups_members_policy_expansion);
async fn groups_members_policy_expansion(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    app.user("ivanov", "msk").await;
    app.user("petrov", "msk").await;
    app.user("sidorova", "spb").await;

    // An alias with a user and a user's local address; a list with an alias, a user and an
    // outside address. Defaults: aliases take mail from anyone, lists from internal senders.
    let sales = app.group("sales", "alias", &["ivanov@example.org", "sidorova@spb.example.org"]).await;
    assert_eq!(sales["policy"], "anyone");
    assert_eq!(sales["address"], "sales@example.org");
    let (s, staff) = app
        .post(
            "/groups",
            json!({"name": "staff", "kind": "list", "description": "Everybody",
                   "members": ["sales@example.org", "petrov@example.org", "partner@other.net"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{staff}");
    assert_eq!(staff["policy"], "internal");
    assert_eq!(staff["description"], "Everybody");
    let expected = json!({"sites": {"msk": ["ivanov", "petrov"], "spb": ["sidorova"]}, "external": ["partner@other.net"]});
    assert_eq!(staff["expands_to"], expected);
    assert_eq!(app.ok("/groups/staff").await["expands_to"], expected);
    assert_eq!(app.ok("/groups").await.as_array().unwrap().len(), 2);

    // Unknown internal members are refused, outside ones accepted as given.
    let v0 = app.version().await;
    for ghost in
        ["ghost@example.org", "ghost@msk.example.org", "petrov@spb.example.org", "petrov@mks.example.org"]
    {
        let (s, v) = app.post("/groups", json!({"name": "bad", "kind": "list", "members": [ghost]})).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, ghost);
        let (s, v) = app.post("/groups/staff/members", json!({"address": ghost})).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, ghost);
        let (s, v) = app.patch("/groups/sales", json!({"members": [ghost]})).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, ghost);
    }
    assert_eq!(app.version().await, v0);

    // A cycle (sales -> staff -> sales) expands once, one copy per mailbox.
    let (s, v) = app.post("/groups/sales/members", json!({"address": "staff@example.org"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(app.ok("/groups/sales").await["expands_to"], expected);
    // Adding a member twice changes nothing.
    let v1 = app.version().await;
    app.post("/groups/sales/members", json!({"address": "staff@example.org"})).await;
    assert_eq!(app.version().await, v1);

    // Posting policy, as the agents will apply it.
    let outsider = "/resolve?rcpt=staff@example.org&from=someone@other.net";
    assert_eq!(app.ok(outsider).await["code"], 550);
    let (s, v) = app.patch("/groups/staff", json!({"policy": "anyone"})).await;
    assert_eq!((s, v["policy"].as_str()), (StatusCode::OK, Some("anyone")));
    assert_eq!(app.ok(outsider).await, expected);
    app.patch("/groups/staff", json!({"policy": "members"})).await;
    let r = app.ok("/resolve?rcpt=staff@example.org&from=petrov@msk.example.org&internal=true").await;
    assert_eq!(r, expected, "a member may post");
    let r = app.ok("/resolve?rcpt=staff@example.org&from=nobody@example.org&internal=true").await;
    assert_eq!((r["code"].clone(), r["status"].clone()), (json!(550), json!("5.7.1")), "{r}");
    // A members-only list shows its expansion; an empty one shows nobody (and can be made).
    assert_eq!(app.ok("/groups/staff").await["expands_to"], expected);
    let (s, v) = app.post("/groups", json!({"name": "board", "kind": "list", "policy": "members"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["expands_to"], json!({"sites": {}, "external": []}));

    // Names: users, aliases and lists share one namespace; `all` is reserved.
    let (s, v) = app.post("/users", json!({"name": "Staff", "site": "msk"})).await;
    assert_error(s, &v, StatusCode::CONFLICT, "taken by a list");
    let (s, v) = app.post("/groups", json!({"name": "ivanov", "kind": "alias"})).await;
    assert_error(s, &v, StatusCode::CONFLICT, "taken by a user");
    let (s, v) = app.post("/groups", json!({"name": "sales", "kind": "list"})).await;
    assert_error(s, &v, StatusCode::CONFLICT, "already exists");
    let (s, v) = app.post("/groups", json!({"name": "all", "kind": "list"})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "reserved");

    // Members leave one by one.
    let (s, v) = app.delete("/groups/staff/members/partner@other.net").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["expands_to"]["external"], json!([]));
    let (s, v) = app.delete("/groups/staff/members/partner@other.net").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "not a member");

    // Deleting a user takes him out of every group, in the same version.
    let before = app.version().await;
    let (s, _) = app.delete("/users/sidorova").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.version().await, before + 1);
    let sales = app.ok("/groups/sales").await;
    assert_eq!(sales["members"], json!(["ivanov@example.org", "staff@example.org"]));
    assert_eq!(sales["expands_to"]["sites"], json!({"msk": ["ivanov", "petrov"]}));
    let last = &app.ok("/changes?limit=1").await[0];
    assert_eq!(last["version"], before + 1);
    let ops: Vec<&str> = last["ops"].as_array().unwrap().iter().map(|o| o["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["delete_user", "put_group"]);
    let (s, v) = app.get("/users/sidorova").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no user");
    assert_eq!(app.ok("/resolve?rcpt=sidorova@spb.example.org").await["status"], "5.1.1");
    let (s, v) = app.delete("/users/sidorova").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no user");

    // Deleting a group takes it out of the groups that contain it, in the same version.
    let before = app.version().await;
    let (s, _) = app.delete("/groups/staff").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(app.version().await, before + 1);
    assert_eq!(app.ok("/groups/sales").await["members"], json!(["ivanov@example.org"]));
    let (s, v) = app.get("/groups/staff").await;
    assert_error(s, &v, StatusCode::NOT_FOUND, "no alias or list 'staff'");
    let left: BTreeSet<String> = app
        .ok("/groups")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(left, BTreeSet::from(["board".to_owned(), "sales".to_owned()]));
}

both_backends!(resolve_addresses);
async fn resolve_addresses(backend: Backend) {
    let app = spawn_app(backend).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    app.user("ivanov", "msk").await;
    app.user("sidorova", "spb").await;
    app.user("off", "spb").await;
    app.patch("/users/off", json!({"enabled": false})).await;

    let everyone = json!({"sites": {"msk": ["ivanov"], "spb": ["sidorova"]}, "external": []});
    assert_eq!(app.ok("/resolve?rcpt=all@example.org&internal=true").await, everyone);
    assert_eq!(
        app.ok("/resolve?rcpt=ALL@spb.example.org&internal=true").await,
        json!({"sites": {"spb": ["sidorova"]}, "external": []})
    );
    // `all@` is for internal senders only.
    let r = app.ok("/resolve?rcpt=all@example.org&from=x@other.net").await;
    assert_eq!((r["code"].clone(), r["status"].clone()), (json!(550), json!("5.7.1")), "{r}");
    // Unknown here: 550 5.1.1; another domain: not ours, 554 5.7.1.
    let r = app.ok("/resolve?rcpt=nobody@example.org").await;
    assert_eq!((r["code"].clone(), r["status"].clone()), (json!(550), json!("5.1.1")), "{r}");
    let r = app.ok("/resolve?rcpt=someone@other.net").await;
    assert_eq!((r["code"].clone(), r["status"].clone()), (json!(554), json!("5.7.1")), "{r}");
    // A user is reached at his official address and at his site's, not at another site's.
    assert_eq!(app.ok("/resolve?rcpt=Ivanov@msk.example.org").await["sites"], json!({"msk": ["ivanov"]}));
    assert_eq!(app.ok("/resolve?rcpt=ivanov@spb.example.org").await["code"], 550);
    // A bad address is a JSON error.
    let (s, v) = app.get("/resolve?rcpt=not-an-address").await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "rcpt");
    let (s, v) = app.get("/resolve").await;
    assert_error(s, &v, StatusCode::BAD_REQUEST, "rcpt");
}
