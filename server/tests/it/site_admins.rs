//! Per-site administrators: a regional administrator limited to Moscow sees and changes only
//! Moscow's users — in the browser, by typed URL and through the API — and none of the domain's
//! settings; an administrator of the whole domain sets and lifts the limit.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::Backend;
use crate::web::seeded;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_of_one_site_reaches_only_its_users() {
    let app = seeded(Backend::Sqlite).await;
    let mut root = Browser::admin(&app, "en").await;
    // Created for Moscow only; the list says so.
    root.get("/admin/admins").await;
    let r = root.post("/admin/admins", &[("name", "msk.it"), ("site.msk", "on")]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.body.split("id=\"new-password\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    root.get("/admin/admins").await.has("Whole domain").has(r#"<span class="tag">Site msk</span>"#);
    let r = root.post("/admin/admins", &[("name", "x.it"), ("site.nowhere", "on")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "an unknown site is refused: {}", r.body);

    let mut her = Browser::new(&app, "ru");
    assert_eq!(her.login("msk.it", &first).await.location(), "/login/password");
    her.get("/login/password").await;
    let own = "Moscow-only-2026";
    assert_eq!(
        her.post("/login/password", &[("password", own), ("confirm", own)]).await.location(),
        "/admin"
    );

    // The dashboard: her site only, no domain history.
    her.get("/admin")
        .await
        .has("/admin/sites/msk")
        .lacks("/admin/sites/spb")
        .lacks(r#"href="/admin/history""#);
    // The users list and the navigation: Moscow's users, no domain pages.
    her.get("/admin/users")
        .await
        .has("ivanov")
        .lacks("petrov")
        .lacks(r#"href="/admin/dns""#)
        .lacks(r#"href="/admin/admins""#);
    her.get("/admin/users/ivanov").await.has("Иван Иванов");
    her.get("/admin/users.csv").await.has("ivanov").lacks("petrov");
    // Another site's user is not there, by URL too, and cannot be changed.
    assert_eq!(her.get("/admin/users/petrov").await.status, StatusCode::NOT_FOUND);
    let r = her.post("/admin/users/petrov/password", &[("password", "Takeover-2026")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(her.post("/admin/users/petrov/delete", &[]).await.status, StatusCode::NOT_FOUND);
    assert!(app.ok("/users/petrov").await["site"] == "spb");
    // New users only at Moscow; moves only to sites of hers.
    her.get("/admin/users/new").await.has(r#"value="msk""#).lacks(r#"value="spb""#);
    let r = her
        .post(
            "/admin/users/new",
            &[("name", "sidorova"), ("display_name", "Анна Сидорова"), ("site", "spb"), ("enabled", "on")],
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    r.has("Площадка spb не входит в число ваших");
    let r = her
        .post(
            "/admin/users/new",
            &[("name", "sidorova"), ("display_name", "Анна Сидорова"), ("site", "msk"), ("enabled", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(her.post("/admin/users/ivanov/move", &[("site", "spb")]).await.status.is_client_error());
    assert_eq!(app.ok("/users/ivanov").await["site"], "msk");
    // The domain's pages and settings are not hers.
    for path in ["/admin/dns", "/admin/history", "/admin/admins", "/admin/logins", "/admin/groups/new"] {
        let r = her.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        r.has("только администратору всего домена");
    }
    assert_eq!(her.get("/admin/sites/spb").await.status, StatusCode::FORBIDDEN);
    her.get("/admin/sites").await.has("/admin/sites/msk").lacks("/admin/sites/spb");
    // A list: she adds and removes her own users, nobody else.
    let r = her.post("/admin/groups/staff/members", &[("member", "sidorova@example.org")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = her.post("/admin/groups/staff/members/remove", &[("member", "petrov@example.org")]).await;
    assert!(r.status.is_client_error(), "{}", r.body);
    r.has("petrov@example.org не относится к вашим пользователям");
    // The import: a line for another site names its line.
    let r = her
        .post(
            "/admin/import",
            &[("csv", "name,display_name,site\nkozlov,Пётр Козлов,spb\n"), ("action", "preview")],
        )
        .await;
    r.has("не входит в число ваших");

    // The API, with her token: the same limits.
    let (s, v) = app.post("/tokens", json!({"admin": "msk.it", "password": own, "name": "script"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, v) = app.call_as(&token, reqwest::Method::GET, "/users", None).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> =
        v["items"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ivanov", "sidorova"]);
    let (s, _) = app.call_as(&token, reqwest::Method::GET, "/users/petrov", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app.call_as(&token, reqwest::Method::DELETE, "/sites/gw", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = app.call_as(&token, reqwest::Method::GET, "/changes", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // She cannot widen her own reach; the whole domain's administrator lifts the limit.
    assert_eq!(her.post("/admin/admins/msk.it/sites", &[]).await.status, StatusCode::FORBIDDEN);
    let r = root.post("/admin/admins/admin/sites", &[("site.msk", "on")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "nobody limits themselves");
    let r = root.post("/admin/admins/msk.it/sites", &[]).await;
    assert_eq!(r.location(), "/admin/admins?ok=admin-sites-saved#msk.it");
    her.get("/admin/users/petrov").await.has("petrov");
    her.get("/admin/dns").await;
}
