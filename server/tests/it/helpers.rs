//! The harness: a real server on 127.0.0.1:0 over HTTPS, with a fresh SQLite or PostgreSQL
//! database per test, and a client that pins the server's self-signed certificate.

use std::path::Path;

use pochta_directory::wire::{ChangeSet, DeploymentId, Verified, Verifier};
use pochta_server::Running;
use pochta_server::init::{InitOptions, Initialised, init};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;

pub(crate) const DOMAIN: &str = "example.org";

/// Generates `mod name { sqlite, postgres }` tests from one `async fn name(backend: Backend)`,
/// so that every API test runs on both databases.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) struct TestApp {
    /// `https://127.0.0.1:<port>`, without the API prefix.
    pub url: String,
    pub client: reqwest::Client,
    /// The API token `init` made for the first administrator (named `admin`).
    pub token: String,
    pub init: Initialised,
    pub dir: TempDir,
    pub running: Option<Running>,
    /// The PostgreSQL database made for this test, dropped with the app.
    pg_database: Option<String>,
}

/// Inits a data folder for `example.org` and starts the server on a free port.
pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let pg_database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(create_pg_database().await),
    };
    let database = pg_database.as_ref().map(|name| pg_url(&pg_admin_url(), name));
    let opts = InitOptions {
        domain: DOMAIN,
        database: database.as_deref(),
        listen: "127.0.0.1:0".parse().unwrap(),
        public_url: "",
        admin: "admin",
        time_zone: "UTC",
    };
    let init = init(dir.path(), opts).await.expect("init");
    let running = start(dir.path()).await;
    let cert = std::fs::read_to_string(dir.path().join("tls.crt")).expect("the server wrote tls.crt");
    pochta_transport::install_crypto();
    let pin = pochta_transport::fingerprint_of_pem(&cert).expect("a PEM certificate");
    let client = pochta_transport::pinned_client(&pin).expect("client");
    TestApp {
        url: running.url(),
        client,
        token: init.token.clone(),
        init,
        dir,
        running: Some(running),
        pg_database,
    }
}

async fn start(dir: &Path) -> Running {
    pochta_server::App::build(dir).await.expect("build").spawn().await.expect("spawn")
}

/// A reply: status, headers and body.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{} answered non-JSON ({e}): {:?}", self.status, String::from_utf8_lossy(&self.body))
        })
    }
}

impl TestApp {
    pub(crate) fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// Any request to `/api/v1<path>`; `body` is sent as is, as JSON when `json` is set.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut req = self.client.request(method, self.api(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                req = req.header(reqwest::header::CONTENT_TYPE, content_type);
            }
            req = req.body(bytes);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Reply { status, headers, body }
    }

    /// A JSON request with the admin token; the answer's body as JSON (`null` when empty).
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    /// A JSON request with another token.
    pub(crate) async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        let r = self.raw(method, path, Some(token), body).await;
        let v = if r.body.is_empty() { Value::Null } else { r.json() };
        (r.status, v)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// `GET` that must succeed.
    pub(crate) async fn ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// The directory version the API reports.
    pub(crate) async fn version(&self) -> u64 {
        self.ok("/version").await["version"].as_u64().expect("version is a number")
    }

    /// The whole history, newest first.
    pub(crate) async fn changes(&self) -> Vec<Value> {
        self.ok("/changes?limit=500").await.as_array().expect("a list").clone()
    }

    pub(crate) async fn site(&self, id: &str, level: u8) {
        let (s, v) =
            self.post("/sites", json!({"id": id, "name": format!("Site {id}"), "level": level})).await;
        assert_eq!(s, StatusCode::CREATED, "create site {id}: {v}");
    }

    /// A user without a password (no Argon2 work).
    pub(crate) async fn user(&self, name: &str, site: &str) -> Value {
        let (s, v) = self.post("/users", json!({"name": name, "site": site})).await;
        assert_eq!(s, StatusCode::CREATED, "create user {name}: {v}");
        v
    }

    pub(crate) async fn group(&self, name: &str, kind: &str, members: &[&str]) -> Value {
        let (s, v) = self.post("/groups", json!({"name": name, "kind": kind, "members": members})).await;
        assert_eq!(s, StatusCode::CREATED, "create group {name}: {v}");
        v
    }

    /// Enrolls a pull-only agent for `site`; returns the enrollment response.
    pub(crate) async fn enroll(&self, site: &str) -> Value {
        self.enroll_with_smtp(site, "").await
    }

    /// Enrolls an agent for `site` with an SMTP endpoint (`host:port`, or empty).
    pub(crate) async fn enroll_with_smtp(&self, site: &str, smtp: &str) -> Value {
        let (s, v) = self.post(&format!("/sites/{site}/enrollment"), json!({})).await;
        assert_eq!(s, StatusCode::CREATED, "enrollment code: {v}");
        let code = decode_code(v["code"].as_str().unwrap());
        let body = json!({
            "token": code["token"],
            "url": "",
            "tls_sha256": "ab".repeat(32),
            "format": pochta_directory::wire::FORMAT,
            "smtp": smtp,
        });
        let r = self
            .raw(Method::POST, "/agents/enroll", None, Some(("application/json", body.to_string().into())))
            .await;
        assert_eq!(r.status, StatusCode::OK, "enroll: {}", String::from_utf8_lossy(&r.body));
        r.json()
    }

    /// One stats report as the agent with `secret` (so the server has heard from it).
    pub(crate) async fn report_in(&self, secret: &str) {
        let body = json!({"received": 0, "accepted": 0, "delivered": 0, "sent": 0, "queue": 0});
        let r = self
            .raw(
                Method::POST,
                "/sync/stats",
                Some(secret),
                Some(("application/json", body.to_string().into())),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", String::from_utf8_lossy(&r.body));
    }

    /// `GET /sync/<what>` as an agent.
    pub(crate) async fn sync(&self, secret: &str, path: &str) -> Reply {
        self.raw(Method::GET, &format!("/sync/{path}"), Some(secret), None).await
    }

    /// Stops the server and builds it again from the same data folder.
    pub(crate) async fn restart(&mut self) {
        self.running.take().expect("running").stop().await;
        let running = start(self.dir.path()).await;
        self.url = running.url();
        self.running = Some(running);
    }

    pub(crate) fn state(&self) -> &pochta_server::state::AppState {
        &self.running.as_ref().expect("running").state
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else { return };
        // The server may still hold connections; FORCE ends them. Run on a thread of its own:
        // this may be called from inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut c) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await;
                }
            })
        })
        .join();
    }
}

pub(crate) fn pg_admin_url() -> String {
    std::env::var("POCHTA_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "PostgreSQL tests need POCHTA_TEST_POSTGRES (an admin URL such as \
             postgres://pochta:pochta@127.0.0.1:5432/postgres); run scripts/test"
        )
    })
}

/// The admin URL with its database replaced by `name`.
fn pg_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    format!("{base}/{name}{query}")
}

async fn create_pg_database() -> String {
    use sqlx::Connection;
    let admin = pg_admin_url();
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let name = format!("pochta_it_{}", hex::encode(bytes));
    let mut c = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to POCHTA_TEST_POSTGRES ({admin}): {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut c)
        .await
        .expect("CREATE DATABASE");
    c.close().await.ok();
    name
}

/// The JSON inside an enrollment code.
pub(crate) fn decode_code(code: &str) -> Value {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(code).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Asserts an API error: the status, and a JSON body `{"error": "<text>"}` whose text
/// contains `needle`.
#[track_caller]
pub(crate) fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, needle: &str) {
    assert_eq!(status, expected, "body: {body}");
    let msg = body["error"].as_str().unwrap_or_else(|| panic!("not a JSON error: {body}"));
    assert!(!msg.is_empty(), "empty error message");
    assert!(msg.to_lowercase().contains(&needle.to_lowercase()), "error {msg:?} does not mention {needle:?}");
}

/// An enrolled agent as a test sees it.
pub(crate) struct AgentKeys {
    pub secret: String,
    pub verifier: Verifier,
    pub deployment: DeploymentId,
}

impl AgentKeys {
    pub(crate) fn from_enrollment(v: &Value) -> Self {
        AgentKeys {
            secret: v["secret"].as_str().unwrap().to_owned(),
            verifier: Verifier::from_hex(v["verify_key"].as_str().unwrap()).unwrap(),
            deployment: DeploymentId::parse(v["deployment"].as_str().unwrap()).unwrap(),
        }
    }

    /// Unpacks and verifies a `/sync/changes` body.
    pub(crate) fn open_all(&self, body: &[u8]) -> Vec<Verified<ChangeSet>> {
        pochta_directory::wire::unpack(body)
            .expect("a packed body")
            .into_iter()
            .map(|f| ChangeSet::open(f, &self.verifier, &self.deployment).expect("a set that verifies"))
            .collect()
    }
}
