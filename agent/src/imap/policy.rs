//! Dovecot's authentication policy hook, answered by the agent, so IMAP and POP3 logins share
//! the agent's [`LoginThrottle`] with SMTP AUTH: a guesser spread over the three protocols is
//! counted once. Dovecot asks before each password check (`command=allow`) and reports the
//! outcome after (`command=report`); a paused account is refused before its password is
//! checked (`status: -1`). The listener is plain HTTP on loopback, for Dovecot alone, which
//! proves itself with a bearer secret made at each start.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use axum::{Json, Router};
use pochta_directory::{LoginOutcome, LoginThrottle, LoginVerdict};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The bound listener and its secrets, ready to serve.
pub struct PolicyListener {
    listener: std::net::TcpListener,
    pub addr: SocketAddr,
    /// What Dovecot sends as `Authorization: Bearer …`.
    pub secret: String,
    /// Dovecot hashes passwords with it before it sends them; the agent never looks at them.
    pub nonce: String,
}

impl PolicyListener {
    pub fn bind() -> std::io::Result<PolicyListener> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        Ok(PolicyListener { listener, addr, secret: random_hex()?, nonce: random_hex()? })
    }

    /// Dovecot's settings that point its policy client here.
    pub fn dovecot_settings(&self) -> String {
        format!(
            "# Logins are asked of the agent first and reported to it after: one throttle per\n\
             # account for IMAP, POP3 and SMTP AUTH.\n\
             auth_policy_server_url = http://{addr}/dovecot-policy\n\
             auth_policy_server_api_header = Authorization: Bearer {secret}\n\
             auth_policy_hash_nonce = {nonce}\n\
             auth_policy_request_attributes = login=%{{requested_username}} remote=%{{rip}} protocol=%s\n\
             auth_policy_check_before_auth = yes\n\
             auth_policy_check_after_auth = no\n\
             auth_policy_report_after_auth = yes\n\
             # The agent is Dovecot's parent: if it cannot answer, the password alone decides.\n\
             auth_policy_reject_on_fail = no\n",
            addr = self.addr,
            secret = self.secret,
            nonce = self.nonce,
        )
    }

    /// Answers Dovecot until `stop`.
    pub async fn serve(self, logins: Arc<LoginThrottle>, mut stop: watch::Receiver<bool>) {
        let listener = match tokio::net::TcpListener::from_std(self.listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(target: "dovecot", error = %e, "cannot serve Dovecot's login policy");
                return;
            }
        };
        let state = Arc::new(Policy { logins, secret: self.secret });
        let router = Router::new().route("/dovecot-policy", post(answer)).with_state(state);
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!(target: "dovecot", error = %e, "Dovecot's login policy listener failed");
        }
    }
}

struct Policy {
    logins: Arc<LoginThrottle>,
    secret: String,
}

#[derive(Deserialize)]
struct Command {
    command: String,
}

/// What Dovecot sends (`auth_policy_request_attributes`, plus the outcome in a report).
#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    login: String,
    #[serde(default)]
    remote: String,
    #[serde(default)]
    protocol: String,
    success: Option<bool>,
    #[serde(default)]
    policy_reject: bool,
}

async fn answer(
    State(p): State<Arc<Policy>>,
    Query(cmd): Query<Command>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    let expected = format!("Bearer {}", p.secret);
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| crate::secret::same_secret(v.trim(), &expected));
    if !authorised {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "status": 0, "msg": "" })));
    }
    let Ok(req) = serde_json::from_slice::<Request>(&body) else {
        return (StatusCode::BAD_REQUEST, Json(json!({ "status": 0, "msg": "" })));
    };
    // Dovecot gives `remote` empty for a login it cannot place; such a client is a stranger.
    let client: IpAddr = req.remote.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let now = Instant::now();
    match cmd.command.as_str() {
        "allow" => match p.logins.check(&req.login, client, now) {
            LoginVerdict::Allow => (StatusCode::OK, Json(json!({ "status": 0, "msg": "" }))),
            LoginVerdict::Wait(wait) => {
                tracing::info!(target: "dovecot", login = %req.login, %client, protocol = %req.protocol,
                    wait_secs = wait.as_secs(), "login refused: too many failed logins for this account");
                let msg = format!(
                    "Too many failed logins for this account; try again in {}",
                    pochta_directory::login_throttle::seconds(wait)
                );
                (StatusCode::OK, Json(json!({ "status": -1, "msg": msg })))
            }
        },
        "report" => {
            // A refusal of ours is not another failure: it checked no password.
            if !req.policy_reject {
                let outcome =
                    if req.success == Some(true) { LoginOutcome::Success } else { LoginOutcome::Failure };
                p.logins.record(&req.login, client, outcome, now);
            }
            (StatusCode::OK, Json(json!({ "status": 0, "msg": "" })))
        }
        _ => (StatusCode::BAD_REQUEST, Json(json!({ "status": 0, "msg": "" }))),
    }
}

fn random_hex() -> std::io::Result<String> {
    let mut b = [0u8; 24];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode(b))
}
