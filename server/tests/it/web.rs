//! The web application, page by page and form by form, in English and Russian: logins and
//! sessions, CSRF, rate limits, role checks, every admin page and form with its rejections
//! (a translated error next to the field, and the version does not move), self-service.

use reqwest::StatusCode;
use serde_json::json;

use crate::browser::{Browser, SESSION};
use crate::helpers::{Backend, TestApp, spawn_app};

pub(crate) const PASSWORD: &str = "correct-horse-7";

/// Two sites with mailboxes and a level-0 gateway, a user with a password, a list.
pub(crate) async fn seeded(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    app.site("gw", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    let (s, v) = app
        .post(
            "/users",
            json!({"name": "ivanov", "display_name": "Иван Иванов", "site": "msk", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    app.user("petrov", "spb").await;
    app.group("staff", "list", &["ivanov@example.org", "petrov@example.org"]).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sessions_and_logout() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::new(&app, "en-US,en;q=0.9");
    // Not logged in: the admin pages send to the login page, with where to come back.
    let r = b.get("/admin/users?q=iv").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=/admin/users%3Fq%3Div");
    let r = b.get("/login").await;
    r.has("<html lang=\"en\">").has("Log in").has("name=\"csrf\"");
    let pre = r.set_cookie("__Host-pochta_pre").expect("a pre-login token cookie");
    assert!(pre.contains("HttpOnly") && pre.contains("Secure") && pre.contains("SameSite=Lax"), "{pre}");

    // Unknown user and wrong password get the same answer.
    let wrong = b.post("/login", &[("login", "admin"), ("password", "not-the-password")]).await;
    let unknown = b.post("/login", &[("login", "nobody"), ("password", "not-the-password")]).await;
    let unknown_user = b.post("/login", &[("login", "nobody@example.org"), ("password", "x")]).await;
    let no_password = b.post("/login", &[("login", "petrov@example.org"), ("password", "x")]).await;
    for r in [&wrong, &unknown, &unknown_user, &no_password] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        r.has("Wrong name or password.");
    }
    let strip = |s: &str| s.replace(|c: char| c.is_ascii_digit(), "");
    let form_of = |r: &crate::browser::Resp| {
        strip(&r.body[r.body.find("<main").unwrap()..])
            .replace("nobody@example.org", "X")
            .replace("nobody", "X")
            .replace("admin", "X")
            .replace("petrov@example.org", "X")
    };
    assert_eq!(form_of(&wrong).len(), form_of(&unknown).len());

    // A successful login makes a new session id and goes back where it was asked for.
    let r = b
        .post(
            "/login",
            &[("login", "admin"), ("password", &app.init.password), ("next", "/admin/users?q=iv")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/admin/users?q=iv");
    let cookie = r.set_cookie(SESSION).expect("a session cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let first = b.cookies[SESSION].clone();
    b.get("/admin/users?q=iv").await.has("ivanov@example.org").lacks("petrov@example.org");
    // Logging in again cycles the id; the old one no longer works.
    b.get("/login").await;
    let r = b.post("/login", &[("login", "admin"), ("password", &app.init.password)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let second = b.cookies[SESSION].clone();
    assert_ne!(first, second);
    let mut old = Browser::new(&app, "en");
    old.cookies.insert(SESSION.into(), first);
    assert_eq!(old.get("/admin").await.status, StatusCode::SEE_OTHER);

    // `next=` never leads to another host.
    for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"] {
        let mut e = Browser::new(&app, "en");
        e.get("/login").await;
        let r =
            e.post("/login", &[("login", "admin"), ("password", &app.init.password), ("next", evil)]).await;
        assert_eq!(r.location(), "/admin", "next={evil}");
        let r = e.get(&format!("/lang/ru?next={}", evil.replace('/', "%2F"))).await;
        assert_eq!(r.location(), "/", "lang next={evil}");
    }

    // Logout ends the session on the server.
    b.get("/admin").await;
    let kept = b.cookies[SESSION].clone();
    let r = b.post("/logout", &[]).await;
    assert_eq!(r.location(), "/login");
    let mut replay = Browser::new(&app, "en");
    replay.cookies.insert(SESSION.into(), kept);
    assert_eq!(replay.get("/admin").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_is_required_on_every_form() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "en").await;
    b.get("/admin/users/new").await;
    let v = app.version().await;
    let form = [("name", "sidorov"), ("site", "msk"), ("display_name", "S")];
    // No token, a wrong token, a token from another session: refused, nothing changes.
    let r = b.post_raw("/admin/users/new", &form, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    r.has("The form has expired or did not come from this site.");
    let mut bad = vec![("csrf", "0123456789abcdef0123456789abcdef0123456789a")];
    bad.extend_from_slice(&form);
    assert_eq!(b.post_raw("/admin/users/new", &bad, &[]).await.status, StatusCode::FORBIDDEN);
    let other = Browser::admin(&app, "en").await;
    let mut foreign = vec![("csrf", other.csrf.as_deref().unwrap())];
    foreign.extend_from_slice(&form);
    assert_eq!(b.post_raw("/admin/users/new", &foreign, &[]).await.status, StatusCode::FORBIDDEN);
    // The right token from another site's page (Origin, Sec-Fetch-Site): refused too.
    let token = b.csrf.clone().unwrap();
    let mut good = vec![("csrf", token.as_str())];
    good.extend_from_slice(&form);
    let r = b.post_raw("/admin/users/new", &good, &[("origin", "https://evil.example")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b.post_raw("/admin/users/new", &good, &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.version().await, v, "a refused form changed the directory");
    // Every state-changing route refuses a form without the token.
    for path in [
        "/admin/users/ivanov",
        "/admin/users/ivanov/password",
        "/admin/users/ivanov/move",
        "/admin/users/ivanov/delete",
        "/admin/groups/new",
        "/admin/groups/staff",
        "/admin/groups/staff/members",
        "/admin/groups/staff/members/remove",
        "/admin/groups/staff/delete",
        "/admin/sites",
        "/admin/sites/msk",
        "/admin/sites/msk/enrollment",
        "/admin/sites/spb/delete",
        "/admin/import",
        "/logout",
    ] {
        let r = b
            .post_raw(path, &[("site", "spb"), ("member", "petrov@example.org"), ("action", "apply")], &[])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} without a token");
    }
    // Login CSRF: a login form without the pre-login token is refused.
    let mut fresh = Browser::new(&app, "en");
    let r = fresh.post_raw("/login", &[("login", "admin"), ("password", &app.init.password)], &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.version().await, v);
    // With the token the same form works.
    assert_eq!(b.post("/admin/users/new", &form).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.version().await, v + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_a_password_slows_strangers_but_not_the_owner() {
    let app = seeded(Backend::Sqlite).await;
    // The owner logs in from his usual address; a stranger guesses from another.
    let mut owner = Browser::new(&app, "ru");
    assert_eq!(owner.login("ivanov@example.org", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let mut b = Browser::from_address(&app, "ru", "127.0.0.2");
    b.get("/login").await;
    for _ in 0..6 {
        let r = b.post("/login", &[("login", "ivanov@example.org"), ("password", "wrong-password-1")]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        r.has("Неверное имя или пароль.");
    }
    // Now even the right password is refused to the stranger for a while, in Russian.
    let r = b.post("/login", &[("login", "ivanov@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    r.has("Слишком много неудачных попыток. Повторите через");
    assert!(r.headers.get("retry-after").is_some());
    // The owner is not locked out: from his address he logs in at once.
    let mut again = Browser::new(&app, "ru");
    again.get("/login").await;
    let r = again.post("/login", &[("login", "Ivanov@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // An unknown account is limited the same way (no hint whether it exists).
    for _ in 0..6 {
        b.post("/login", &[("login", "ghost@example.org"), ("password", "wrong-password-1")]).await;
    }
    let r = b.post("/login", &[("login", "ghost@example.org"), ("password", "x")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Per client: after 20 failures from one address, every account is refused from it.
    for i in 0..10 {
        b.post("/login", &[("login", &format!("u{i}")), ("password", "x")]).await;
    }
    let r = b.post("/login", &[("login", "admin"), ("password", &app.init.password)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // An administrator (from his own address) sees the pauses and lifts them.
    let mut admin = Browser::admin(&app, "ru").await;
    let page = admin.get("/admin/logins").await;
    // (ivanov's own login since cleared his count; the guessed ghost account is still paused.)
    page.has("Приостановленные входы")
        .has("<td>ghost</td>")
        .has("<td>127.0.0.2</td>")
        .lacks("<td>ivanov</td>");
    let r = admin.post("/admin/logins/lift", &[("client", "127.0.0.2")]).await;
    assert_eq!(r.location(), "/admin/logins?ok=login-lifted");
    let r = admin.post("/admin/logins/lift", &[("account", "ghost")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    admin
        .get("/admin/logins?ok=login-lifted")
        .await
        .has("Ограничение снято")
        .lacks("<td>ghost</td>")
        .lacks("<td>127.0.0.2</td>");
    // The stranger's address may try again: the right password now gets in.
    let r = b.post("/login", &[("login", "ivanov@example.org"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_user_cannot_reach_admin_pages() {
    let app = seeded(Backend::Sqlite).await;
    let mut u = Browser::new(&app, "en");
    let r = u.login("Ivanov@Example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/me");
    let v = app.version().await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/users/petrov",
        "/admin/groups",
        "/admin/sites",
        "/admin/dns",
        "/admin/history",
        "/admin/import",
        "/admin/users/petrov/move?site=msk",
    ] {
        let r = u.get(path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        r.has("This page is not available to you.").lacks("petrov@");
    }
    u.get("/me").await;
    for path in
        ["/admin/users/new", "/admin/users/petrov/delete", "/admin/users/petrov/password", "/admin/import"]
    {
        let r = u
            .post(path, &[("name", "x"), ("site", "msk"), ("password", "another-pass-1"), ("csrf", "")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.version().await, v);
    // A `next=` into the admin pages does not take a user there either.
    let mut u2 = Browser::new(&app, "en");
    u2.get("/login").await;
    let r = u2
        .post("/login", &[("login", "ivanov@example.org"), ("password", PASSWORD), ("next", "/admin/users")])
        .await;
    assert_eq!(r.location(), "/me");
    // And an administrator has no self-service page.
    let mut a = Browser::admin(&app, "en").await;
    assert_eq!(a.get("/me").await.status, StatusCode::FORBIDDEN);
}

/// Every admin page answers in both languages with its own title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_in_both_languages() {
    let app = seeded(Backend::Sqlite).await;
    for (lang, titles) in [
        (
            "en",
            [
                "Dashboard",
                "Users",
                "New user",
                "Official address",
                "Aliases and lists",
                "Where mail goes",
                "Sites",
                "Agents",
                "DNS records",
                "History",
                "Import users",
                "New alias or list",
            ],
        ),
        (
            "ru-RU,ru;q=0.9",
            [
                "Обзор",
                "Пользователи",
                "Новый пользователь",
                "Официальный адрес",
                "Псевдонимы и списки рассылки",
                "Куда уходит почта",
                "Площадки",
                "Агенты",
                "Записи DNS",
                "Журнал изменений",
                "Импорт пользователей",
                "Новый псевдоним или список рассылки",
            ],
        ),
    ] {
        let mut b = Browser::admin(&app, lang).await;
        let code = if lang == "en" { "en" } else { "ru" };
        for (path, title) in [
            "/admin",
            "/admin/users",
            "/admin/users/new",
            "/admin/users/ivanov",
            "/admin/groups",
            "/admin/groups/staff",
            "/admin/sites",
            "/admin/sites/msk",
            "/admin/dns",
            "/admin/history",
            "/admin/import",
            "/admin/groups/new",
        ]
        .iter()
        .zip(titles)
        {
            let r = b.get(path).await;
            assert_eq!(r.status, StatusCode::OK, "{lang} {path}: {}", r.body);
            r.has(&format!("<html lang=\"{code}\">")).has(title).has("hreflang");
            assert!(r.headers["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
            assert_eq!(r.headers["x-frame-options"], "DENY");
        }
    }
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/users").await.has("2 пользователя");
    b.get("/admin/sites").await.has("Уровень 0");
    // Pages that do not exist.
    assert_eq!(b.get("/admin/users/nobody").await.status, StatusCode::NOT_FOUND);
    b.get("/admin/users/nobody").await.has("Пользователя «nobody» нет.");
    assert_eq!(b.get("/admin/groups/nothing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/admin/sites/nowhere").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn language_is_negotiated_switched_and_remembered() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::new(&app, "de-DE,ru;q=0.8,en;q=0.5");
    b.get("/login").await.has("<html lang=\"ru\">").has("Вход");
    let r = b.get("/lang/en?next=/login").await;
    assert_eq!(r.location(), "/login");
    let c = r.set_cookie("__Host-pochta_lang").unwrap();
    assert!(c.contains("Max-Age=31536000"), "{c}");
    b.get("/login").await.has("<html lang=\"en\">").has("Log in");
    let mut b = Browser::new(&app, "en");
    b.get("/login").await.has("Log in").has("href=\"/lang/ru?next=/login\"");
    assert_eq!(b.get("/lang/xx?next=/").await.status, StatusCode::NOT_FOUND);
}

both_backends!(user_forms_change_only_on_good_input);
async fn user_forms_change_only_on_good_input(backend: Backend) {
    let app = seeded(backend).await;
    for lang in ["en", "ru"] {
        let mut b = Browser::admin(&app, lang).await;
        let t = |en: &'static str, ru: &'static str| if lang == "en" { en } else { ru };
        b.get("/admin/users/new").await;
        let v = app.version().await;
        // Each bad input: 422, the translated error next to its field, nothing changes.
        for (form, field, says) in [
            (
                vec![("name", "bad name@"), ("site", "msk")],
                "name-error",
                t(
                    "A name may contain letters (of one alphabet)",
                    "Имя может содержать буквы одного алфавита",
                ),
            ),
            (
                // "ivanov" with a Cyrillic "о".
                vec![("name", "ivan\u{43e}v"), ("site", "msk")],
                "name-error",
                t("mixes letters of different alphabets", "смешаны буквы разных алфавитов"),
            ),
            (
                vec![("name", "\"john smith\""), ("site", "msk")],
                "name-error",
                t("contains “ ”", "недопустимый символ « »"),
            ),
            (
                vec![("name", "ivanov"), ("site", "msk")],
                "name-error",
                t("User “ivanov” already exists.", "Пользователь «ivanov» уже существует."),
            ),
            (
                vec![("name", "staff"), ("site", "msk")],
                "name-error",
                t("already taken by a list", "уже занято списком рассылки"),
            ),
            (vec![("name", "all"), ("site", "msk")], "name-error", t("is reserved", "зарезервировано")),
            (
                vec![("name", "sidorov"), ("site", "gw")],
                "site-error",
                t("keeps no mailboxes", "не хранит почтовых ящиков"),
            ),
            (
                vec![("name", "sidorov"), ("site", "nowhere")],
                "site-error",
                t("There is no site “nowhere”.", "Площадки «nowhere» нет."),
            ),
            (
                vec![("name", "sidorov"), ("site", "msk"), ("password", "short1")],
                "password-error",
                t("at least 10 characters", "не короче 10 символов"),
            ),
            (
                vec![("name", "sidorov"), ("site", "msk"), ("password", "onlyletterss")],
                "password-error",
                t("only letters or only digits", "только из букв или только из цифр"),
            ),
        ] {
            let r = b.post("/admin/users/new", &form).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {}", r.body);
            r.has(&format!("id=\"{field}\"")).has(says).has("aria-invalid=\"true\"");
            assert_eq!(app.version().await, v, "{form:?} changed the directory");
        }
        // Good input: created, and the form leads to the user's page.
        let name = format!("sidorov{lang}");
        let r = b
            .post(
                "/admin/users/new",
                &[
                    ("name", &name),
                    ("display_name", "Пётр <b>Сидоров</b>"),
                    ("site", "msk"),
                    ("enabled", "on"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location(), format!("/admin/users/{name}?ok=user-created"));
        assert_eq!(app.version().await, v + 1);
        let r = b.get(r.location()).await;
        r.has(t("The user has been created.", "Пользователь создан."))
            .has("Пётр &#60;b&#62;Сидоров&#60;/b&#62;")
            .lacks("<b>Сидоров");

        // Edit, disable.
        let r = b.post(&format!("/admin/users/{name}"), &[("display_name", "Пётр Сидоров")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let u = app.ok(&format!("/users/{name}")).await;
        assert_eq!(u["display_name"], "Пётр Сидоров");
        assert_eq!(u["enabled"], false, "an unchecked box disables");
        b.post(&format!("/admin/users/{name}"), &[("display_name", "Пётр Сидоров"), ("enabled", "on")]).await;
        assert_eq!(app.ok(&format!("/users/{name}")).await["enabled"], true);

        // Reset password: weak refused, strong set.
        let v = app.version().await;
        b.get(&format!("/admin/users/{name}")).await;
        let r = b.post(&format!("/admin/users/{name}/password"), &[("password", "1234567890")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        r.has("id=\"password-error\"")
            .has(t("only letters or only digits", "только из букв или только из цифр"));
        assert_eq!(app.version().await, v);
        let r = b.post(&format!("/admin/users/{name}/password"), &[("password", "a-good-passw0rd")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(app.version().await, v + 1);

        // Move: the confirmation says what will happen and changes nothing; the button moves.
        let r = b.get(&format!("/admin/users/{name}/move?site=spb")).await;
        assert_eq!(r.status, StatusCode::OK);
        r.has(&format!("{name}@spb.example.org"))
            .has(&format!("{name}@msk.example.org"))
            .has("id=\"confirm\"");
        assert_eq!(app.version().await, v + 1);
        let r = b.get(&format!("/admin/users/{name}/move?site=gw")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        r.has("id=\"site-error\"");
        let r = b.get(&format!("/admin/users/{name}/move?site=msk")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        r.has(t("already lives at site", "уже находится на площадке"));
        b.get(&format!("/admin/users/{name}/move?site=spb")).await;
        let r = b.post(&format!("/admin/users/{name}/move"), &[("site", "gw")]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.version().await, v + 1);
        let r = b.post(&format!("/admin/users/{name}/move"), &[("site", "spb")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let u = app.ok(&format!("/users/{name}")).await;
        assert_eq!(u["site"], "spb");
        assert_eq!(u["former_sites"], json!(["msk"]));
        b.get(r.location()).await.has(t("The user has been moved.", "Пользователь перенесён."));

        // Delete, with a confirmation first.
        b.get(&format!("/admin/users/{name}/delete"))
            .await
            .has(t("This cannot be undone.", "Это действие нельзя отменить."));
        let r = b.post(&format!("/admin/users/{name}/delete"), &[]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(app.get(&format!("/users/{name}")).await.0, StatusCode::NOT_FOUND);
        let r = b.post(&format!("/admin/users/{name}/delete"), &[]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_list_searches_filters_sorts_and_pages() {
    let app = seeded(Backend::Sqlite).await;
    for i in 0..60 {
        app.user(&format!("u{i:02}"), if i % 2 == 0 { "msk" } else { "spb" }).await;
    }
    let mut b = Browser::admin(&app, "en").await;
    let r = b.get("/admin/users").await;
    r.has("62 users").has("Page 1 of 2").has("u00@example.org");
    b.get("/admin/users?page=2").await.has("Page 2 of 2").has("u59@example.org").lacks("u00@example.org");
    b.get("/admin/users?site=spb&per=100")
        .await
        .has("31 users")
        .lacks("u00@example.org")
        .has("u01@example.org");
    b.get("/admin/users?q=ivanov%40msk.example.org").await.has("1 user").has("ivanov@example.org");
    b.get("/admin/users?q=%D0%B8%D0%B2%D0%B0%D0%BD").await.has("1 user"); // "иван" in the display name
    let r = b.get("/admin/users?sort=name&dir=desc").await;
    let (a, z) = (r.body.find("u59@").unwrap(), r.body.find("u58@").unwrap());
    assert!(a < z, "descending order");
    b.get("/admin/users?sort=site&per=25").await.has("Page 1 of 3").has("aria-sort=\"ascending\"");
    b.get("/admin/users?status=disabled").await.has("0 users").has("No users match.");
    b.get("/admin/users?page=999").await.has("Page 2 of 2").has("u59@"); // past the end: the last page
}

both_backends!(group_forms);
async fn group_forms(backend: Backend) {
    let app = seeded(backend).await;
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/groups/new").await;
    let v = app.version().await;
    for (form, field, says) in [
        (vec![("name", "ivanov"), ("kind", "list")], "name-error", "уже занято пользователем"),
        (vec![("name", "x y"), ("kind", "list")], "name-error", "Имя может содержать"),
        (
            vec![("name", "sales"), ("kind", "list"), ("members", "ghost@example.org")],
            "members-error",
            "ghost@example.org — не пользователь",
        ),
        (
            vec![("name", "sales"), ("kind", "list"), ("members", "not an address")],
            "members-error",
            "«not an address» — не адрес",
        ),
        (
            vec![("name", "sales"), ("kind", "list"), ("members", "x@mks.example.org")],
            "members-error",
            "не площадка этого домена",
        ),
    ] {
        let r = b.post("/admin/groups/new", &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        r.has(&format!("id=\"{field}\"")).has(says);
        assert_eq!(app.version().await, v);
    }
    let r = b
        .post(
            "/admin/groups/new",
            &[
                ("name", "sales"),
                ("kind", "list"),
                ("policy", "members"),
                ("members", "ivanov@example.org\nstaff@example.org\npartner@other.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.version().await, v + 1);
    let g = app.ok("/groups/sales").await;
    assert_eq!(g["policy"], "members");
    // The page shows where mail goes, grouped by site, with Russian plurals.
    let r = b.get("/admin/groups/sales").await;
    r.has("Всего 2 почтовых ящика").has("Site msk").has("partner@other.example");
    // Add and remove members; a bad one is refused next to the field.
    let r = b.post("/admin/groups/sales/members", &[("member", "nobody@example.org")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"member-error\"").has("nobody@example.org — не пользователь");
    assert_eq!(app.version().await, v + 1);
    assert_eq!(
        b.post("/admin/groups/sales/members", &[("member", "petrov@spb.example.org")]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        b.post("/admin/groups/sales/members/remove", &[("member", "partner@other.example")]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = b.post("/admin/groups/sales/members/remove", &[("member", "partner@other.example")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("не входит в «sales»");
    let members = app.ok("/groups/sales").await["members"].clone();
    assert_eq!(members, json!(["ivanov@example.org", "petrov@spb.example.org", "staff@example.org"]));
    // Edit the whole group; delete it (it leaves the lists that contain it).
    b.get("/admin/groups/staff").await;
    let r = b
        .post(
            "/admin/groups/staff",
            &[
                ("kind", "alias"),
                ("policy", "anyone"),
                ("description", "Все"),
                ("members", "ivanov@example.org"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.ok("/groups/staff").await["kind"], "alias");
    let r = b.post("/admin/groups/staff", &[("kind", "list"), ("members", "staff@example.org")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"members-error\"").has("Список рассылки не может содержать сам себя.");
    let r = b.post("/admin/groups/staff", &[("kind", "bogus"), ("members", "")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    b.get("/admin/groups/staff/delete").await.has("Адрес будет исключён из 1 списка рассылки");
    assert_eq!(b.post("/admin/groups/staff/delete", &[]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.ok("/groups/sales").await["members"],
        json!(["ivanov@example.org", "petrov@spb.example.org"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_forms_enrollment_and_dns() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "en").await;
    b.get("/admin/sites").await;
    let v = app.version().await;
    for (form, field, says) in [
        (vec![("id", "Bad Id!"), ("name", "X"), ("level", "1")], "id-error", "A site id is one DNS label"),
        (vec![("id", "msk"), ("name", "X"), ("level", "1")], "id-error", "Site “msk” already exists."),
        (vec![("id", "ekb"), ("name", ""), ("level", "1")], "name-error", "Give the site a name"),
        (
            vec![("id", "ekb"), ("name", "Ekaterinburg"), ("level", "7")],
            "level-error",
            "Choose a server level",
        ),
    ] {
        let r = b.post("/admin/sites", &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        r.has(&format!("id=\"{field}\"")).has(says);
    }
    assert_eq!(app.version().await, v);
    let r = b.post("/admin/sites", &[("id", "ekb"), ("name", "Ekaterinburg"), ("level", "1")]).await;
    assert_eq!(r.location(), "/admin/sites/ekb?ok=site-created");
    // A site with users cannot become level 0: the Russian message has the right plural.
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/sites/msk").await;
    let r = ru.post("/admin/sites/msk", &[("name", "Москва"), ("level", "0")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("На площадке «msk» остался 1 пользователь: сначала перенесите пользователей на другие площадки.");
    assert_eq!(app.version().await, v + 1);
    // Enrollment: POST → redirect → GET, and the command gives a working site of its level.
    let code_of =
        |body: &str| body.split("--code ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let r = b.post("/admin/sites/ekb/enrollment", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get("/admin/sites/ekb").await;
    let page = page
        .has("pochta-agent enroll --data /var/lib/pochta-agent --code ")
        .has("--listen 0.0.0.0:7443 --advertise-url https://ekb.example.org:7443 --smtp ekb.example.org:25")
        .has("pochta-agent run --data /var/lib/pochta-agent");
    let code = code_of(&page.body);
    // A refresh shows the same code; no second one is made.
    assert_eq!(code_of(&b.get("/admin/sites/ekb").await.body), code);
    let r = b.post("/admin/sites/spb/enrollment", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    b.get("/admin/sites/spb").await.has("--pull --smtp spb.example.org:25").lacks("--advertise-url");
    // DNS: nothing is published before a site's agent can take mail; the agentless gateway is
    // "not yet" and takes no MX 10 from anyone.
    let r = b.get("/admin/dns").await;
    r.lacks("IN MX").has("id=\"not-yet\"").has("no agent is enrolled yet").has("v=spf1 -all");
    // hq's agent enrolls with SMTP but has not reported: still not yet.
    let msk = app.enroll_with_smtp("msk", "192.0.2.10:25").await;
    b.get("/admin/dns").await.lacks("IN MX").has("its agent is enrolled but has never reported");
    app.report_in(msk["secret"].as_str().unwrap()).await;
    let gw = app.enroll_with_smtp("gw", "192.0.2.1:25").await;
    app.report_in(gw["secret"].as_str().unwrap()).await;
    // Two sites behind one address give one SPF entry.
    let (s, v) = app.patch("/sites/gw", json!({"outgoing": ["192.0.2.10"]})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = b.get("/admin/dns").await;
    r.has("@                        IN MX   10 gw.example.org.")
        .has("IN MX   20 msk.example.org.")
        .has("v=spf1 ip4:192.0.2.10 -all")
        .lacks("ip4:192.0.2.1 ")
        .has("msk                      IN A    192.0.2.10")
        .has("_dmarc")
        .has("_mta-sts")
        .has("_smtp._tls")
        .lacks("spb.example.org.\n");
    let (s, v) = app.patch("/sites/gw", json!({"outgoing": ["not an address"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // Delete a site: refused with users, done when empty.
    let r = b.post("/admin/sites/msk/delete", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(b.post("/admin/sites/ekb/delete", &[]).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_previews_then_applies_all_or_nothing() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/import").await;
    let v = app.version().await;
    let bad =
        "name,display_name,site\nnew1,Новый Один,msk\nivanov,Иван Иванов,spb\nbad name,X,msk\nnew2,Y,gw\n";
    let r = b.post("/admin/import", &[("csv", bad), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("Создать: 1, обновить: 1, без изменений: 0; 2 ошибки.")
        .has("площадка (перенос)")
        .has("Имя может содержать")
        .lacks("id=\"apply\"");
    // Applying a file with errors imports nothing.
    let r = b.post("/admin/import", &[("csv", bad), ("action", "apply")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.version().await, v);
    let good = "name,display_name,site,password,enabled\nnew1,Новый Один,msk,,yes\nivanov,Иван Иванов,spb\n\"new2\",\"Smith, John\",msk,a-long-passw0rd,no\n";
    let r = b.post("/admin/import", &[("csv", good), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::OK);
    r.has("Создать: 2, обновить: 1, без изменений: 0; ошибок нет.").has("id=\"apply\"");
    assert_eq!(app.version().await, v, "a dry run changes nothing");
    let r = b.post("/admin/import", &[("csv", good), ("action", "apply")]).await;
    assert_eq!(r.status, StatusCode::OK);
    // What the import did, with links, instead of the preview.
    r.has(&format!("Импортировано, версия {}.", v + 1))
        .has("id=\"import-result\"")
        .has("<a href=\"/admin/users/new1\">new1</a>")
        .has("<a href=\"/admin/users/ivanov\">ivanov</a>")
        .lacks("Что изменится");
    assert_eq!(app.version().await, v + 1, "one change set for the whole file");
    let n2 = app.ok("/users/new2").await;
    assert_eq!(
        (n2["display_name"].as_str(), n2["enabled"].as_bool(), n2["has_password"].as_bool()),
        (Some("Smith, John"), Some(false), Some(true))
    );
    assert_eq!(app.ok("/users/ivanov").await["site"], "spb");
    let r = b.post("/admin/import", &[("csv", ""), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"csv-error\"").has("В файле нет пользователей.");
}

/// A file as Russian Excel saves it: a byte-order mark, `;` between fields, Cyrillic names; an
/// error names its line and column; the export opens in Excel and imports back unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_from_russian_excel_imports_and_the_export_comes_back_unchanged() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/import").await;
    let excel = "\u{feff}name;display_name;site;password;enabled\r\nsidorova;Сидорова Анна;msk;;да\r\nkozlov;\"Козлов; Пётр\";msk;;нет\r\n";
    let r = b.post("/admin/import", &[("csv", excel), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.has("Создать: 2").has("ошибок нет");
    let bad = "\u{feff}name;display_name;site;password;enabled\r\nsidorova;Сидорова Анна;msk;;может быть\r\n";
    let r = b.post("/admin/import", &[("csv", bad), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("столбец 5 (enabled): В столбце «enabled» пишите yes или no");
    let r = b.post("/admin/import", &[("csv", excel), ("action", "apply")]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.ok("/users/kozlov").await["display_name"], "Козлов; Пётр");
    assert_eq!(app.ok("/users/kozlov").await["enabled"], false);

    // Export: for Excel (BOM and `;`) and plain; both import back as "unchanged".
    let v = app.version().await;
    for (path, sep) in [("/admin/users.csv?excel=1", ';'), ("/admin/users.csv", ',')] {
        let r = b.get(path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body.starts_with('\u{feff}'), sep == ';');
        assert!(
            r.body.contains(&format!("kozlov{sep}\"Козлов; Пётр\"{sep}msk{sep}{sep}no"))
                || r.body.contains(&format!("kozlov{sep}Козлов; Пётр{sep}msk{sep}{sep}no")),
            "{}",
            r.body
        );
        let back = b.post("/admin/import", &[("csv", &r.body), ("action", "preview")]).await;
        assert_eq!(back.status, StatusCode::OK, "{}", back.body);
        back.has("Создать: 0, обновить: 0");
    }
    assert_eq!(app.version().await, v);
}

/// Errors are pages in the reader's language with the right status; the menu marks where you
/// are; a site that still has users offers no delete button that would be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_pages_navigation_and_refusals_speak_the_readers_language() {
    let app = seeded(Backend::Sqlite).await;
    let mut ru = Browser::admin(&app, "ru").await;
    let r = ru.get("/admin/no-such-page").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.has("<h1>Страница не найдена</h1>").has("Такой страницы нет.").lacks("Что-то пошло не так");
    let r = ru.get("/admin/users?page=много").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.has("<h1>Неверный адрес страницы</h1>").has("Откройте её из меню").lacks("Failed to deserialize");
    let mut en = Browser::admin(&app, "en").await;
    let r = en.get("/nowhere").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    r.has("<h1>Page not found</h1>");
    // The menu: the current section is marked, the others are not.
    let r = ru.get("/admin/users").await;
    r.has("<a href=\"/admin/users\" aria-current=\"page\">").has("<a href=\"/admin\">");
    ru.get("/admin/sites/msk").await.has("<a href=\"/admin/sites\" aria-current=\"page\">");
    // msk has users: the delete page says why, and has no button.
    let r = ru.get("/admin/sites/msk/delete").await;
    r.has("сначала перенесите пользователей").lacks("id=\"confirm\"");
}

/// Every text field has a limit, the same in the API, the pages and the import, and a refused
/// value changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_values_are_refused_the_same_everywhere() {
    let app = seeded(Backend::Sqlite).await;
    let v = app.version().await;
    let long = "Я".repeat(201);
    let (s, e) = app.post("/users", json!({"name": "dlinny", "site": "msk", "display_name": long})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("display_name: at most 200 characters, not 201"), "{e}");
    let (s, _) = app.patch("/users/ivanov", json!({"display_name": long})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .post("/groups", json!({"name": "longdesc", "kind": "list", "description": "d".repeat(501)}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/users/new").await.has("maxlength=\"200\"");
    let r = b.post("/admin/users/new", &[("name", "dlinny"), ("display_name", &long), ("site", "msk")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"display_name-error\"").has("Не больше 200 символов, а здесь 201.");
    b.get("/admin/import").await;
    let csv = format!("name,display_name,site\ndlinny,{long},msk\n");
    let r = b.post("/admin/import", &[("csv", &csv), ("action", "preview")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("столбец 2 (display_name): Не больше 200 символов");
    assert_eq!(app.version().await, v, "nothing changed");
    // 200 is fine, and a long name does not break the users table.
    let (s, _) = app.patch("/users/ivanov", json!({"display_name": "Я".repeat(200)})).await;
    assert_eq!(s, StatusCode::OK);
}

/// ASCII names by default, the same in the API, the pages and the import, and the message says
/// the rule; other alphabets once the administrator allows them, knowingly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_latin_names_need_the_domains_consent_everywhere() {
    let app = seeded(Backend::Sqlite).await;
    let v = app.version().await;
    let (s, e) = app.post("/users", json!({"name": "сидоров", "site": "msk"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("allows Latin letters only"), "{e}");
    let (s, _) = app.post("/groups", json!({"name": "продажи", "kind": "list"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/users/new").await;
    let r = b
        .post("/admin/users/new", &[("name", "сидоров"), ("display_name", "Пётр Сидоров"), ("site", "msk")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"name-error\"").has("есть буквы не латинского алфавита").has("разрешите другие алфавиты");
    b.get("/admin/import").await;
    let r = b
        .post(
            "/admin/import",
            &[("csv", "name,display_name,site\nсидоров,Пётр Сидоров,msk\n"), ("action", "preview")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("столбец 1 (name): В имени «сидоров» есть буквы не латинского алфавита");
    assert_eq!(app.version().await, v, "nothing changed");
    // The administrator allows other alphabets on the Sites page (with the warning); now it works.
    b.get("/admin/sites").await.has("id=\"unicode_names\"").has("SMTPUTF8");
    let r = b.post("/admin/settings/names", &[("unicode_names", "on")]).await;
    assert_eq!(r.location(), "/admin/sites?ok=settings-saved");
    assert_eq!(app.ok("/settings").await["unicode_names"], true);
    let (s, e) = app.post("/users", json!({"name": "сидоров", "site": "msk"})).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    b.get("/admin/history").await.has("В новых именах разрешены буквы других алфавитов");
    // Turned off again: the name given stays, new ones are Latin.
    b.post("/admin/settings/names", &[]).await;
    assert_eq!(app.ok("/users/сидоров").await["name"], "сидоров");
    let (s, _) = app.post("/users", json!({"name": "петров", "site": "msk"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

both_backends!(self_service_password_change);
async fn self_service_password_change(backend: Backend) {
    let app = seeded(backend).await;
    let mut u = Browser::new(&app, "ru");
    assert_eq!(u.login("ivanov@example.org", PASSWORD).await.location(), "/me");
    let mut other = Browser::new(&app, "en");
    assert_eq!(other.login("ivanov@msk.example.org", PASSWORD).await.location(), "/me");
    let r = u.get("/me").await;
    r.has("ivanov@example.org")
        .has("ivanov@msk.example.org")
        .has("staff@example.org")
        .has("Site msk (msk)")
        .has("Моя учётная запись");
    let v = app.version().await;
    for (form, field, says) in [
        (
            vec![
                ("current", "wrong-pass-123"),
                ("password", "brand-new-pass-1"),
                ("confirm", "brand-new-pass-1"),
            ],
            "current-error",
            "Текущий пароль неверен.",
        ),
        (
            vec![("current", PASSWORD), ("password", "short-1"), ("confirm", "short-1")],
            "password-error",
            "не короче 10 символов",
        ),
        (
            vec![("current", PASSWORD), ("password", "brand-new-pass-1"), ("confirm", "brand-new-pass-2")],
            "confirm-error",
            "Новые пароли не совпадают.",
        ),
        (
            vec![("current", PASSWORD), ("password", PASSWORD), ("confirm", PASSWORD)],
            "password-error",
            "Новый пароль совпадает с текущим.",
        ),
    ] {
        let r = u.post("/me/password", &form).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        r.has(&format!("id=\"{field}\"")).has(says);
        assert_eq!(app.version().await, v);
    }
    let r = u
        .post(
            "/me/password",
            &[("current", PASSWORD), ("password", "brand-new-pass-1"), ("confirm", "brand-new-pass-1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.version().await, v + 1, "the change is one change set");
    u.get(r.location()).await.has("Пароль изменён. Все остальные ваши сеансы завершены.");
    // The other session ended; the hash in the directory is the new one.
    assert_eq!(other.get("/me").await.location(), "/login?next=/me");
    let (dir, _) = app.state().publisher.current();
    let hash =
        dir.user(&pochta_directory::LocalPart::parse("ivanov").unwrap()).unwrap().password.clone().unwrap();
    assert!(hash.verify("brand-new-pass-1") && !hash.verify(PASSWORD));
    let last = &app.changes().await[0];
    assert_eq!(last["author"], "ivanov (self-service)");
    assert_eq!(last["ops"][0]["op"], "set_password");
    assert_eq!(last["ops"][0]["hash"], "(hidden)");
    // Old password no longer logs in; the new one does.
    let mut again = Browser::new(&app, "en");
    assert_eq!(again.login("ivanov@example.org", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.login("ivanov@example.org", "brand-new-pass-1").await.location(), "/me");
    // An administrator disabling the user ends his sessions too.
    let mut a = Browser::admin(&app, "en").await;
    a.get("/admin/users/ivanov").await;
    a.post("/admin/users/ivanov", &[("display_name", "Иван Иванов")]).await;
    assert_eq!(u.get("/me").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        Browser::new(&app, "en").login("ivanov@example.org", "brand-new-pass-1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_agents_and_traffic() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "en").await;
    let r = b.get("/admin").await;
    r.has("No data yet")
        .has("No agent has enrolled yet.")
        .has(&format!("id=\"version\">{}<", app.version().await));
    let enrolled = app.enroll("msk").await;
    let secret = enrolled["secret"].as_str().unwrap();
    // The agent has not pulled yet: behind and never... it was heard from at enrollment? No.
    b.get("/admin").await.has("never seen");
    let v = app.version().await;
    app.sync(secret, &format!("changes?after={v}")).await;
    b.get("/admin").await.has("in sync");
    // Stats: refused without the agent secret; stored with it; shown as the paper's table.
    assert_eq!(
        post(&app, json!({"received": 1, "accepted": 1, "delivered": 1, "sent": 1}), None).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(&app, json!({"received": "x"}), Some(secret)).await, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        post(
            &app,
            json!({"received": 10, "accepted": 8, "delivered": 5, "sent": 3, "queue": 2, "refused": {"spam": 1}}),
            Some(secret)
        )
        .await,
        StatusCode::NO_CONTENT
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Refusals count like the other counters: what was new since the base report, by kind.
    let warning = json!({"kind": "scanner_failing", "scanner": "rspamd", "at": "http://127.0.0.1:11333",
                         "since": 1_800_000_000, "fail_open": false, "error": "connection refused"});
    let second = json!({"received": 25, "accepted": 20, "delivered": 12, "sent": 7, "queue": 4,
                        "refused": {"spam": 2, "relay_denied": 1}, "warnings": [warning]});
    assert_eq!(post(&app, second.clone(), Some(secret)).await, StatusCode::NO_CONTENT);
    let r = b.get("/admin?period=1h").await;
    r.lacks("No data yet").has("id=\"traffic-table\"").has("<polyline");
    assert_eq!(
        traffic_row(&r.body, "msk"),
        Some([15, 12, 2, 7, 4, 4]),
        "received, accepted, refused, delivered, sent, queue"
    );
    // Every row says when its figures are from; the columns are explained; the chart has a
    // line per site with a legend and labelled axes.
    r.has("<th>As of</th>")
        .has("just now</time>")
        .lacks("out of date")
        .has("Received counts incoming SMTP connections")
        .has("<title>msk</title>")
        .has("■</span> msk (12)")
        .has(r#"class="tick" text-anchor="end" dominant-baseline="middle">12</text>"#);
    // A site whose agents have not reported for hours is shown grey, as out of date.
    let long_ago = pochta_server::db::now() - 3 * 3600;
    let quiet = pochta_server::db::web::Counters {
        received: 3,
        accepted: 3,
        delivered: 3,
        sent: 0,
        queue: 8,
        moved_in: 0,
        moved_out: 0,
    };
    pochta_server::db::web::put_stats(
        &app.state().db.pool,
        "spb-1",
        "spb",
        long_ago,
        &quiet,
        &Default::default(),
    )
    .await
    .unwrap();
    let r = b.get("/admin?period=24h").await;
    r.has(r#"<tr class="old" title="No report from this site&#39;s agents for over two hours"#)
        .has("3 hours ago</time> <span class=\"muted\">(out of date)</span>");
    r.has("Why msk refused: relaying denied 1 · spam 1")
        .has("rspamd of agent ")
        .has("mail from outside is deferred (451) until it is back. Error: connection refused");
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin")
        .await
        .has("Получено")
        .has("Принято")
        .has("Доставлено")
        .has("Отправлено")
        .has("Отклонено")
        .has("Причины отказов, msk: попытка пересылки через нас 1 · спам 1")
        .has("<th>Данные на</th>")
        .has("«Получено» — входящие SMTP-соединения")
        .has("(устарело)")
        .has("почта извне откладывается (451), пока он не заработает")
        .has("синхронизирован");
    // The scanner is back: the next report carries no warning, and the dashboard none.
    let mut calm = second.clone();
    calm.as_object_mut().unwrap().remove("warnings");
    assert_eq!(post(&app, calm, Some(secret)).await, StatusCode::NO_CONTENT);
    b.get("/admin?period=1h").await.lacks("rspamd of agent");
    ru.get("/admin/history?q=ivanov").await.has("Создан пользователь ivanov, площадка «Site msk»");
}

/// An agent moving a mailbox reports it with its counters; the dashboard shows the move under
/// the site it leaves — letters and bytes, rate and time left, the site by its name — in both
/// languages, reloading itself while it lasts; an ended move goes to the record of finished
/// moves (dashboard and the user's page) with how it ended, once however often it is repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_mailbox_moves_in_progress_and_finished() {
    let app = seeded(Backend::Sqlite).await;
    let enrolled = app.enroll("msk").await;
    let secret = enrolled["secret"].as_str().unwrap();
    let counters = json!({"received": 0, "accepted": 0, "delivered": 0, "sent": 0, "queue": 0});
    let with_moves = |moves: serde_json::Value| {
        let mut r = counters.clone();
        r["mailbox_moves"] = moves;
        r
    };
    // An agent of an earlier release sends letters only.
    let moving = with_moves(json!([
        {"user": "ivanov", "to_site": "spb", "remaining": 7, "moved": 3,
         "moved_bytes": 3_000_000, "remaining_bytes": 7_000_000, "elapsed_secs": 10},
        {"user": "petrova", "to_site": "spb", "remaining": 20, "moved": 1}
    ]));
    assert_eq!(post(&app, moving, Some(secret)).await, StatusCode::NO_CONTENT);
    let mut b = Browser::admin(&app, "en").await;
    let page = b.get("/admin").await;
    page.has("Moving mailboxes: ivanov → Site spb: 3 of 10 letters, 2.9 MB of 9.5 MB, 293 KB/s, about 24 s left; petrova → Site spb: 1 of 21 letters")
        .has(r#"<meta http-equiv="refresh" content="5">"#);
    let msk = &page.body[page.body.find("/admin/sites/msk").unwrap()..];
    let msk = &msk[..msk.find("</section>").unwrap()];
    assert!(msk.contains("ivanov → Site spb"), "the move shows under the site it leaves: {msk}");
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin")
        .await
        .has("Перенос почтовых ящиков: ivanov → Site spb: 3 из 10 писем, 2,9 МБ из 9,5 МБ, 293 КБ/с, осталось около 24 с; petrova → Site spb: 1 из 21 письма");
    b.get("/admin/users/ivanov").await.has("Moving now: ivanov → Site spb: 3 of 10 letters");
    let one = with_moves(json!([{"user": "ivanov", "to_site": "spb", "remaining": 1, "moved": 2}]));
    assert_eq!(post(&app, one, Some(secret)).await, StatusCode::NO_CONTENT);
    ru.get("/admin").await.has("ivanov → Site spb: 2 из 3 писем").lacks("petrova → Site spb");
    b.get("/admin").await.has("ivanov → Site spb: 2 of 3 letters");
    // Ended: reported once with how it ended (and again when the answer was lost).
    let ended = with_moves(json!([
        {"user": "ivanov", "to_site": "spb", "remaining": 0, "moved": 5004, "moved_bytes": 120_000_000,
         "remaining_bytes": 0, "elapsed_secs": 185, "ended": {"outcome": "done", "kept": 1}},
        {"user": "petrova", "to_site": "spb", "remaining": 19, "moved": 2, "elapsed_secs": 3,
         "ended": {"outcome": "failed", "reason": "No space left on device"}}
    ]));
    for _ in 0..2 {
        assert_eq!(post(&app, ended.clone(), Some(secret)).await, StatusCode::NO_CONTENT);
    }
    let page = b.get("/admin").await;
    page.lacks("Moving mailboxes")
        .lacks(r#"http-equiv="refresh""#)
        .has("Finished moves, last 7 days")
        .has("ivanov → Site spb: 5004 letters (114 MB) in 4 min, just now; 1 letter too large for the new site stayed at the old one")
        .has("petrova → Site spb: stopped after 2 letters, just now: No space left on device. The move resumes at the next check");
    assert_eq!(page.body.matches("ivanov → Site spb: 5004").count(), 1, "a repeated report is one record");
    ru.get("/admin")
        .await
        .has("Завершённые переносы за 7 дней")
        .has("ivanov → Site spb: 5004 письма (114 МБ) за 4 мин, только что; 1 письмо слишком велико для новой площадки и осталось на старой")
        .has("petrova → Site spb: перенос остановлен после 2 писем, только что: No space left on device.");
    b.get("/admin/users/ivanov")
        .await
        .has("Mailbox moves")
        .has("ivanov → Site spb: 5004 letters")
        .lacks("petrova →");
    ru.get("/admin/users/petrov").await.lacks("Перенос почтового ящика");
}

async fn post(app: &TestApp, body: serde_json::Value, token: Option<&str>) -> StatusCode {
    app.raw(reqwest::Method::POST, "/sync/stats", token, Some(("application/json", body.to_string().into())))
        .await
        .status
}

/// The numbers of the dashboard's traffic row for `site`: received, accepted, refused,
/// delivered, sent, queue; `None` while the table has no row for it.
fn traffic_row(page: &str, site: &str) -> Option<[u64; 6]> {
    let table = &page[page.find("id=\"traffic-table\"")?..];
    let row = &table[table.find(&format!(">{site}</td>"))?..];
    let row = &row[..row.find("</tr>")?];
    let cells: Vec<u64> = row
        .split("<td class=\"num\"")
        .skip(1)
        // Past the cell's own attributes (its column's name for phones).
        .map(|c| &c[c.find('>').unwrap() + 1..])
        // The paper's six columns; the moved mailboxes' column after them is not mail.
        .take(6)
        .map(|c| c[..c.find("</td>").unwrap()].chars().filter(char::is_ascii_digit).collect::<String>())
        .map(|n| n.parse().unwrap())
        .collect();
    cells.try_into().ok()
}

/// The paper's table and the chart from real agent processes: a letter from outside comes in at
/// msk (one mailbox there, one at spb, so one copy crosses to spb's agent); both agents report
/// their counters (every second here) and the dashboard shows them, in both languages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_traffic_real_agents_report() {
    use pochta_server::demo::{self, AgentLinks};
    use std::time::Duration;
    let app = seeded(Backend::Sqlite).await;
    let bin = demo::agent_binary().expect("build the workspace first (scripts/test does)");
    let base = app.dir.path().join("agents");
    let running = app.running.as_ref().unwrap();
    let links =
        |pull| AgentLinks { pull, stats_secs: Some(1), retry: Some((0.2, 1.0)), ..Default::default() };
    let (_msk, msk) = demo::start_agent(running, &bin, &base, "msk", links(false)).await.unwrap();
    let (_spb, spb) = demo::start_agent(running, &bin, &base, "spb", links(true)).await.unwrap();
    demo::wait_in_sync(running, &[msk.clone(), spb.clone()], Duration::from_secs(60)).await.unwrap();
    let mut b = Browser::admin(&app, "en").await;
    b.get("/admin?period=1h").await.lacks("<polyline");

    let (host, port) = msk.smtp.rsplit_once(':').unwrap();
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import smtplib, sys\n\
             s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=60)\n\
             s.sendmail('someone@example.net', ['ivanov@example.org', 'petrov@example.org'],\n\
             \x20          'Subject: counted\\r\\n\\r\\nOne letter, two sites.\\r\\n')\n\
             s.quit()\n",
        )
        .args([host, port])
        .output()
        .await
        .expect("python3");
    assert!(out.status.success(), "smtplib: {}", String::from_utf8_lossy(&out.stderr));
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let count = |dir: std::path::PathBuf| std::fs::read_dir(dir).map_or(0, |d| d.count());
    while count(msk.inbox("ivanov")) == 0 || count(spb.inbox("petrov")) == 0 {
        assert!(tokio::time::Instant::now() < until, "the letter reaches both mailboxes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Reports every second: the table fills in within a few.
    let page = loop {
        let r = b.get("/admin?period=1h").await;
        let (m, s) = (traffic_row(&r.body, "msk"), traffic_row(&r.body, "spb"));
        if let (
            Some([received, accepted, _, delivered, sent, _]),
            Some([s_received, s_accepted, _, s_delivered, ..]),
        ) = (m, s)
            && received > 0
            && accepted > 0
            && delivered > 0
            && sent > 0
            && s_received > 0
            && s_accepted > 0
            && s_delivered > 0
        {
            assert_eq!((accepted, delivered), (1, 1), "one letter, one mailbox at msk");
            assert_eq!(s_delivered, 1, "one mailbox at spb");
            break r;
        }
        assert!(tokio::time::Instant::now() < until, "no traffic from the agents: {m:?} {s:?}\n{}", r.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    page.lacks("id=\"no-traffic\"").has("<polyline");
    let mut ru = Browser::admin(&app, "ru").await;
    let r = ru.get("/admin?period=1h").await;
    r.has("Получено").has("Отправлено").has("<polyline");
    assert_eq!(traffic_row(&r.body, "msk"), traffic_row(&page.body, "msk"));
}

/// The address trace: a list's copies per site, each with how it gets there, outside members,
/// a refusal with the code SMTP would give, bad input as a translated field error; the API
/// answers the same trace as JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_trace_shows_each_sites_copy_and_refusals() {
    let app = seeded(Backend::Sqlite).await;
    app.enroll_with_smtp("gw", "127.0.0.1:2525").await;
    app.enroll_with_smtp("msk", "127.0.0.1:2526").await;
    let (s, v) = app.post("/groups/staff/members", json!({"address": "partner@example.net"})).await;
    assert!(s.is_success(), "{v}");
    let mut en = Browser::admin(&app, "en").await;
    en.get("/admin/groups/staff")
        .await
        .has(r#"<a href="/admin/trace?rcpt=staff%40example.org&amp;internal=on">"#);
    let r = en.get("/admin/trace").await;
    r.has(r#"<option value="gw" selected>"#).has(r#"aria-current="page""#);
    let r = en.get("/admin/trace?rcpt=staff%40example.org&internal=on").await;
    assert_eq!(r.status, StatusCode::OK);
    r.has("staff@example.org is a mailing list with 3 members; who may post: users of this domain only.")
        .has("Accepted: 2 mailboxes at 2 sites and 1 outside addresses, one copy per site.")
        .has("One copy from Site gw (gw) straight to the agent of Site msk (msk), over pinned TLS.")
        .has("Waits in the queue at Site gw (gw): Site spb (spb) has no agent taking mail yet")
        .has("partner@example.net: sent by Site gw (gw) to the MX of example.net");
    // Entering at the level-2 site: its own copy is filed there, outside mail goes via a relay.
    en.get("/admin/trace?rcpt=staff%40example.org&internal=on&entry=spb")
        .await
        .has("Filed at Site spb (spb), where the letter enters.")
        .has("handed by Site spb (spb) to Site gw (gw), which sends it to the MX of example.net");
    // A stranger may not post to an internal list: what SMTP would answer.
    en.get("/admin/trace?rcpt=staff%40example.org&from=x%40example.net")
        .await
        .has("Refused at RCPT TO with 550 5.7.1: the sender may not post to staff.");
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/trace?rcpt=staff%40example.org&internal=on")
        .await
        .has("staff@example.org — список рассылки, участников: 3")
        .has("Ждёт в очереди на площадке Site gw (gw)");
    ru.get("/admin/trace?rcpt=nobody%40example.org")
        .await
        .has("Пользователя, псевдонима или списка с адресом nobody@example.org нет.")
        .has("код 550 5.1.1");
    let r = ru.get("/admin/trace?rcpt=not-an-address").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    r.has("Получатель указан не как адрес").has(r#"aria-describedby="rcpt-error""#);

    let (s, t) = app.get("/trace?rcpt=staff@example.org&internal=true").await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(t["entry"], "gw");
    assert_eq!(t["outcome"]["copies"][0]["site"], "msk");
    assert_eq!(t["outcome"]["copies"][0]["hop"]["how"], "direct");
    assert_eq!(t["outcome"]["copies"][1]["hop"]["how"], "waits");
    let (s, t) = app.get("/trace?rcpt=staff@example.org&entry=nowhere").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{t}");
}

/// The queues page for a site whose agent pulls (nothing can connect to it) says so and how to
/// see its queue at the site; a site without agents says that; an unknown site is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_page_explains_agents_it_cannot_reach() {
    let app = seeded(Backend::Sqlite).await;
    let agent = app.enroll("msk").await;
    let id = agent["agent_id"].as_str().unwrap();
    let mut en = Browser::admin(&app, "en").await;
    en.get("/admin/queue?site=msk")
        .await
        .has(&format!("Agent {id} fetches its changes itself, so the server cannot connect to it."))
        .has("pochta-agent --data &#60;folder&#62; queue list");
    en.get("/admin/queue?site=spb").await.has("This site has no agents yet.");
    assert_eq!(en.get("/admin/queue?site=nowhere").await.status, StatusCode::NOT_FOUND);
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/queue?site=msk").await.has(&format!("Агент {id} сам запрашивает изменения"));
    let (s, v) = app.get(&format!("/agents/{id}/queue")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, v) = app.post(&format!("/agents/{id}/queue"), json!({"action": "retry", "ids": []})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(app.get("/agents/nobody/queue").await.0, StatusCode::NOT_FOUND);
}

/// Bulk actions on the users list: chosen with checkboxes, confirmed with what will change,
/// applied as one change set; export gives just the chosen users; nothing chosen is a
/// translated refusal that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_actions_on_chosen_users() {
    let app = seeded(Backend::Sqlite).await;
    app.user("sidorova", "msk").await;
    app.group("sales", "list", &[]).await;
    let mut en = Browser::admin(&app, "en").await;
    en.get("/admin/users")
        .await
        .has(r#"<input type="checkbox" form="bulk" name="u.ivanov" aria-label="Choose ivanov@example.org">"#)
        .has(r#"<option value="sales">"#);
    let before = app.version().await;
    let r = en
        .post(
            "/admin/users/bulk",
            &[
                ("action", "disable"),
                ("back", "/admin/users?site=msk"),
                ("u.ivanov", "on"),
                ("u.sidorova", "on"),
            ],
        )
        .await;
    r.has("Disable 2 users?")
        .has("ivanov@example.org, sidorova@example.org")
        .has(r#"name="u.sidorova" value="on""#);
    assert_eq!(app.version().await, before, "the confirmation changes nothing");
    let r = en
        .post(
            "/admin/users/bulk",
            &[
                ("action", "disable"),
                ("back", "/admin/users?site=msk"),
                ("confirm", "yes"),
                ("u.ivanov", "on"),
                ("u.sidorova", "on"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/admin/users?site=msk&ok=bulk-1");
    assert_eq!(app.version().await, before + 1, "one change set for all");
    assert_eq!(app.ok("/users/sidorova").await["enabled"], false);
    // Disabling again: nothing to change, and the confirmation says so.
    en.post("/admin/users/bulk", &[("action", "disable"), ("u.ivanov", "on"), ("u.petrov", "on")])
        .await
        .has("1 of 2 change");
    // Move and add to a list, in one set each.
    let r = en
        .post(
            "/admin/users/bulk",
            &[
                ("action", "move"),
                ("site", "spb"),
                ("confirm", "yes"),
                ("u.ivanov", "on"),
                ("u.sidorova", "on"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/admin/users?ok=bulk-1");
    let ivanov = app.ok("/users/ivanov").await;
    assert_eq!((&ivanov["site"], &ivanov["former_sites"]), (&json!("spb"), &json!(["msk"])), "{ivanov}");
    en.post(
        "/admin/users/bulk",
        &[("action", "add"), ("group", "sales"), ("confirm", "yes"), ("u.ivanov", "on"), ("u.petrov", "on")],
    )
    .await;
    assert_eq!(app.ok("/groups/sales").await["members"], json!(["ivanov@example.org", "petrov@example.org"]));
    // Export: the chosen users only.
    let r = en.post("/admin/users/bulk", &[("action", "export"), ("u.petrov", "on")]).await;
    assert!(r.body.starts_with("name,display_name,site"), "{}", r.body);
    assert!(r.body.contains("\r\npetrov,") && !r.body.contains("ivanov"), "{}", r.body);
    // Delete takes them out of the list too.
    en.post("/admin/users/bulk", &[("action", "delete"), ("confirm", "yes"), ("u.petrov", "on")]).await;
    assert_eq!(app.get("/users/petrov").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.ok("/groups/sales").await["members"], json!(["ivanov@example.org"]));
    // Nothing chosen, an unknown user, a site without mailboxes: refused, translated.
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/users").await;
    let v = app.version().await;
    let r = ru.post("/admin/users/bulk", &[("action", "enable"), ("confirm", "yes")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("Выберите хотя бы одного пользователя.");
    let r = ru.post("/admin/users/bulk", &[("action", "move"), ("site", "gw"), ("u.ivanov", "on")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        ru.post("/admin/users/bulk", &[("action", "enable"), ("u.ivanov", "on"), ("u.sidorova", "on")]).await;
    r.has("Включить пользователей: 2?").has("Они снова смогут входить").lacks("Their");
    assert_eq!(app.version().await, v, "refusals change nothing");

    // Shortcuts on a user's page: add him to a list, start an alias for him.
    let r = en.get("/admin/users/sidorova").await;
    r.has(r#"<option value="sales">"#)
        .has(r#"href="/admin/groups/new?kind=alias&amp;members=sidorova%40example.org""#);
    let r = en.post("/admin/users/sidorova/groups", &[("group", "sales")]).await;
    assert_eq!(r.location(), "/admin/users/sidorova?ok=member-added");
    assert_eq!(
        app.ok("/groups/sales").await["members"],
        json!(["ivanov@example.org", "sidorova@example.org"])
    );
    en.get("/admin/groups/new?kind=alias&members=sidorova%40example.org")
        .await
        .has(r#"<option value="alias" selected"#)
        .has("sidorova@example.org</textarea>");
    let r = ru.post("/admin/users/sidorova/groups", &[("group", "nosuch")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A field with a hint and an error names both in `aria-describedby`, so a screen reader reads
/// the rule and what was wrong together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hints_and_errors_are_described_together() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "ru").await;
    b.get("/admin/users/new").await.has(r#"aria-describedby="password-hint""#);
    let r = b.post("/admin/users/new", &[("name", "kozlov"), ("site", "msk"), ("password", "short")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has(r#"aria-describedby="password-hint password-error" aria-invalid="true""#)
        .has(r#"id="password-error""#);
    let r = b.post("/admin/sites", &[("id", "not a label"), ("name", "X"), ("level", "1")]).await;
    r.has(r#"aria-describedby="id-hint id-error""#);
}

/// Times are shown in the deployment's zone (UTC here) until a person picks their own, which a
/// cookie remembers; the locale decides the format; the history's date filter counts days in
/// that zone; an unknown zone is a translated refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn times_in_the_readers_time_zone() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "ru").await;
    let r = b.get("/admin/history").await;
    r.has(r#"class="zone" href="/time-zone?next=/admin/history""#).has(" UTC</time>");
    let r = b.get("/time-zone?next=/admin/history").await;
    r.has("Время показывается по поясу UTC.").has(r#"<option value="Europe/Moscow">"#);
    let r = b.post("/time-zone", &[("zone", "Mars/Olympus"), ("next", "/admin/history")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("«Mars/Olympus» — неизвестный часовой пояс");
    let r = b.post("/time-zone", &[("zone", "Europe/Moscow"), ("next", "/admin/history")]).await;
    assert_eq!(r.location(), "/admin/history");
    assert!(r.set_cookie("__Host-pochta_tz").is_some_and(|c| c.contains("Europe/Moscow")));
    let r = b.get("/admin/history").await;
    r.has(" MSK</time>").has(r#">Europe/Moscow</a>"#);
    // The Russian format: day.month.year.
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/Moscow").unwrap());
    r.has(&now.strftime("%d.%m.%Y").to_string());
    // "From today" in Moscow finds today's changes; "to yesterday" none.
    let today = now.date().to_string();
    let yesterday = now.date().yesterday().unwrap().to_string();
    b.get(&format!("/admin/history?since={today}")).await.has("Версия 1").lacks("Ничего не найдено");
    b.get(&format!("/admin/history?until={yesterday}")).await.has("Ничего не найдено");
    // Someone else, without the cookie, still sees the deployment's zone.
    let mut other = Browser::admin(&app, "en").await;
    other.get("/admin/history").await.has(" UTC</time>").lacks("MSK");
}

/// Administrators managed in the browser: a new one gets a password shown once and can log
/// in; a reset password replaces the old; a disabled one cannot log in and its API tokens stop
/// working; nobody can disable themselves or the last active administrator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_are_managed_in_the_browser() {
    let app = seeded(Backend::Sqlite).await;
    let mut b = Browser::admin(&app, "en").await;
    b.get("/admin/admins")
        .await
        .has("admin <span class=\"muted\">(you)</span>")
        .lacks(r#"action="/admin/admins/admin/disable""#);
    let r = b.post("/admin/admins", &[("name", "Petrova")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("lower-case Latin letters").has(r#"aria-describedby="name-hint name-error""#);
    let r = b.post("/admin/admins", &[("name", "e.petrova")]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    r.has("Administrator e.petrova created.").has("Shown only now");
    let password = r.body.split("id=\"new-password\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(password.len(), 20);
    let r = b.post("/admin/admins", &[("name", "e.petrova")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    r.has("There is already an administrator e.petrova.");

    // She logs in and first chooses a password of her own: until then no admin page and no API
    // token; the one she was handed is not taken again, nor a weak one.
    let mut her = Browser::new(&app, "ru");
    assert_eq!(her.login("e.petrova", &password).await.location(), "/login/password");
    assert_eq!(her.get("/admin/users").await.location(), "/login/password?next=/admin/users");
    let (s, v) =
        app.post("/tokens", json!({"admin": "e.petrova", "password": password, "name": "script"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    her.get("/login/password").await.has("Задайте свой пароль").has(r#"autocomplete="new-password""#);
    let r = her.post("/login/password", &[("password", &password), ("confirm", &password)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("совпадает с текущим");
    let r = her.post("/login/password", &[("password", "short"), ("confirm", "short")]).await;
    r.has("не короче 10 символов");
    let r = her
        .post("/login/password", &[("password", "Petrova-own-2026"), ("confirm", "Petrova-own-2027")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = her
        .post("/login/password", &[("password", "Petrova-own-2026"), ("confirm", "Petrova-own-2026")])
        .await;
    assert_eq!(r.location(), "/admin", "{}", r.body);
    let password = "Petrova-own-2026".to_owned();
    assert_eq!(Browser::new(&app, "en").login("e.petrova", &password).await.location(), "/admin");
    let (s, v) =
        app.post("/tokens", json!({"admin": "e.petrova", "password": password, "name": "script"})).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let (s, _) = app.call_as(&token, reqwest::Method::GET, "/sites", None).await;
    assert_eq!(s, StatusCode::OK);
    // Nobody disables themselves.
    her.get("/admin/admins").await.has("e.petrova <span class=\"muted\">(это вы)</span>");
    let r = her.post("/admin/admins/e.petrova/disable", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    r.has("Нельзя отключить самого себя");

    // A new password: the old one no longer works, her session ended.
    let r = b.post("/admin/admins/e.petrova/reset", &[]).await;
    r.has("e.petrova has a new password");
    let fresh = r.body.split("id=\"new-password\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    assert_eq!(her.get("/admin").await.status, StatusCode::SEE_OTHER, "her session ended");
    let mut again = Browser::new(&app, "ru");
    assert_eq!(again.login("e.petrova", &password).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(again.login("e.petrova", &fresh).await.location(), "/login/password");
    again.get("/login/password").await;
    let own = "Petrova-second-2026";
    let r = again.post("/login/password", &[("password", own), ("confirm", own)]).await;
    assert_eq!(r.location(), "/admin");
    let fresh = own.to_owned();

    // Disabled: no login, no API, sessions gone; enabled again: the new password works.
    let r = b.post("/admin/admins/e.petrova/disable", &[]).await;
    assert_eq!(r.location(), "/admin/admins?ok=admin-disabled#e.petrova");
    assert_eq!(again.get("/admin").await.status, StatusCode::SEE_OTHER);
    assert_eq!(Browser::new(&app, "en").login("e.petrova", &fresh).await.status, StatusCode::UNAUTHORIZED);
    let (s, _) = app.call_as(&token, reqwest::Method::GET, "/sites", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "her token stopped working");
    b.get("/admin/admins?ok=admin-disabled").await.has("Disabled").has("their API tokens no longer work");
    b.post("/admin/admins/e.petrova/enable", &[]).await;
    assert_eq!(Browser::new(&app, "en").login("e.petrova", &fresh).await.location(), "/admin");
    assert_eq!(b.post("/admin/admins/nobody/reset", &[]).await.status, StatusCode::NOT_FOUND);
}

/// The site page lists each agent with where it is reached (URL or "pulls", SMTP endpoint),
/// a link to its queue, and "Forget…", which says what will happen before it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_page_shows_agents_endpoints_and_forgets_with_a_warning() {
    let app = seeded(Backend::Sqlite).await;
    let taking = app.enroll_with_smtp("msk", "127.0.0.1:2525").await;
    let pulling = app.enroll("msk").await;
    let (taking, pulling) = (taking["agent_id"].as_str().unwrap(), pulling["agent_id"].as_str().unwrap());
    let mut en = Browser::admin(&app, "en").await;
    en.get("/admin/sites/msk")
        .await
        .has("SMTP <code>127.0.0.1:2525</code>")
        .has("fetches its changes itself (no URL)")
        .has("takes no mail (no SMTP listener)")
        .has(&format!(r#"href="/admin/sites/msk/agents/{taking}/forget""#))
        .has(r#"href="/admin/queue?site=msk""#);
    en.get("/admin").await.lacks("/forget\"");
    // Forgetting the one that takes mail: the site has none left, and the page says so.
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get(&format!("/admin/sites/msk/agents/{taking}/forget"))
        .await
        .has(&format!("Отключить агента {taking}?"))
        .has("не останется агента, принимающего почту");
    let before = app.version().await;
    let r = ru.post(&format!("/admin/sites/msk/agents/{taking}/forget"), &[]).await;
    assert_eq!(r.location(), "/admin/sites/msk?ok=agent-forgotten");
    assert_eq!(app.version().await, before + 1, "its endpoint left the directory");
    ru.get(r.location()).await.has("Агент отключён и удалён из списка.").lacks(taking);
    let agents = app.ok("/agents").await;
    assert_eq!(agents.as_array().unwrap().len(), 1, "{agents}");
    assert_eq!(agents[0]["id"], pulling);
    assert_eq!(
        ru.get(&format!("/admin/sites/spb/agents/{pulling}/forget")).await.status,
        StatusCode::NOT_FOUND
    );
}
