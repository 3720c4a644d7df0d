//! AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN, over TLS only; users by official address and
//! password (verified by the connection off the async threads), peer agents as `agent:<id>`
//! with the deployment's peer secret.

use base64::Engine as _;
use std::time::Instant;

use pochta_directory::{Address, AppPassword, LoginVerdict, PasswordHash};

use super::{Action, Authed, Session, State, Verify, Waiting};
use crate::reply::Reply;
use crate::secret::same_secret;

const LOGIN_USER: &str = "VXNlcm5hbWU6"; // "Username:"
const LOGIN_PASS: &str = "UGFzc3dvcmQ6"; // "Password:"

impl Session {
    pub(super) fn auth(&mut self, mechanism: u64, initial: String) -> Option<Action> {
        if self.helo.is_none() || !self.esmtp {
            self.error(Reply::bad_sequence("send EHLO first"));
            return None;
        }
        if !self.tls {
            self.error(Reply::auth_needs_tls());
            return None;
        }
        if self.auth.is_some() {
            self.error(Reply::auth_already());
            return None;
        }
        // RFC 4954 §4: not during a mail transaction.
        if self.tx.is_some() {
            self.error(Reply::bad_sequence("AUTH is not allowed during a mail transaction"));
            return None;
        }
        match mechanism {
            smtp_proto::AUTH_PLAIN => {
                if initial.is_empty() {
                    self.state = State::AuthPlain;
                    // RFC 4954 §4: an empty challenge is "334 " with a space.
                    self.reply(Reply::challenge(""));
                    None
                } else {
                    self.sasl_plain(initial.as_bytes())
                }
            }
            smtp_proto::AUTH_LOGIN => {
                if initial.is_empty() {
                    self.state = State::AuthLoginUser;
                    self.reply(Reply::challenge(LOGIN_USER));
                } else {
                    match decode64(initial.as_bytes()) {
                        Some(user) => {
                            self.state = State::AuthLoginPass(String::from_utf8_lossy(&user).into_owned());
                            self.reply(Reply::challenge(LOGIN_PASS));
                        }
                        None => self.error(Reply::auth_bad_base64()),
                    }
                }
                None
            }
            _ => {
                self.error(Reply::auth_mechanism());
                None
            }
        }
    }

    pub(super) fn sasl_line(&mut self, line: &[u8]) -> Option<Action> {
        let state = std::mem::replace(&mut self.state, State::Command);
        // RFC 4954 §4: "*" cancels.
        if line == b"*" {
            self.error(Reply::auth_cancelled());
            return None;
        }
        match state {
            State::AuthPlain => self.sasl_plain(line),
            State::AuthLoginUser => {
                match decode64(line) {
                    Some(user) => {
                        self.state = State::AuthLoginPass(String::from_utf8_lossy(&user).into_owned());
                        self.reply(Reply::challenge(LOGIN_PASS));
                    }
                    None => self.error(Reply::auth_bad_base64()),
                }
                None
            }
            State::AuthLoginPass(user) => match decode64(line) {
                Some(pass) => match String::from_utf8(pass) {
                    Ok(pass) => self.credentials(&user, &pass),
                    Err(_) => {
                        self.auth_failed();
                        None
                    }
                },
                None => {
                    self.error(Reply::auth_bad_base64());
                    None
                }
            },
            _ => None,
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`.
    pub(super) fn sasl_plain(&mut self, b64: &[u8]) -> Option<Action> {
        // RFC 4954 §4: "=" is an empty initial response.
        let raw = if b64 == b"=" { Some(Vec::new()) } else { decode64(b64) };
        let Some(raw) = raw else {
            self.error(Reply::auth_bad_base64());
            return None;
        };
        let parts: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        let [authz, authc, pass] = parts.as_slice() else {
            self.auth_failed();
            return None;
        };
        let (Ok(authz), Ok(authc), Ok(pass)) =
            (std::str::from_utf8(authz), std::str::from_utf8(authc), std::str::from_utf8(pass))
        else {
            self.auth_failed();
            return None;
        };
        // We do not let one identity act as another.
        if !authz.is_empty() && authz != authc {
            self.auth_failed();
            return None;
        }
        self.credentials(authc, pass)
    }

    pub(super) fn credentials(&mut self, authcid: &str, password: &str) -> Option<Action> {
        if let Some(agent) = authcid.strip_prefix("agent:") {
            let ok = !self.cfg.peer_secret.is_empty() && same_secret(password, &self.cfg.peer_secret);
            if ok && !agent.is_empty() {
                tracing::info!(agent, ip = %self.client_ip, "peer agent authenticated");
                self.auth = Some(Authed::Peer(agent.to_owned()));
                self.reply(Reply::auth_ok());
            } else {
                self.auth_failed();
            }
            return None;
        }
        if let LoginVerdict::Wait(wait) = self.cfg.logins.check(authcid, self.client_ip, Instant::now()) {
            self.login = authcid.to_owned();
            self.throttled(wait);
            return None;
        }
        self.login = authcid.to_owned();
        let dir = self.view.directory();
        let Ok(user) = Address::parse(authcid.trim()) else {
            // Still cost the client a verification, like an unknown user.
            return self.verify(None, None, password);
        };
        // A user logs in with his official address, with his password or one of his app passwords.
        let found = match *user.domain() == dir.domain {
            true => dir.user(user.local()).filter(|u| u.enabled),
            false => None,
        };
        let hash = found.and_then(|u| u.password.clone());
        let apps = found.map(|u| u.app_passwords.clone()).unwrap_or_default();
        self.verify_with(Some(user), hash, apps, password)
    }

    pub(super) fn verify(
        &mut self,
        user: Option<Address>,
        hash: Option<PasswordHash>,
        password: &str,
    ) -> Option<Action> {
        self.verify_with(user, hash, Vec::new(), password)
    }

    fn verify_with(
        &mut self,
        user: Option<Address>,
        hash: Option<PasswordHash>,
        apps: Vec<AppPassword>,
        password: &str,
    ) -> Option<Action> {
        self.state = State::Waiting(Waiting::Auth);
        Some(Action::Verify(Verify { user, hash, apps, password: password.to_owned() }))
    }
}

fn decode64(b: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(b.trim_ascii()).ok()
}
