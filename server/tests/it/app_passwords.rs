//! App passwords through the central server: a user makes them on his own page and sees each
//! once, revokes one alone; an administrator sees and revokes them on the user's page; the API
//! does the same; the history says what happened; and what reaches the agents is the digest of
//! the password shown, never the password itself.

use pochta_directory::LocalPart;
use reqwest::StatusCode;
use serde_json::json;

use crate::browser::Browser;
use crate::helpers::{AgentKeys, Backend};
use crate::sync::{pull_all, replay};
use crate::web::{PASSWORD, seeded};

/// The password on the page that answered its creation.
fn shown(body: &str) -> String {
    body.split("id=\"app-password\">")
        .nth(1)
        .expect("the new app password is shown")
        .split('<')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_makes_and_revokes_app_passwords_and_agents_get_only_digests() {
    let app = seeded(Backend::Sqlite).await;
    let keys = AgentKeys::from_enrollment(&app.enroll("msk").await);
    let mut him = Browser::new(&app, "ru");
    him.login("ivanov@example.org", PASSWORD).await;
    him.get("/me").await.has("Пароли приложений").has("Паролей приложений пока нет.");

    // A name is required; nothing is made without one.
    let r = him.post("/me/app-passwords", &[("label", "  ")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    r.has("Укажите название пароля приложения").has(r#"aria-invalid="true""#);
    let long = "т".repeat(65);
    assert!(him.post("/me/app-passwords", &[("label", &long)]).await.status.is_client_error());
    assert_eq!(app.ok("/users/ivanov/app-passwords").await, json!([]));

    let r = him.post("/me/app-passwords", &[("label", "Телефон")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.has("Пароль приложения «Телефон» создан").has("показан только один раз");
    let phone = shown(&r.body);
    assert_eq!(phone.len(), 24, "five groups of four: {phone}");
    let laptop = shown(&him.post("/me/app-passwords", &[("label", "Ноутбук")]).await.body);
    assert_ne!(phone, laptop);
    // Shown once: the page afterwards lists them by name only.
    him.get("/me").await.has("Телефон").has("Ноутбук").lacks(&phone).lacks(&laptop);

    // The agents' copy: the digests of exactly these passwords, and the passwords nowhere.
    let sets = pull_all(&app, &keys).await;
    let dir = replay(&sets);
    let apps = &dir.users[&LocalPart::parse("ivanov").unwrap()].app_passwords;
    assert_eq!(apps.len(), 2);
    assert!(apps.iter().any(|a| a.label == "Телефон" && a.digest.matches(&phone)));
    assert!(apps.iter().any(|a| a.label == "Ноутбук" && a.digest.matches(&laptop)));
    let wire = serde_json::to_string(&sets.iter().map(|s| &s.value.ops).collect::<Vec<_>>()).unwrap();
    assert!(!wire.contains(&phone) && !wire.contains(&laptop), "no password crosses the wire");
    // Nor does the API show them.
    let listed = app.ok("/users/ivanov/app-passwords").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains(&phone) && listed[0].get("password").is_none(), "{listed}");

    // The phone is lost: he revokes its password only.
    let id = apps.iter().find(|a| a.label == "Телефон").unwrap().id;
    let r = him.post(&format!("/me/app-passwords/{id}/revoke"), &[]).await;
    assert_eq!(r.location(), "/me?ok=app-password-revoked#app-passwords");
    him.get("/me?ok=app-password-revoked")
        .await
        .has("Пароль приложения отозван")
        .has(">Ноутбук</td>")
        .lacks(">Телефон</td>");
    let r = him.post(&format!("/me/app-passwords/{id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "twice: {}", r.body);
    r.has("Такого пароля приложения нет");
    assert_eq!(him.post("/me/app-passwords/abc/revoke", &[]).await.status, StatusCode::NOT_FOUND);
    // Changing his account password leaves the app passwords alone.
    let new = "Another-pass-2026";
    let r = him.post("/me/password", &[("current", PASSWORD), ("password", new), ("confirm", new)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.ok("/users/ivanov/app-passwords").await.as_array().unwrap().len(), 1);

    // Another user cannot touch his: the revoke is his own page's only.
    let mut other = Browser::new(&app, "en");
    let (s, _) = app.put("/users/petrov/password", json!({"password": "Petrov-pass-2026"})).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    other.login("petrov@example.org", "Petrov-pass-2026").await;
    other.get("/me").await;
    let laptop_id = app.ok("/users/ivanov/app-passwords").await[0]["id"].as_u64().unwrap();
    let r = other.post(&format!("/me/app-passwords/{laptop_id}/revoke"), &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "petrov has no such app password");
    assert_eq!(app.ok("/users/ivanov/app-passwords").await.as_array().unwrap().len(), 1);

    // The administrator sees it on the user's page and revokes it; the history tells both.
    let mut admin = Browser::admin(&app, "en").await;
    admin.get("/admin/users/ivanov").await.has("App passwords").has("Ноутбук").lacks(&laptop);
    let r = admin.post(&format!("/admin/users/ivanov/app-passwords/{laptop_id}/revoke"), &[]).await;
    assert_eq!(r.location(), "/admin/users/ivanov?ok=app-password-revoked#app-passwords");
    admin.get("/admin/users/ivanov").await.has("No app passwords yet.");
    admin
        .get("/admin/history")
        .await
        .has("App password “Телефон” made for ivanov")
        .has("App password “Ноутбук” of ivanov revoked")
        .has("(self-service)");
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/history").await.has("Для пользователя ivanov создан пароль приложения «Ноутбук»");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_makes_lists_and_revokes_app_passwords_and_refuses_bad_ones() {
    let app = seeded(Backend::Sqlite).await;
    let (s, made) = app.post("/users/ivanov/app-passwords", json!({"label": "Thunderbird"})).await;
    assert_eq!(s, StatusCode::CREATED, "{made}");
    assert_eq!(made["label"], "Thunderbird");
    assert_eq!(made["password"].as_str().unwrap().len(), 24);
    let id = made["id"].as_u64().unwrap();

    let (s, e) = app.post("/users/ivanov/app-passwords", json!({"label": ""})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("1 to 64 characters"), "{e}");
    let (s, _) = app.post("/users/ivanov/app-passwords", json!({"label": "x", "password": "mine"})).await;
    assert!(s.is_client_error(), "a password cannot be chosen: it is always made by the server");
    let (s, _) = app.post("/users/nobody/app-passwords", json!({"label": "x"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for i in 1..20 {
        let (s, e) = app.post("/users/ivanov/app-passwords", json!({"label": format!("device {i}")})).await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
    }
    let (s, e) = app.post("/users/ivanov/app-passwords", json!({"label": "one too many"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("more than 20"), "{e}");
    let before = app.version().await;

    let (s, _) = app.delete(&format!("/users/ivanov/app-passwords/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = app.delete(&format!("/users/ivanov/app-passwords/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(app.version().await, before + 1, "one change set, for the one revoke");
    let listed = app.ok("/users/ivanov/app-passwords").await;
    assert_eq!(listed.as_array().unwrap().len(), 19);
    assert!(listed.as_array().unwrap().iter().all(|a| a["id"].as_u64() != Some(id)));
}
