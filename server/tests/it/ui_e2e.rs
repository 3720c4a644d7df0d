//! End to end in a real browser: headless Chromium driven over WebDriver (Debian's `chromium`
//! and `chromedriver`, started here on a free port), against a real server and real
//! `pochta-agent` processes. Screenshots of the main pages in both languages are saved under
//! `target/screenshots/` as test artifacts. The user's new password is then tried where she
//! uses it: AUTH over SMTP (Python's smtplib, STARTTLS on submission) at her site's agent; so
//! does an app password she makes in the browser, until she revokes it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use pochta_server::demo::{self, AgentLinks};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver this test started.
struct Driver {
    http: reqwest::Client,
    base: String,
    _chromedriver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let chromedriver = tokio::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/test installs it)");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{root}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let r = send_json(http.post(format!("{root}/session")), &caps).await;
        let id = r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {r}"));
        Driver { http, base: format!("{root}/session/{id}"), _chromedriver: chromedriver, _profile: profile }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let req = self.http.request(method.clone(), format!("{}{path}", self.base));
        let r =
            if method == reqwest::Method::GET { read_json(req).await } else { send_json(req, &body).await };
        if r["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    /// Runs `js` in the page (`return …` gives its value).
    async fn script(&self, js: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", json!({ "script": js, "args": [] })).await
    }

    async fn window(&self, width: u32, height: u32) {
        self.cmd(reqwest::Method::POST, "/window/rect", json!({ "width": width, "height": height })).await;
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        for _ in 0..50 {
            let req = self.http.post(format!("{}/element", self.base));
            let r = send_json(req, &json!({"using": "css selector", "value": css})).await;
            if let Some(id) = r["value"][ELEMENT].as_str() {
                return id.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let req = self.http.post(format!("{}/element", self.base));
        let last = send_json(req, &json!({"using": "css selector", "value": css})).await;
        panic!("no element {css} ({last}) on {}", self.source().await);
    }

    async fn fill(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/clear"), json!({})).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/value"), json!({ "text": text })).await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), json!({})).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", json!({})).await.as_str().unwrap_or("").to_owned()
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", json!({})).await.as_str().unwrap_or("").to_owned()
    }

    async fn wait_for(&self, text: &str) {
        for _ in 0..100 {
            if self.source().await.contains(text) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{text:?} never appeared at {}: {}", self.url().await, self.source().await);
    }

    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// What sticks out past the screen's right edge, named (at most five), so a failure says
    /// where; `[]` when nothing does.
    async fn too_wide(&self) -> Value {
        self.script(
            "const w = document.documentElement.clientWidth; \
             return [...document.querySelectorAll('main *')] \
               .filter(e => e.getBoundingClientRect().right > w + 1) \
               .filter(e => { for (let a = e.parentElement; a; a = a.parentElement) \
                   if (getComputedStyle(a).overflowX != 'visible') return false; return true; }) \
               .slice(0, 5) \
               .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '') \
                         + ' ' + Math.round(e.getBoundingClientRect().right) + 'px');",
        )
        .await
    }

    async fn quit(&self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

async fn send_json(req: reqwest::RequestBuilder, body: &Value) -> Value {
    read_json(req.header("content-type", "application/json").body(body.to_string())).await
}

async fn read_json(req: reqwest::RequestBuilder) -> Value {
    let bytes = req.send().await.expect("chromedriver answers").bytes().await.unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

async fn login(d: &Driver, app: &TestApp, login: &str, password: &str) {
    d.go(&format!("{}/login", app.url)).await;
    d.fill("#login", login).await;
    d.fill("#password", password).await;
    d.click("button[type=submit].primary").await;
}

/// Python's smtplib: EHLO, STARTTLS, EHLO, then `AUTH PLAIN` with the initial response; prints
/// the reply code.
const PY_AUTH_PLAIN: &str = r#"
import base64, smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
user, password = sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(host, int(port), timeout=60)
s.ehlo()
s.starttls(context=ctx)
s.ehlo()
if "PLAIN" not in s.esmtp_features.get("auth", "").split():
    sys.exit("AUTH PLAIN is not offered after STARTTLS: " + s.esmtp_features.get("auth", ""))
token = base64.b64encode(("\0" + user + "\0" + password).encode()).decode()
code, text = s.docmd("AUTH", "PLAIN " + token)
print(code)
s.quit()
"#;

/// The reply code to `AUTH PLAIN` for `user` at the submission listener `addr` (`host:port`).
async fn smtp_auth_plain(addr: &str, user: &str, password: &str) -> u16 {
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(PY_AUTH_PLAIN)
        .args([addr, user, password])
        .output()
        .await
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "smtplib: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout.trim().parse().unwrap_or_else(|_| panic!("no reply code from smtplib: {stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_and_user_in_a_real_browser() {
    let app = spawn_app(Backend::Sqlite).await;
    app.site("gw", 0).await;
    app.site("msk", 1).await;
    app.site("spb", 1).await;
    app.group("staff", "list", &[]).await;
    for i in 0..30 {
        app.user(&format!("user{i:02}"), if i % 3 == 0 { "spb" } else { "msk" }).await;
    }
    // Real agents for both sites with mailboxes.
    let bin = demo::agent_binary().expect("build the workspace first (scripts/test does)");
    let base = app.dir.path().join("agents");
    let running = app.running.as_ref().unwrap();
    let (_msk, msk) = demo::start_agent(running, &bin, &base, "msk", AgentLinks::default()).await.unwrap();
    let (_spb, spb) =
        demo::start_agent(running, &bin, &base, "spb", AgentLinks { pull: true, ..Default::default() })
            .await
            .unwrap();
    let agents = [msk, spb];
    demo::wait_in_sync(running, &agents, Duration::from_secs(60)).await.unwrap();

    let d = Driver::start().await;
    // The administrator, in English.
    login(&d, &app, "admin", &app.init.password).await;
    d.wait_for("Sites and agents").await;
    d.screenshot("en-dashboard").await;
    d.go(&format!("{}/admin/users/new", app.url)).await;
    d.fill("#name", "smirnova").await;
    d.fill("#display_name", "Anna Smirnova").await;
    d.click("#site option[value=msk]").await;
    // "Generate" fills in a strong password and shows it; "Hide" hides it again.
    d.click("#password-generate").await;
    let generated =
        d.script("const p = document.getElementById('password'); return [p.value.length, p.type];").await;
    assert_eq!(generated, json!([16, "text"]), "the generated password is shown");
    d.click("button[aria-controls=password]").await;
    assert_eq!(d.script("return document.getElementById('password').type;").await, json!("password"));
    d.fill("#password", "first-passw0rd").await;
    d.screenshot("en-user-new").await;
    d.click("#create").await;
    d.wait_for("The user has been created.").await;
    // Add her to the list.
    d.go(&format!("{}/admin/groups/staff", app.url)).await;
    d.fill("#member", "smirnova@example.org").await;
    d.click("#add-member").await;
    d.wait_for("The member has been added.").await;
    d.screenshot("en-group").await;
    // Move her to spb: the confirmation says what will happen; then the button moves her.
    d.go(&format!("{}/admin/users/smirnova", app.url)).await;
    d.click("#move-site option[value=spb]").await;
    d.click("#move").await;
    d.wait_for("smirnova@spb.example.org").await;
    d.screenshot("en-move-confirm").await;
    assert!(d.source().await.contains("smirnova@msk.example.org"), "the old address keeps working");
    d.click("#confirm").await;
    d.wait_for("The user has been moved.").await;
    assert_eq!(app.ok("/users/smirnova").await["site"], "spb");
    // The agents catch up, and the dashboard shows it.
    demo::wait_in_sync(running, &agents, Duration::from_secs(60)).await.unwrap();
    let v = app.version().await;
    d.go(&format!("{}/admin", app.url)).await;
    d.wait_for(&format!("id=\"version\">{v}<")).await;
    d.wait_for("in sync").await;
    d.screenshot("en-dashboard-after-move").await;
    // The address trace in the browser: the list's copy per site, each with how it gets there.
    d.go(&format!("{}/admin/trace?rcpt=staff%40example.org&internal=on", app.url)).await;
    d.wait_for("staff@example.org is a mailing list").await;
    d.wait_for("How the copy gets there").await;
    // Every administrator's page in both languages, on a desktop (1366 px) and on a phone
    // (390 px). On the phone the lists become cards: no table is wider than the screen, and
    // no page scrolls sideways.
    let pages = [
        ("dashboard", "/admin"),
        ("users", "/admin/users"),
        ("user", "/admin/users/smirnova"),
        ("user-new", "/admin/users/new"),
        ("groups", "/admin/groups"),
        ("group", "/admin/groups/staff"),
        ("sites", "/admin/sites"),
        ("site", "/admin/sites/msk"),
        ("dns", "/admin/dns"),
        ("queue", "/admin/queue"),
        ("trace", "/admin/trace?rcpt=staff%40example.org&internal=on"),
        ("history", "/admin/history"),
        ("import", "/admin/import"),
        ("logins", "/admin/logins"),
        ("admins", "/admin/admins"),
        ("account", "/admin/account"),
    ];
    for lang in ["en", "ru"] {
        d.go(&format!("{}/lang/{lang}?next=/admin", app.url)).await;
        d.wait_for(&format!("<html lang=\"{lang}\"")).await;
        for (width, height, suffix) in [(1366, 900, ""), (390, 844, "-390")] {
            d.window(width, height).await;
            for (name, path) in pages {
                d.go(&format!("{}{path}", app.url)).await;
                d.wait_for("</main>").await;
                assert!(d.source().await.contains(&format!("lang=\"{lang}\"")), "{path} is not in {lang}");
                // What sticks out past the screen's right edge, named, so a failure says where.
                assert_eq!(
                    d.too_wide().await,
                    json!([]),
                    "{path} in {lang} is wider than a {width} px screen"
                );
                if width < 1000 {
                    // The phone's screenshot shows the content, not the header above it.
                    d.script("const t = document.querySelector('table.cards, ol.history, section.card'); if (t) t.scrollIntoView(); return true;").await;
                }
                d.screenshot(&format!("{lang}-{name}{suffix}")).await;
            }
        }
    }
    d.window(1366, 900).await;
    d.click("form[action='/logout'] button").await;
    d.wait_for("id=\"login\"").await;

    // The user, in Russian (remembered): logs in and changes her password.
    login(&d, &app, "smirnova@example.org", "first-passw0rd").await;
    d.wait_for("smirnova@spb.example.org").await;
    d.wait_for("staff@example.org").await;
    d.screenshot("ru-me").await;
    d.fill("#current", "first-passw0rd").await;
    d.fill("#password", "short").await;
    d.fill("#confirm", "short").await;
    d.click("form[action='/me/password'] button[type=submit]").await;
    d.wait_for("не короче 10 символов").await;
    d.screenshot("ru-me-error").await;
    let before = app.version().await;
    d.fill("#current", "first-passw0rd").await;
    d.fill("#password", "second-passw0rd").await;
    d.fill("#confirm", "second-passw0rd").await;
    d.click("form[action='/me/password'] button[type=submit]").await;
    d.wait_for("Пароль изменён.").await;
    assert_eq!(app.version().await, before + 1);
    let (dir, _) = app.state().publisher.current();
    let hash =
        dir.user(&pochta_directory::LocalPart::parse("smirnova").unwrap()).unwrap().password.clone().unwrap();
    assert!(hash.verify("second-passw0rd") && !hash.verify("first-passw0rd"));
    // The change set with the new hash reaches her site's agent, which takes the new password
    // over SMTP and refuses the old one.
    let spb = &agents[1];
    crate::bed::agent_reaches(spb, before + 1).await;
    let official = "smirnova@example.org";
    assert_eq!(smtp_auth_plain(&spb.submission, official, "second-passw0rd").await, 235);
    assert_eq!(smtp_auth_plain(&spb.submission, official, "first-passw0rd").await, 535);

    // An app password for her phone, made in the browser and shown once, works at her agent
    // until she revokes it; it fits a phone's screen.
    d.fill("#app-label", "Телефон").await;
    d.click("#app-new button[type=submit]").await;
    d.wait_for("id=\"app-password-made\"").await;
    let phone = d.script("return document.getElementById('app-password').textContent;").await;
    let phone = phone.as_str().unwrap().to_owned();
    assert_eq!(phone.len(), 24, "{phone}");
    let top = d.script("return document.getElementById('app-password').getBoundingClientRect().top;").await;
    let top = top.as_f64().unwrap();
    assert!((0.0..900.0).contains(&top), "the page opens at the new password, not above it: {top}");
    d.screenshot("ru-me-app-password").await;
    d.window(390, 844).await;
    assert_eq!(d.too_wide().await, json!([]), "the app password and its card fit 390 px");
    d.script("document.getElementById('app-passwords').scrollIntoView(); return true;").await;
    d.screenshot("ru-me-app-password-390").await;
    d.window(1366, 900).await;
    let made = app.version().await;
    crate::bed::agent_reaches(spb, made).await;
    assert_eq!(smtp_auth_plain(&spb.submission, official, &phone).await, 235, "the app password logs in");
    assert_eq!(smtp_auth_plain(&spb.submission, official, "second-passw0rd").await, 235, "so does hers");
    d.go(&format!("{}/me", app.url)).await;
    d.wait_for("Телефон</td>").await;
    assert!(!d.source().await.contains(&phone), "shown once only");
    d.click("#app-passwords form.revoke button").await;
    d.wait_for("Пароль приложения отозван").await;
    crate::bed::agent_reaches(spb, made + 1).await;
    assert_eq!(smtp_auth_plain(&spb.submission, official, &phone).await, 535, "a revoked one is refused");
    demo::wait_in_sync(running, &agents, Duration::from_secs(60)).await.unwrap();
    d.click("a[hreflang=en]").await;
    d.wait_for("My account").await;
    d.screenshot("en-me").await;
    d.click("form[action='/logout'] button").await;
    d.wait_for("id=\"login\"").await;
    d.screenshot("en-login").await;
    d.quit().await;
}

/// Two-factor login in a real browser, in Russian: the header's name leads to the account page,
/// the QR code is drawn, the code the app would show turns it on, the recovery codes are shown
/// once; the next login asks for the code, which the one-time-code field takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_factor_login_in_a_real_browser() {
    use crate::two_factor::{code_at, now};
    let app = spawn_app(Backend::Sqlite).await;
    let d = Driver::start().await;
    d.go(&format!("{}/lang/ru?next=/login", app.url)).await;
    login(&d, &app, "admin", &app.init.password).await;
    d.wait_for("Площадки и агенты").await;
    d.click("header a.who").await;
    d.wait_for("Двухфакторный вход").await;
    d.wait_for("Выключен").await;
    d.click("a[href='/admin/account/two-factor']").await;
    d.wait_for("Отсканируйте этот QR-код").await;
    // The QR code is drawn, square and big enough for a phone's camera.
    let qr = d
        .script("const r = document.querySelector('.qr-wrap svg').getBoundingClientRect(); return [Math.round(r.width) >= 150, Math.round(r.width) == Math.round(r.height)];")
        .await;
    assert_eq!(qr, json!([true, true]), "the QR code is drawn square and at least 150 px");
    d.screenshot("ru-account-totp-setup").await;
    let key = d.script("return document.querySelector('input[name=secret]').value;").await;
    let key = key.as_str().unwrap().to_owned();
    d.fill("#enable-code", &code_at(&key, now() - 30)).await;
    d.click("form[action='/admin/account/two-factor'] button.primary").await;
    d.wait_for("Двухфакторный вход включён").await;
    d.wait_for("id=\"recovery-codes\"").await;
    d.screenshot("ru-account-recovery-codes").await;
    d.click("form[action='/logout'] button").await;
    d.wait_for("id=\"login\"").await;

    // The next login asks for the code; a wrong one is refused in Russian, the right one leads in.
    login(&d, &app, "admin", &app.init.password).await;
    d.wait_for("Код из приложения").await;
    assert_eq!(
        d.script("const c = document.getElementById('code'); return [c.autocomplete, c.inputMode, document.activeElement === c];").await,
        json!(["one-time-code", "numeric", true]),
        "the code field is the one-time-code field, numeric, focused"
    );
    d.fill("#code", "000").await;
    d.click("button[type=submit].primary").await;
    d.wait_for("Код неверный или уже использован").await;
    d.screenshot("ru-login-code-error").await;
    d.fill("#code", &code_at(&key, now())).await;
    d.click("button[type=submit].primary").await;
    d.wait_for("Площадки и агенты").await;
    assert!(d.url().await.ends_with("/admin"), "{}", d.url().await);
    d.quit().await;
}

/// A regional administrator in a real browser, in Russian: created for Moscow only on the
/// administrators page, chooses her own password at first login, sees Moscow's users and no
/// domain pages in the navigation; another site's user and the domain's pages answer with a
/// styled "not found" and "no access", typed URLs included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_administrator_in_a_real_browser() {
    let app = crate::web::seeded(Backend::Sqlite).await;
    let d = Driver::start().await;
    d.go(&format!("{}/lang/ru?next=/login", app.url)).await;
    login(&d, &app, "admin", &app.init.password).await;
    d.wait_for("Площадки и агенты").await;
    d.go(&format!("{}/admin/admins", app.url)).await;
    d.fill("form[action='/admin/admins'] #name", "msk.it").await;
    d.click("form[action='/admin/admins'] input[name='site.msk']").await;
    d.click("form[action='/admin/admins'] button.primary").await;
    d.wait_for("id=\"new-password\"").await;
    let first = d.script("return document.getElementById('new-password').textContent.trim();").await;
    let first = first.as_str().unwrap().to_owned();
    d.click("form[action='/logout'] button").await;
    d.wait_for("id=\"login\"").await;

    login(&d, &app, "msk.it", &first).await;
    d.wait_for("action=\"/login/password\"").await;
    d.fill("#password", "Moscow-only-2026").await;
    d.fill("#confirm", "Moscow-only-2026").await;
    d.click("form[action='/login/password'] button[type=submit]").await;
    d.wait_for("Площадки и агенты").await;
    d.go(&format!("{}/admin/users", app.url)).await;
    d.wait_for("ivanov").await;
    let page = d.source().await;
    assert!(!page.contains("petrov"), "another site's user is not listed");
    for domain_page in ["/admin/dns", "/admin/history", "/admin/admins"] {
        assert!(!page.contains(&format!("href=\"{domain_page}\"")), "the navigation hides {domain_page}");
    }
    d.screenshot("ru-site-admin-users").await;
    // Typed URLs: another site's user is not found, a domain page is not hers.
    d.go(&format!("{}/admin/users/petrov", app.url)).await;
    d.wait_for("Страница не найдена").await;
    assert!(!d.source().await.contains("petrov@spb"), "nothing of petrov is shown");
    d.go(&format!("{}/admin/dns", app.url)).await;
    d.wait_for("Нет доступа").await;
    d.wait_for("только администратору всего домена").await;
    d.screenshot("ru-site-admin-forbidden").await;
    // Her own user she can change.
    d.go(&format!("{}/admin/users/ivanov", app.url)).await;
    d.wait_for("Иван Иванов").await;
    d.quit().await;
}
