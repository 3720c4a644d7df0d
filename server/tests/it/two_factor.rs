//! Two-factor login for administrators, as an administrator and their phone see it: set up
//! from one's account page (QR code, then a code from the app), then the password leads to a
//! code page; a code works once, a recovery code works once, the API asks for the code too,
//! another administrator can turn it off for a lost phone, and `recover-admin` regains access.

use reqwest::StatusCode;
use serde_json::json;
use totp_rs::{Builder, Secret};

use crate::browser::Browser;
use crate::helpers::{Backend, spawn_app};

/// The code an authenticator app shows at `t` for `secret` (base32).
pub(crate) fn code_at(secret: &str, t: i64) -> String {
    let secret = Secret::try_from_base32(secret).expect("a base32 key");
    Builder::new().with_secret(secret).build().expect("a key apps take").generate(t as u64).to_string()
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The text of the element with this id (a `<pre>` or `<code>`).
fn text_of(body: &str, id: &str) -> String {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {body}"));
    let rest = &body[start..];
    rest[rest.find('>').unwrap() + 1..rest.find("</").unwrap()].to_owned()
}

/// Logs in with the password, which leads to the code page, and opens it (as a browser would).
async fn password_step(b: &mut Browser, login: &str, password: &str) {
    assert_eq!(b.login(login, password).await.location(), "/login/code");
    b.get("/login/code").await.has("name=\"code\"");
}

fn secret_field(body: &str) -> String {
    body.split("name=\"secret\" value=\"")
        .nth(1)
        .expect("the key travels in the form")
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_login_for_administrators() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut boss = Browser::admin(&app, "ru").await;
    boss.get("/admin/admins").await;
    let r = boss.post("/admin/admins", &[("name", "e.petrova")]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let password = text_of(&r.body, "new-password");

    // Her account page: off, and how to set it up. The header's name leads there.
    // She chooses a password of her own at the first login.
    let mut her = Browser::new(&app, "en");
    assert_eq!(her.login("e.petrova", &password).await.location(), "/login/password");
    her.get("/login/password").await;
    let password = "Petrova-own-2026".to_owned();
    let r = her.post("/login/password", &[("password", &password), ("confirm", &password)]).await;
    assert_eq!(r.location(), "/admin");
    her.get("/admin/account")
        .await
        .has("Two-factor login")
        .has("<span class=\"tag\">Off</span>")
        .has(r#"href="/admin/account/two-factor""#)
        .has(r#"<a class="who" href="/admin/account""#);
    let r = her.get("/admin/account/two-factor").await;
    r.has("Scan this QR code").has("<svg").has(r#"autocomplete="one-time-code""#);
    let secret = secret_field(&r.body);
    assert_eq!(secret.len(), 32, "a 160-bit key");
    assert_eq!(text_of(&r.body, "totp-key").replace(' ', ""), secret, "the key to type by hand is the same");
    // Each visit makes a new key until one is confirmed.
    assert_ne!(secret_field(&her.get("/admin/account/two-factor").await.body), secret);

    // A wrong code changes nothing and keeps the same key on the page.
    let r = her
        .post("/admin/account/two-factor", &[("secret", &secret), ("code", &code_at(&secret, now() - 3600))])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("That code is not right").has(&secret).has(r#"aria-invalid="true""#);
    her.get("/admin/account").await.has("<span class=\"tag\">Off</span>");
    // The code of the step before (a phone's clock a little behind) turns it on.
    let r = her
        .post("/admin/account/two-factor", &[("secret", &secret), ("code", &code_at(&secret, now() - 30))])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.has("Two-factor login is on").has("Shown only now");
    let recovery: Vec<String> = text_of(&r.body, "recovery-codes").lines().map(str::to_owned).collect();
    assert_eq!(recovery.len(), 10, "{recovery:?}");
    her.get("/admin/account").await.has("10 recovery codes left.").lacks("id=\"recovery-codes\"");
    boss.get("/admin/admins")
        .await
        .has("Двухфакторный вход")
        .has(r#"action="/admin/admins/e.petrova/totp-off""#)
        .lacks(r#"action="/admin/admins/admin/totp-off""#);

    // From now on the password alone leads to the code page, which no admin page trusts.
    let mut phone = Browser::new(&app, "ru");
    let r = phone.login("e.petrova", &password).await;
    assert_eq!(r.location(), "/login/code");
    let r = phone.get("/admin/users").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login/code?next=/admin/users");
    phone
        .get("/login/code")
        .await
        .has("Код из приложения")
        .has("кодов восстановления")
        .lacks("/admin/users\"");
    let r = phone.post("/login/code", &[("code", "123")]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    r.has("Код неверный или уже использован");
    let code = code_at(&secret, now());
    let r = phone.post("/login/code", &[("code", &code), ("next", "/admin/users")]).await;
    assert_eq!(r.location(), "/admin/users", "{}", r.body);
    phone.get("/admin/users").await.has("<h1");

    // The same code seen over her shoulder does not work a second time.
    let mut thief = Browser::from_address(&app, "en", "127.0.0.2");
    password_step(&mut thief, "e.petrova", &password).await;
    let r = thief.post("/login/code", &[("code", &code)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    r.has("already used");
    assert_eq!(thief.get("/admin").await.location(), "/login/code?next=/admin");

    // A recovery code, typed loosely, works once.
    let mut lost = Browser::new(&app, "en");
    password_step(&mut lost, "e.petrova", &password).await;
    let loose = format!(" {} ", recovery[0].to_uppercase());
    assert_eq!(lost.post("/login/code", &[("code", &loose)]).await.location(), "/admin");
    let mut again = Browser::new(&app, "en");
    password_step(&mut again, "e.petrova", &password).await;
    let r = again.post("/login/code", &[("code", &recovery[0])]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    her.get("/admin/account").await.has("9 recovery codes left.");

    // The API asks for the code as well.
    let (s, v) = app.post("/tokens", json!({"admin": "e.petrova", "password": password})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].as_str().unwrap().contains("two-factor"), "{v}");
    let (s, v) =
        app.post("/tokens", json!({"admin": "e.petrova", "password": password, "code": "000000x"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let (s, v) = app
        .post(
            "/tokens",
            json!({"admin": "e.petrova", "password": password, "code": code_at(&secret, now() + 30)}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // New recovery codes need a current code; the old ones stop working.
    let r = her.post("/admin/account/two-factor/codes", &[("code", "999999x")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("That code is not right").has(r#"id="codes-error""#);
    let r = her.post("/admin/account/two-factor/codes", &[("code", &recovery[1])]).await;
    assert_eq!(r.status, StatusCode::OK);
    let renewed: Vec<String> = text_of(&r.body, "recovery-codes").lines().map(str::to_owned).collect();
    assert_eq!(renewed.len(), 10);
    let mut old = Browser::new(&app, "en");
    password_step(&mut old, "e.petrova", &password).await;
    assert_eq!(old.post("/login/code", &[("code", &recovery[2])]).await.status, StatusCode::UNAUTHORIZED);

    // She lost her phone: another administrator turns it off; her sessions end, and the
    // password alone logs her in again.
    let r = boss.post("/admin/admins/e.petrova/totp-off", &[]).await;
    assert_eq!(r.location(), "/admin/admins?ok=admin-totp-off#e.petrova");
    boss.get("/admin/admins?ok=admin-totp-off").await.has("его сеансы завершены");
    assert_eq!(her.get("/admin").await.status, StatusCode::SEE_OTHER, "her session ended");
    assert_eq!(phone.get("/admin").await.status, StatusCode::SEE_OTHER, "on every device");
    let mut fresh = Browser::new(&app, "en");
    assert_eq!(fresh.login("e.petrova", &password).await.location(), "/admin");
    // Turning it off twice is refused with a reason.
    assert_eq!(boss.post("/admin/admins/e.petrova/totp-off", &[]).await.status, StatusCode::CONFLICT);

    // Her own password, changed on her account page: the current one first.
    fresh.get("/admin/account").await.has("Change password");
    let r = fresh
        .post(
            "/admin/account/password",
            &[
                ("current", "wrong-one-123"),
                ("password", "Petrova-new-2026"),
                ("confirm", "Petrova-new-2026"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("The current password is wrong.").has(r#"id="current-error""#);
    let r = fresh
        .post(
            "/admin/account/password",
            &[("current", &password), ("password", "Petrova-new-2026"), ("confirm", "Petrova-new-2026")],
        )
        .await;
    assert_eq!(r.location(), "/admin/account?ok=password");
    fresh.get("/admin/account?ok=password").await.has("Your password has been changed.");
    assert_eq!(Browser::new(&app, "en").login("e.petrova", &password).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(Browser::new(&app, "en").login("e.petrova", "Petrova-new-2026").await.location(), "/admin");

    // Her own switch: on again, then off with a current code.
    let r = fresh.get("/admin/account/two-factor").await;
    let key = secret_field(&r.body);
    fresh.post("/admin/account/two-factor", &[("secret", &key), ("code", &code_at(&key, now() - 30))]).await;
    let r = fresh.post("/admin/account/two-factor/off", &[("code", "12")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    fresh.get("/admin/account").await.has("<span class=\"tag ok\">On</span>");
    let r = fresh.post("/admin/account/two-factor/off", &[("code", &code_at(&key, now()))]).await;
    assert_eq!(r.location(), "/admin/account?ok=totp-off");
    fresh.get("/admin/account?ok=totp-off").await.has("your password alone logs you in");
}

/// The last administrator who lost both the phone and the recovery codes regains access from
/// the server's own machine (`pochta-server recover-admin`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recover_admin_from_the_command_line() {
    let app = spawn_app(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "en").await;
    let key = secret_field(&b.get("/admin/account/two-factor").await.body);
    let r =
        b.post("/admin/account/two-factor", &[("secret", &key), ("code", &code_at(&key, now() - 30))]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(Browser::new(&app, "en").login("admin", &app.init.password).await.location(), "/login/code");

    let password = pochta_server::init::recover_admin(app.dir.path(), "admin").await.expect("recover");
    assert_eq!(b.get("/admin").await.status, StatusCode::SEE_OTHER, "the old session ended");
    let mut back = Browser::new(&app, "en");
    assert_eq!(back.login("admin", &app.init.password).await.status, StatusCode::UNAUTHORIZED);
    // The printed password is for once: the next step is a password of one's own.
    assert_eq!(back.login("admin", &password).await.location(), "/login/password");
    back.get("/login/password").await.has("Choose your password");
    let own = "Admin-own-2026";
    assert_eq!(
        back.post("/login/password", &[("password", own), ("confirm", own)]).await.location(),
        "/admin"
    );
    back.get("/admin/account").await.has("<span class=\"tag\">Off</span>");
    let e = pochta_server::init::recover_admin(app.dir.path(), "nobody").await.unwrap_err();
    assert!(e.to_string().contains("no administrator 'nobody'"), "{e}");
}
