//! Enrollment: turn the one-time code the server printed into a configured agent.
//!
//! The code carries the server's URL, its certificate pin and a one-time token. The agent makes
//! its own TLS identity, tells the server how to reach it (or that it only pulls) and its pin,
//! and gets back its id, secrets, site, and the deployment's id and verify key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pochta_directory::api::{EnrollRequest, EnrollResponse, ErrorBody, path};
use pochta_directory::wire::{DeploymentId, Verifier};
use pochta_directory::{Domain, Level, SiteId};
use pochta_transport::{Identity, TransportError};

use crate::config::{self, Config, ConfigError, ServerLink};
use crate::replica::{Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("the enrollment code is not valid ({0}); copy it again from the server")]
    BadCode(String),
    #[error("{0} is already enrolled; use another --data directory or remove it first")]
    AlreadyEnrolled(String),
    #[error("{0}")]
    BadArgs(String),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("cannot reach the server at {0}: {1}")]
    Unreachable(String, String),
    #[error("the server refused the enrollment ({0}): {1}")]
    Refused(u16, String),
    #[error("the server's answer is not usable: {0}")]
    BadResponse(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub use pochta_directory::api::EnrollmentCode;

/// Parses the code the server printed (base64url of its JSON).
pub fn parse_code(code: &str) -> Result<EnrollmentCode, EnrollError> {
    EnrollmentCode::parse(code).map_err(|e| EnrollError::BadCode(e.to_string()))
}

#[derive(Debug, Clone)]
pub struct EnrollArgs {
    pub data: PathBuf,
    pub code: String,
    pub listen: SocketAddr,
    /// How the server and peers reach this agent; default `https://<listen>`.
    pub advertise_url: Option<String>,
    /// Behind NAT: no URL, the agent pulls.
    pub pull: bool,
    /// `host:port` where other sites reach this agent's SMTP listener (the port-25 role);
    /// `None` when they cannot.
    pub smtp: Option<String>,
}

/// Where the SMTP listener binds for an advertised `host:port`: that address when it is an
/// IP address, otherwise every interface on that port.
fn smtp_listen(advertised: Option<&str>) -> Option<SocketAddr> {
    let a = advertised?;
    if let Ok(addr) = a.parse::<SocketAddr>() {
        return Some(addr);
    }
    let port = a.rsplit_once(':')?.1.parse::<u16>().ok()?;
    Some(SocketAddr::from(([0, 0, 0, 0], port)))
}

/// The certificate names of an agent listening on `listen`: its address and `localhost`.
pub fn identity_names(listen: &SocketAddr, advertise_url: &str) -> Vec<String> {
    let mut names = vec![listen.ip().to_string(), "localhost".to_owned()];
    if let Some(host) = url_host(advertise_url)
        && !names.contains(&host)
    {
        names.push(host);
    }
    names
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    (!host.is_empty()).then(|| host.to_owned())
}

/// Enrolls: identity, the server call, `agent.toml`, an empty `replica.db`.
pub async fn enroll(args: &EnrollArgs) -> Result<Config, EnrollError> {
    let code = parse_code(&args.code)?;
    if let Some(smtp) = &args.smtp
        && smtp_listen(Some(smtp)).is_none()
    {
        return Err(EnrollError::BadArgs(format!("--smtp '{smtp}' must be host:port")));
    }
    let dir = &args.data;
    if Config::exists(dir) {
        return Err(EnrollError::AlreadyEnrolled(dir.display().to_string()));
    }
    let advertise_url = match (&args.advertise_url, args.pull) {
        (Some(_), true) => {
            return Err(EnrollError::BadArgs("use either --advertise-url or --pull, not both".into()));
        }
        (Some(u), false) if !u.starts_with("https://") => {
            return Err(EnrollError::BadArgs(format!("the advertised URL '{u}' must start with https://")));
        }
        (Some(u), false) => u.trim_end_matches('/').to_owned(),
        (None, true) => String::new(),
        (None, false) if args.listen.ip().is_unspecified() => {
            return Err(EnrollError::BadArgs(format!(
                "listening on {} needs --advertise-url (how the server reaches this agent) or --pull",
                args.listen
            )));
        }
        (None, false) => format!("https://{}", args.listen),
    };
    std::fs::create_dir_all(dir).map_err(|e| EnrollError::DataDir(dir.display().to_string(), e))?;
    pochta_transport::install_crypto();
    let identity = Identity::load_or_create(dir, &identity_names(&args.listen, &advertise_url))?;
    let fingerprint = identity.fingerprint()?;

    let client = pochta_transport::pinned_client(&code.tls_sha256)?;
    let url = format!("{}{}{}", code.server.trim_end_matches('/'), path::API, path::ENROLL);
    let body = serde_json::to_vec(&EnrollRequest {
        token: code.token.clone(),
        url: advertise_url.clone(),
        tls_sha256: fingerprint,
        format: pochta_directory::wire::FORMAT,
        smtp: args.smtp.clone().unwrap_or_default(),
    })
    .expect("the request always serialises");
    let resp = client
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| EnrollError::Unreachable(code.server.clone(), describe(&e)))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| EnrollError::Unreachable(code.server.clone(), describe(&e)))?;
    if !status.is_success() {
        let msg = serde_json::from_str::<ErrorBody>(&text)
            .map_or_else(|_| text.chars().take(200).collect(), |e| e.error);
        return Err(EnrollError::Refused(status.as_u16(), msg));
    }
    let resp: EnrollResponse =
        serde_json::from_str(&text).map_err(|e| EnrollError::BadResponse(e.to_string()))?;
    let cfg = config_from_response(resp, args, advertise_url, &code)?;
    Db::open(&Config::replica_path(dir)).await?.close().await;
    cfg.save(dir)?;
    Ok(cfg)
}

/// The full chain of causes: reqwest's own message is often just "error sending request".
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn config_from_response(
    resp: EnrollResponse,
    args: &EnrollArgs,
    advertise_url: String,
    code: &EnrollmentCode,
) -> Result<Config, EnrollError> {
    let bad = |what: &str| EnrollError::BadResponse(format!("missing or invalid '{what}'"));
    let text = |key: &str, value: String| if value.is_empty() { Err(bad(key)) } else { Ok(value) };
    let level = Level::try_from(resp.level).map_err(|_| bad("level"))?;
    Verifier::from_hex(&resp.verify_key).map_err(|_| bad("verify_key"))?;
    Ok(Config {
        agent_id: text("agent_id", resp.agent_id)?,
        site: SiteId::parse(&resp.site).map_err(|_| bad("site"))?,
        level,
        listen: args.listen,
        pull: advertise_url.is_empty(),
        advertise_url,
        heartbeat_secs: config::DEFAULT_HEARTBEAT_SECS,
        stats_secs: config::DEFAULT_STATS_SECS,
        poll_wait_secs: config::DEFAULT_POLL_WAIT_SECS,
        stale_after_secs: config::DEFAULT_STALE_AFTER_SECS,
        deployment: DeploymentId::parse(&resp.deployment).map_err(|_| bad("deployment"))?,
        domain: Domain::parse(&resp.domain).map_err(|_| bad("domain"))?,
        verify_key: resp.verify_key,
        peer_secret: text("peer_secret", resp.peer_secret)?,
        server: ServerLink {
            url: code.server.trim_end_matches('/').to_owned(),
            tls_sha256: code.tls_sha256.to_ascii_lowercase(),
            secret: text("secret", resp.secret)?,
        },
        queue: Default::default(),
        delivery: Default::default(),
        smtp: config::SmtpConfig {
            advertise: args.smtp.clone().unwrap_or_default(),
            listen: smtp_listen(args.smtp.as_deref()),
            ..Default::default()
        },
        imap: Default::default(),
        logins: Default::default(),
        door: Default::default(),
        dns: Default::default(),
    })
}
