//! A small HTTP "browser" for the web pages: keeps cookies, sends the page's CSRF token with
//! forms, does not follow redirects (tests look at them), speaks one language.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::helpers::TestApp;

pub(crate) struct Browser {
    pub url: String,
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub lang: &'static str,
    /// The CSRF token of the last page that had a form.
    pub csrf: Option<String>,
}

pub(crate) struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub(crate) fn location(&self) -> &str {
        self.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    #[track_caller]
    pub(crate) fn has(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "{}: the page does not contain {text:?}:\n{}",
            self.status,
            self.body
        );
        self
    }
    #[track_caller]
    pub(crate) fn lacks(&self, text: &str) -> &Self {
        assert!(!self.body.contains(text), "the page contains {text:?}:\n{}", self.body);
        self
    }
    /// The set-cookie header for `name`.
    pub(crate) fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_owned)
    }
}

pub(crate) const SESSION: &str = "__Host-pochta_session";

impl Browser {
    pub(crate) fn new(app: &TestApp, lang: &'static str) -> Browser {
        Browser::from_address(app, lang, "127.0.0.1")
    }

    /// A browser whose connections come from `ip` (a loopback address: 127.0.0.x), to be
    /// another client in the server's eyes.
    pub(crate) fn from_address(app: &TestApp, lang: &'static str, ip: &str) -> Browser {
        Browser::at(&app.url, lang, ip)
    }

    /// A browser for the server at `url`.
    pub(crate) fn at(url: &str, lang: &'static str, ip: &str) -> Browser {
        pochta_transport::install_crypto();
        let client = reqwest::Client::builder()
            .local_address(ip.parse::<std::net::IpAddr>().expect("an IP address"))
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { url: url.to_owned(), client, cookies: BTreeMap::new(), lang, csrf: None }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Resp {
        let req = req.header("cookie", self.cookie_header()).header("accept-language", self.lang);
        let r = req.send().await.expect("request");
        let status = r.status();
        let headers = r.headers().clone();
        for v in headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()) {
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), val.to_owned());
            }
        }
        let body = r.text().await.unwrap();
        if let Some(t) = csrf_of(&body) {
            self.csrf = Some(t);
        }
        Resp { status, headers, body }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Resp {
        let req = self.client.get(format!("{}{path}", self.url));
        self.send(req).await
    }

    /// Posts a form with the CSRF token of the last page.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields, &[]).await
    }

    /// Posts exactly these fields, with extra headers.
    pub(crate) async fn post_raw(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(req).await
    }

    pub(crate) async fn login(&mut self, login: &str, password: &str) -> Resp {
        self.get("/login").await;
        self.post("/login", &[("login", login), ("password", password)]).await
    }

    /// Logs in as the first administrator and checks it worked.
    pub(crate) async fn admin(app: &TestApp, lang: &'static str) -> Browser {
        Browser::admin_at(&app.url, &app.init, lang).await
    }

    /// Logs in as the administrator `init` names at the server at `url`.
    pub(crate) async fn admin_at(
        url: &str,
        init: &pochta_server::init::Initialised,
        lang: &'static str,
    ) -> Browser {
        let mut b = Browser::at(url, lang, "127.0.0.1");
        let r = b.login(&init.admin, &init.password).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "admin login: {}", r.body);
        assert_eq!(r.location(), "/admin");
        b
    }
}

fn csrf_of(body: &str) -> Option<String> {
    let i = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = body[i..].find('"')?;
    Some(body[i..i + end].to_owned())
}
