//! Mailbox settings (quota, forwarding, vacation) and the agents' reports about mailboxes:
//! through the API, the admin pages, `/me` and CSV import; kept over a restart; refusals
//! change nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{Backend, TestApp, assert_error, spawn_app};

const PASSWORD: &str = "correct-horse-7";
const MB: u64 = 1 << 20;
const GB: u64 = 1 << 30;

/// Two sites with mailboxes, a gateway, two users with passwords.
async fn seeded(backend: Backend) -> TestApp {
    let app = spawn_app(backend).await;
    app.site("gw", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 2).await;
    for (name, site) in [("ivanov", "msk"), ("petrov", "spb")] {
        let (s, v) = app.post("/users", json!({"name": name, "site": site, "password": PASSWORD})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    app
}

/// A stats report from an agent: zero counters and `extra` fields.
async fn report(app: &TestApp, secret: &str, extra: Value) {
    let mut body = json!({"received": 0, "accepted": 0, "delivered": 0, "sent": 0, "queue": 0});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let r = app
        .raw(
            reqwest::Method::POST,
            "/sync/stats",
            Some(secret),
            Some(("application/json", body.to_string().into())),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
}

fn vacation() -> Value {
    json!({"start": "2026-12-20", "end": "2027-01-10", "subject": "В отпуске", "text": "Вернусь 11 января.", "interval_days": 3})
}

both_backends!(api_round_trip_of_mailbox_settings);
async fn api_round_trip_of_mailbox_settings(backend: Backend) {
    let mut app = seeded(backend).await;
    // A site's default quota, on create and on update.
    let (s, v) = app
        .post("/sites", json!({"id": "ekb", "name": "Екатеринбург", "level": 2, "default_quota": GB}))
        .await;
    assert_eq!((s, &v["default_quota"]), (StatusCode::CREATED, &json!(GB)), "{v}");
    let (s, v) = app.patch("/sites/msk", json!({"default_quota": 2 * GB})).await;
    assert_eq!((s, &v["default_quota"]), (StatusCode::OK, &json!(2 * GB)), "{v}");
    // A new user with all three; GET shows them with the quota in force and no usage yet.
    let forward = json!({"to": ["boss@other.example", "deputy@example.org"], "keep_copy": true});
    let (s, v) = app
        .post(
            "/users",
            json!({"name": "sidorova", "site": "msk", "quota": 500 * MB, "forward": forward, "vacation": vacation()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let got = app.ok("/users/sidorova").await;
    assert_eq!(got["quota"], json!(500 * MB));
    assert_eq!(got["quota_in_force"], json!(500 * MB));
    assert_eq!(got["forward"], forward);
    assert_eq!(got["vacation"], vacation());
    assert_eq!(got["mailbox_bytes"], Value::Null);
    // PATCH: an absent field stays, `null` removes it (the site's default applies again).
    let (s, v) = app.patch("/users/sidorova", json!({"quota": null, "display_name": "Сидорова"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!((&v["quota"], &v["quota_in_force"]), (&Value::Null, &json!(2 * GB)));
    assert_eq!(v["vacation"], vacation());
    let (_, v) = app.patch("/users/sidorova", json!({"forward": null})).await;
    assert_eq!(v["forward"], Value::Null);
    let (_, v) = app.patch("/users/sidorova", json!({"forward": forward})).await;
    assert_eq!(v["forward"], forward);
    // Kept over a restart: the rows hold them.
    let before = app.ok("/users/sidorova").await;
    let sites = app.ok("/sites").await;
    let (dir, _) = app.state().publisher.current();
    app.restart().await;
    assert_eq!(*app.state().publisher.current().0, *dir, "the directory read back from the database");
    assert_eq!(app.ok("/users/sidorova").await, before);
    assert_eq!(app.ok("/sites").await, sites);
    let (s, v) = app.patch("/sites/msk", json!({"default_quota": null})).await;
    assert_eq!((s, v.get("default_quota")), (StatusCode::OK, None), "{v}");
}

both_backends!(refused_mailbox_settings_change_nothing);
async fn refused_mailbox_settings_change_nothing(backend: Backend) {
    let app = seeded(backend).await;
    app.patch("/users/ivanov", json!({"vacation": vacation()})).await;
    let version = app.version().await;
    let before = app.ok("/users/ivanov").await;
    let with = |patch: Value| {
        let mut v = vacation();
        v.as_object_mut().unwrap().extend(patch.as_object().unwrap().clone());
        v
    };
    for (body, needle) in [
        // Checked by the directory's rules...
        (
            json!({"display_name": "X", "vacation": with(json!({"end": "2026-12-01"}))}),
            "ends before it starts",
        ),
        (json!({"enabled": false, "vacation": with(json!({"subject": ""}))}), "subject"),
        (json!({"vacation": with(json!({"subject": "a\r\nBcc: x@y.example"}))}), "control characters"),
        (json!({"vacation": with(json!({"interval_days": 0}))}), "interval"),
        (
            json!({"display_name": "X", "forward": {"to": ["ivanov@msk.example.org"], "keep_copy": false}}),
            "own address",
        ),
        // ... and at the edge, before the edit starts.
        (json!({"display_name": "X", "quota": 0}), "quota"),
        (json!({"vacation": with(json!({"start": "2026-02-30"}))}), "date"),
        (json!({"forward": {"to": ["not an address"], "keep_copy": true}}), ""),
    ] {
        let (s, v) = app.patch("/users/ivanov", body.clone()).await;
        assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, needle);
        assert_eq!(app.version().await, version, "{body}");
        assert_eq!(app.ok("/users/ivanov").await, before, "{body}");
    }
    // A refused create makes no user; a refused site quota changes no site.
    let (s, v) = app
        .post("/users", json!({"name": "new", "site": "msk", "vacation": with(json!({"text": " "}))}))
        .await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "text");
    let (s, v) = app.patch("/sites/msk", json!({"name": "Москва", "default_quota": 0})).await;
    assert_error(s, &v, StatusCode::UNPROCESSABLE_ENTITY, "quota");
    assert_eq!(app.ok("/sites/msk").await["name"], "Site msk");
    assert_eq!(app.version().await, version);
    // The user's sessions survive a refused "disable and bad vacation".
    let mut u = Browser::new(&app, "en");
    u.login("ivanov@example.org", PASSWORD).await;
    let (s, _) = app
        .patch("/users/ivanov", json!({"enabled": false, "vacation": with(json!({"interval_days": 0}))}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(u.get("/me").await.status, StatusCode::OK, "the refused disable ended no session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_sets_forwarding_and_vacation_for_himself_only() {
    let app = seeded(Backend::Sqlite).await;
    app.patch("/users/ivanov", json!({"quota": GB})).await;
    let mut u = Browser::new(&app, "ru");
    assert_eq!(u.login("ivanov@example.org", PASSWORD).await.location(), "/me");
    let r = u.get("/me").await;
    r.has("Пересылка и автоответ")
        .has("Автоответ на время отсутствия")
        .has("данных пока нет (квота 1 ГБ)")
        .has("Квоту ящика устанавливает администратор.")
        .lacks("id=\"quota\"");
    let v = app.version().await;
    // Refused: a bad date, shown next to its field in Russian; nothing changes.
    let form = |end: &'static str| {
        vec![
            ("forward", "boss@other.example\r\nzam@example.org"),
            ("keep_copy", "on"),
            ("vacation_on", "on"),
            ("vacation_start", "2026-12-20"),
            ("vacation_end", end),
            ("vacation_subject", "В отпуске"),
            ("vacation_text", "Вернусь 11 января.\r\nПо срочным вопросам — zam@example.org."),
            ("vacation_days", "3"),
            // Not his to set: ignored.
            ("quota", "1"),
            ("quota_unit", "MB"),
        ]
    };
    let r = u.post("/me/mailbox", &form("2026-12-01")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"vacation_end-error\"")
        .has("Автоответ не может закончиться раньше, чем начнётся.")
        .has("zam@example.org");
    assert_eq!(app.version().await, v);
    let r = u.post("/me/mailbox", &form("2027-01-10")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    u.get(r.location()).await.has("Настройки почтового ящика сохранены.").has("2027-01-10");
    assert_eq!(app.version().await, v + 1);
    let me = app.ok("/users/ivanov").await;
    assert_eq!(me["forward"], json!({"to": ["boss@other.example", "zam@example.org"], "keep_copy": true}));
    assert_eq!(me["vacation"]["text"], "Вернусь 11 января.\nПо срочным вопросам — zam@example.org.");
    assert_eq!(me["vacation"]["interval_days"], 3);
    assert_eq!(me["quota"], json!(GB), "the user cannot change his quota");
    assert_eq!(app.changes().await[0]["author"], "ivanov (self-service)");
    // Nobody else changed.
    let petrov = app.ok("/users/petrov").await;
    assert_eq!((&petrov["forward"], &petrov["vacation"]), (&Value::Null, &Value::Null));
    // Switching both off.
    u.get("/me").await;
    let r = u.post("/me/mailbox", &[("forward", "")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let me = app.ok("/users/ivanov").await;
    assert_eq!((&me["forward"], &me["vacation"]), (&Value::Null, &Value::Null));
    // The form is for users; an administrator's session does not reach it.
    let mut a = Browser::admin(&app, "en").await;
    a.get("/admin").await;
    assert_ne!(a.post("/me/mailbox", &form("2027-01-10")).await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_sets_quota_forwarding_and_vacation_on_the_user_page() {
    let app = seeded(Backend::Sqlite).await;
    let mut a = Browser::admin(&app, "en").await;
    // The site's default quota first.
    a.get("/admin/sites/msk").await.has("Default quota").has("id=\"default-quota\">no limit<");
    let r = a
        .post(
            "/admin/sites/msk",
            &[("name", "Москва"), ("level", "1"), ("default_quota", "2"), ("default_quota_unit", "GB")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    a.get("/admin/sites/msk").await.has("id=\"default-quota\">2 GB<");
    let r = a.get("/admin/users/ivanov").await;
    r.has("Vacation auto-reply")
        .has("Leave empty for the site&#39;s default (2 GB).")
        .has("not reported yet (quota 2 GB)");
    let v = app.version().await;
    // A bad quota: the error under the field, nothing changes, what was typed stays.
    let r = a
        .post(
            "/admin/users/ivanov/mailbox",
            &[("quota", "lots"), ("quota_unit", "MB"), ("forward", "boss@other.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    r.has("id=\"quota-error\"").has("“lots” is not a quota").has("boss@other.example");
    assert_eq!(app.version().await, v);
    let r = a
        .post(
            "/admin/users/ivanov/mailbox",
            &[
                ("quota", "1,5"),
                ("quota_unit", "GB"),
                ("forward", "boss@other.example"),
                ("vacation_on", "on"),
                ("vacation_subject", "Away"),
                ("vacation_text", "Back soon."),
                ("vacation_days", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    a.get(r.location()).await.has("Mailbox settings saved.").has("id=\"vacation-facts\">on<");
    let u = app.ok("/users/ivanov").await;
    assert_eq!(u["quota"], json!(3 * GB / 2));
    assert_eq!(u["forward"]["keep_copy"], false);
    assert_eq!(u["vacation"]["interval_days"], 7);
    assert_eq!(app.version().await, v + 1);
    // In Russian.
    let mut ru = Browser::admin(&app, "ru").await;
    ru.get("/admin/users/ivanov")
        .await
        .has("Квота")
        .has("Пересылка")
        .has("Оставлять копию в этом ящике")
        .has("Автоответ на время отсутствия")
        .has("Настройка почтовой программы")
        .has("данных пока нет (квота 1,5 ГБ)");
    ru.get("/admin/sites/msk").await.has("Квота по умолчанию").has("2 ГБ");
    ru.get("/admin/users").await.has("Занято в ящике");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_page_shows_usage_reported_by_the_home_site() {
    let mut app = seeded(Backend::Sqlite).await;
    app.patch("/users/ivanov", json!({"quota": GB})).await;
    app.user("sidorov", "msk").await;
    let msk = app.enroll("msk").await;
    let spb = app.enroll("spb").await;
    let (msk, spb) = (msk["secret"].as_str().unwrap(), spb["secret"].as_str().unwrap());
    // The full list after the agent's start; a stale figure from another site is not shown.
    report(&app, msk, json!({"mailbox_sizes": {"ivanov": 12_900_000, "sidorov": 3 * GB, "ghost": 5}})).await;
    report(&app, spb, json!({"mailbox_sizes": {"ivanov": 999, "petrov": 2048}})).await;
    let mut a = Browser::admin(&app, "en").await;
    let r = a.get("/admin/users").await;
    r.has("Mailbox usage")
        .has("12.3 MB of 1 GB")
        .has("3 GB (no limit)")
        .has("2 KB (no limit)")
        .lacks("999 B");
    assert_eq!(app.ok("/users/ivanov").await["mailbox_bytes"], 12_900_000);
    // Sorted by usage, largest first.
    let r = a.get("/admin/users?sort=usage&dir=desc").await;
    let at = |name: &str| r.body.find(&format!("/admin/users/{name}\"")).unwrap();
    assert!(at("sidorov") < at("ivanov") && at("ivanov") < at("petrov"), "sorted by usage");
    // A later report carries only what changed; the rest is kept, also over a restart.
    report(&app, msk, json!({"mailbox_sizes": {"ivanov": 600 * MB}})).await;
    app.restart().await;
    let mut a = Browser::admin(&app, "ru").await;
    a.get("/admin/users").await.has("600 МБ из 1 ГБ").has("3 ГБ (без ограничения)");
    let mut u = Browser::new(&app, "en");
    u.login("ivanov@example.org", PASSWORD).await;
    u.get("/me").await.has("id=\"mailbox-usage\">600 MB of 1 GB<");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_settings_come_from_the_sites_agents() {
    let mut app = seeded(Backend::Sqlite).await;
    let msk = app.enroll("msk").await;
    let msk = msk["secret"].as_str().unwrap().to_owned();
    let mut u = Browser::new(&app, "en");
    u.login("ivanov@example.org", PASSWORD).await;
    u.get("/me").await.has("Mail program settings").has("have not reported their addresses yet");
    let services = json!({
        "submission": "mail.msk.example.org:587",
        "submissions": "mail.msk.example.org:465",
        "imap": "mail.msk.example.org:143",
        "imaps": "mail.msk.example.org:993",
        "pop3s": "mail.msk.example.org:995"
    });
    report(&app, &msk, json!({"services": services})).await;
    // A report without services keeps the last ones.
    report(&app, &msk, json!({})).await;
    let r = u.get("/me").await;
    r.lacks("have not reported")
        .has("User name: ivanov@example.org")
        .has("<code>mail.msk.example.org</code></td><td class=\"num\">993</td><td>SSL/TLS</td>")
        .has("IMAP (incoming)</td><td><code>mail.msk.example.org</code></td><td class=\"num\">143</td><td>STARTTLS</td>")
        .has("POP3 (incoming)")
        .has("SMTP (outgoing)</td><td><code>mail.msk.example.org</code></td><td class=\"num\">465</td><td>SSL/TLS</td>")
        .has(">587</td><td>STARTTLS</td>");
    // The other site's user sees nothing of msk's servers.
    let mut p = Browser::new(&app, "ru");
    p.login("petrov@example.org", PASSWORD).await;
    p.get("/me").await.has("Серверы этой площадки ещё не сообщили свои адреса").lacks("mail.msk.example.org");
    // The same block on the administrator's page, in Russian, and after a restart.
    app.restart().await;
    let mut a = Browser::admin(&app, "ru").await;
    a.get("/admin/users/ivanov")
        .await
        .has("Настройка почтовой программы")
        .has("IMAP (входящая)")
        .has("SMTP (исходящая)")
        .has("Защита соединения")
        .has("mail.msk.example.org");
    // A removed agent's services go with it.
    let agent = app.ok("/agents").await[0]["id"].as_str().unwrap().to_owned();
    let (s, _) = app.delete(&format!("/agents/{agent}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    a.get("/admin/users/ivanov").await.has("Серверы этой площадки ещё не сообщили свои адреса");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_import_takes_an_optional_quota_column() {
    let app = seeded(Backend::Sqlite).await;
    let mut a = Browser::admin(&app, "en").await;
    a.get("/admin/import").await.has("quota");
    let csv = "name,display_name,site,password,enabled,quota\nivanov,Иван Иванов,msk,,yes,2GB\nnew.user,Новый,msk,,yes,500 MB\n";
    let r = a.post("/admin/import", &[("csv", csv), ("action", "apply")]).await;
    assert!(r.status.is_success() || r.status == StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.ok("/users/ivanov").await["quota"], json!(2 * GB));
    assert_eq!(app.ok("/users/new.user").await["quota"], json!(500 * MB));
    // The old format leaves quotas as they are; a bad quota refuses the whole file.
    let v = app.version().await;
    let r = a
        .post("/admin/import", &[("csv", "ivanov,Иван,msk\npetrov,,spb,,,lots\n"), ("action", "apply")])
        .await;
    r.has("“lots” is not a quota");
    assert_eq!(app.version().await, v);
    a.post("/admin/import", &[("csv", "ivanov,Иван,msk\n"), ("action", "apply")]).await;
    assert_eq!(app.ok("/users/ivanov").await["quota"], json!(2 * GB));
    assert_eq!(app.ok("/users/ivanov").await["display_name"], "Иван");
}
