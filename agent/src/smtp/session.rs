//! One SMTP session as a state machine, without I/O: bytes go in with [`Session::feed`],
//! [`Session::step`] says what the connection must do next (read more, start TLS, verify a
//! password, queue a message, close), and the replies wait in [`Session::output`].
//!
//! Pipelining (RFC 2920): `step` processes every complete command already received and only
//! returns [`Step::NeedInput`] when none is waiting; the connection flushes the replies then,
//! and only then (mox's rule), so a pipelined group is answered in one write.
//!
//! Desynchronisation is impossible by construction: an over-long command line, an oversized
//! message or a failed BDAT chunk puts the session in a *drain* state that reads to the end of
//! that line, message or chunk before it answers.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use pochta_directory::resolve::{Rejection, Sender, resolve};
use pochta_directory::{Address, Directory, PasswordHash, SiteId};
use smtp_proto::Request;

use super::data::{self, DataReceiver};
use super::limits::Limits;
use super::path::{Path, PathError};
use super::reply::Reply;
use crate::metrics::Counters;
use crate::queue::{Incoming, Origin, QueueError, QueueId};

/// Which listener the client came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Port 25: inbound mail from the world and from peer agents. STARTTLS offered, AUTH
    /// (after TLS) optional.
    Mx,
    /// Port 587 (RFC 6409): STARTTLS, then AUTH, before MAIL.
    Submission,
    /// Port 465 (RFC 8314): TLS from the first byte, then AUTH, before MAIL.
    Submissions,
}

impl Role {
    fn needs_auth(self) -> bool {
        self != Role::Mx
    }
}

/// What the session needs from the agent: the replica as it is now.
pub trait DirectoryView: Send + Sync + 'static {
    fn directory(&self) -> Arc<Directory>;
    /// The replica has had no contact with the central server for too long: an unknown
    /// recipient may simply not have reached us yet.
    fn stale(&self) -> bool;
}

/// The parts of the agent's configuration every session shares.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The name in the greeting, EHLO and `Received:` headers.
    pub hostname: String,
    pub site: SiteId,
    pub agent_id: String,
    /// Peer agents authenticate as `agent:<id>` with this secret.
    pub peer_secret: String,
    pub limits: Limits,
}

/// Who the client proved to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authed {
    User(Address),
    Peer(String),
}

/// A password check the connection must run off the async threads.
#[derive(Debug)]
pub struct Verify {
    /// The user's official address; `None` when the name given is not an address at all.
    pub user: Option<Address>,
    /// `None` when there is no such user or he has no password: the connection verifies
    /// against a dummy hash anyway, so timing does not tell which.
    pub hash: Option<PasswordHash>,
    pub password: String,
}

#[derive(Debug)]
pub enum Action {
    /// Flush the output, then run the TLS handshake and call [`Session::tls_established`].
    StartTls,
    /// Verify a password, then call [`Session::verified`].
    Verify(Verify),
    /// Queue the message, then call [`Session::enqueued`].
    Enqueue(Box<Incoming>),
}

#[derive(Debug)]
pub enum Step {
    /// Flush the output and read more input.
    NeedInput,
    Action(Action),
    /// Flush the output and close the connection.
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Tls,
    Auth,
    Queue,
}

#[derive(Debug)]
enum State {
    Command,
    /// An over-long command line: discard to its LF, then answer 500.
    DrainLine,
    /// Waiting for the SASL response line (`mech` = PLAIN or LOGIN's user / password).
    AuthPlain,
    AuthLoginUser,
    AuthLoginPass(String),
    Data(DataReceiver),
    /// Reading a BDAT chunk of `left` more bytes.
    Bdat {
        left: usize,
        last: bool,
        /// The answer once the chunk is read, when it is refused whatever it holds.
        refuse: Option<Reply>,
    },
    Waiting(Waiting),
    Closed,
}

#[derive(Debug, Default)]
struct Tx {
    from: Option<Address>,
    rcpts: Vec<Address>,
    smtputf8: bool,
    /// BDAT chunks so far.
    chunks: Vec<u8>,
    chunked: bool,
    /// A BDAT chunk failed: the rest of the chunks are drained and refused with this reply.
    failed: Option<Reply>,
    oversized: bool,
}

pub struct Session {
    cfg: Arc<SessionConfig>,
    view: Arc<dyn DirectoryView>,
    counters: Arc<Counters>,
    role: Role,
    client_ip: IpAddr,
    /// This listener can do TLS.
    tls_available: bool,
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    auth: Option<Authed>,
    tx: Option<Tx>,
    state: State,
    input: Vec<u8>,
    pos: usize,
    out: Vec<u8>,
    errors: u32,
    auth_failures: u32,
}

const LOGIN_USER: &str = "VXNlcm5hbWU6"; // "Username:"
const LOGIN_PASS: &str = "UGFzc3dvcmQ6"; // "Password:"

impl Session {
    /// A new session; the greeting is already in the output. `tls` is true on the implicit-TLS
    /// port, where the handshake happened before the first byte.
    pub fn new(
        cfg: Arc<SessionConfig>,
        view: Arc<dyn DirectoryView>,
        counters: Arc<Counters>,
        role: Role,
        client_ip: IpAddr,
        tls_available: bool,
        tls: bool,
    ) -> Self {
        let mut s = Self {
            cfg,
            view,
            counters,
            role,
            client_ip,
            tls_available,
            tls,
            helo: None,
            esmtp: false,
            auth: None,
            tx: None,
            state: State::Command,
            input: Vec::new(),
            pos: 0,
            out: Vec::new(),
            errors: 0,
            auth_failures: 0,
        };
        let greeting = Reply::greeting(&s.cfg.hostname);
        s.reply(greeting);
        s
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.input.len() {
            self.input.clear();
            self.pos = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Replies not yet written.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn authenticated(&self) -> Option<&Authed> {
        self.auth.as_ref()
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The handshake after STARTTLS finished: everything about the session starts over
    /// (RFC 3207 §4.2), and nothing received before it counts.
    pub fn tls_established(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.auth = None;
        self.tx = None;
        self.input.clear();
        self.pos = 0;
        self.state = State::Command;
    }

    /// The idle or session timeout fired.
    pub fn timed_out(&mut self) {
        let r = Reply::timeout(&self.cfg.hostname);
        self.reply(r);
        self.state = State::Closed;
    }

    /// The agent is stopping.
    pub fn shutting_down(&mut self) {
        let r = Reply::shutting_down(&self.cfg.hostname);
        self.reply(r);
        self.state = State::Closed;
    }

    pub fn verified(&mut self, user: Option<Address>, ok: bool) {
        self.state = State::Command;
        if let (true, Some(user)) = (ok, user) {
            tracing::info!(%user, ip = %self.client_ip, "SMTP AUTH succeeded");
            self.auth = Some(Authed::User(user));
            self.reply(Reply::auth_ok());
        } else {
            self.auth_failed();
        }
    }

    pub fn enqueued(&mut self, result: Result<QueueId, QueueError>) {
        self.enqueued_counted(result, false);
    }

    /// [`Session::enqueued`], where `counted` says the sink counted `accepted` itself
    /// ([`crate::queue::Sink::COUNTS_ACCEPTED`]), so it is not counted twice.
    pub fn enqueued_counted(&mut self, result: Result<QueueId, QueueError>, counted: bool) {
        self.state = State::Command;
        self.tx = None;
        match result {
            Ok(id) => {
                if !counted {
                    self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                }
                self.reply(Reply::queued(&id));
            }
            Err(e) => {
                tracing::error!(error = %e, "the queue refused a message");
                self.counters.reject("queue_error");
                self.reply(Reply::queue_failed());
            }
        }
    }

    fn reply(&mut self, r: Reply) {
        r.write_to(&mut self.out);
    }

    /// A negative reply to a client error; too many of them close the session.
    fn error(&mut self, r: Reply) {
        self.reply(r);
        self.errors += 1;
        if self.errors >= self.cfg.limits.max_errors && !self.is_closed() {
            let bye = Reply::too_many_errors(&self.cfg.hostname);
            self.reply(bye);
            self.state = State::Closed;
        }
    }

    fn reject(&mut self, reason: &'static str, r: Reply) {
        self.counters.reject(reason);
        self.error(r);
    }

    fn auth_failed(&mut self) {
        self.counters.reject("auth_failed");
        self.auth_failures += 1;
        if self.auth_failures >= self.cfg.limits.max_auth_failures {
            let r = Reply::too_many_auth_failures(&self.cfg.hostname);
            self.reply(r);
            self.state = State::Closed;
        } else {
            self.error(Reply::auth_failed());
        }
    }

    /// The next complete line (without its line ending), or `None`. Over-long lines switch
    /// to the drain.
    fn line(&mut self, max: usize) -> Option<Result<Vec<u8>, ()>> {
        let avail = &self.input[self.pos..];
        match avail.iter().position(|&b| b == b'\n') {
            Some(n) if n + 1 > max => {
                self.pos += n + 1;
                Some(Err(()))
            }
            Some(n) => {
                let mut line = avail[..n].to_vec();
                self.pos += n + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some(Ok(line))
            }
            None if avail.len() >= max => {
                self.pos = self.input.len();
                self.state = State::DrainLine;
                None
            }
            None => None,
        }
    }

    /// Runs until the session needs input, an action, or the connection closed.
    pub fn step(&mut self) -> Step {
        loop {
            if self.pos == self.input.len() && self.pos > 0 {
                self.input.clear();
                self.pos = 0;
            }
            match &mut self.state {
                State::Closed => return Step::Close,
                State::Waiting(w) => {
                    // The connection runs the action and calls back; nothing to do until then.
                    let _ = w;
                    return Step::NeedInput;
                }
                State::DrainLine => {
                    let avail = &self.input[self.pos..];
                    match avail.iter().position(|&b| b == b'\n') {
                        Some(n) => {
                            self.pos += n + 1;
                            self.state = State::Command;
                            self.error(Reply::line_too_long());
                        }
                        None => {
                            self.pos = self.input.len();
                            return Step::NeedInput;
                        }
                    }
                }
                State::Data(rx) => {
                    let avail = &self.input[self.pos..];
                    match rx.ingest(avail) {
                        None => {
                            self.pos = self.input.len();
                            return Step::NeedInput;
                        }
                        Some(n) => {
                            self.pos += n;
                            let State::Data(rx) = std::mem::replace(&mut self.state, State::Command) else {
                                unreachable!()
                            };
                            if let Some(a) = self.end_of_data(rx) {
                                return Step::Action(a);
                            }
                        }
                    }
                }
                State::Bdat { left, last, refuse } => {
                    let (left_now, last, refuse) = (*left, *last, refuse.take());
                    let avail = &self.input[self.pos..];
                    let take = avail.len().min(left_now);
                    if refuse.is_none()
                        && let Some(tx) = self.tx.as_mut()
                    {
                        if tx.chunks.len() + take > self.cfg.limits.max_message {
                            tx.oversized = true;
                            tx.chunks = Vec::new();
                        }
                        if !tx.oversized {
                            tx.chunks.extend_from_slice(&avail[..take]);
                        }
                    }
                    self.pos += take;
                    if take < left_now {
                        self.state = State::Bdat { left: left_now - take, last, refuse };
                        return Step::NeedInput;
                    }
                    self.state = State::Command;
                    if let Some(a) = self.end_of_chunk(last, refuse) {
                        return Step::Action(a);
                    }
                }
                State::AuthPlain | State::AuthLoginUser | State::AuthLoginPass(_) => {
                    match self.line(self.cfg.limits.max_auth_line) {
                        // An over-long SASL response is drained and answered 500.
                        None => return Step::NeedInput,
                        Some(Err(())) => {
                            self.state = State::Command;
                            self.error(Reply::auth_bad_base64());
                        }
                        Some(Ok(line)) => {
                            if let Some(a) = self.sasl_line(&line) {
                                return Step::Action(a);
                            }
                        }
                    }
                }
                State::Command => match self.line(self.cfg.limits.max_command_line) {
                    None => return Step::NeedInput,
                    Some(Err(())) => self.error(Reply::line_too_long()),
                    Some(Ok(line)) => {
                        if let Some(a) = self.command(&line) {
                            return Step::Action(a);
                        }
                    }
                },
            }
        }
    }

    // --- Commands ---

    fn command(&mut self, line: &[u8]) -> Option<Action> {
        // RFC 5321 §2.3.8: CR and LF appear only together. A bare CR (or a NUL) inside a
        // command is an attempt to smuggle a line past a parser: refuse the whole command.
        if line.iter().any(|&b| b == b'\r' || b == 0) {
            self.reject("bare_cr", Reply::bare_cr_in_command());
            return None;
        }
        let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
        let verb = &line[..verb_end];
        if verb.eq_ignore_ascii_case(b"MAIL") || verb.eq_ignore_ascii_case(b"RCPT") {
            let Ok(args) = std::str::from_utf8(&line[verb_end..]) else {
                self.error(Reply::bad_arguments("the command is not UTF-8"));
                return None;
            };
            if verb.eq_ignore_ascii_case(b"MAIL") {
                self.mail(args);
            } else {
                self.rcpt(args);
            }
            return None;
        }
        let mut framed = line.to_vec();
        framed.push(b'\n');
        let parsed = Request::parse(&mut framed.iter()).map(|r| r.into_owned());
        match parsed {
            Ok(Request::Ehlo { host }) => self.ehlo(host, true),
            Ok(Request::Helo { host }) => self.ehlo(host, false),
            // MAIL and RCPT never get here; LHLO is LMTP's.
            Ok(Request::Lhlo { .. } | Request::Mail { .. } | Request::Rcpt { .. }) => {
                self.error(Reply::unknown_command())
            }
            Ok(Request::StartTls) => return self.starttls(),
            Ok(Request::Auth { mechanism, initial_response }) => {
                return self.auth(mechanism, initial_response);
            }
            Ok(Request::Data) => self.data(),
            Ok(Request::Bdat { chunk_size, is_last }) => self.bdat(chunk_size, is_last),
            Ok(Request::Rset) => {
                self.tx = None;
                self.reply(Reply::reset());
            }
            Ok(Request::Noop { .. }) => self.reply(Reply::noop()),
            Ok(Request::Quit) => {
                let r = Reply::bye(&self.cfg.hostname);
                self.reply(r);
                self.state = State::Closed;
            }
            // RFC 5321 §3.5.3: VRFY need not reveal anything; §3.5.2: EXPN may be disabled.
            Ok(Request::Vrfy { .. }) => self.reply(Reply::cannot_vrfy()),
            Ok(
                Request::Expn { .. }
                | Request::Help { .. }
                | Request::Etrn { .. }
                | Request::Atrn { .. }
                | Request::Burl { .. },
            ) => self.error(Reply::not_implemented()),
            Err(smtp_proto::Error::UnknownCommand) => self.error(Reply::unknown_command()),
            Err(smtp_proto::Error::SyntaxError { syntax }) => {
                // A BDAT we cannot read the size of: its chunk cannot be skipped, so the only
                // way not to read data as commands is to close.
                if verb.eq_ignore_ascii_case(b"BDAT") {
                    self.reply(Reply::bad_arguments(syntax));
                    self.state = State::Closed;
                } else {
                    self.error(Reply::bad_arguments(syntax));
                }
            }
            Err(e) => self.error(Reply::bad_arguments(e.to_string())),
        }
        None
    }

    fn ehlo(&mut self, host: String, esmtp: bool) {
        // RFC 5321 §4.1.4: EHLO/HELO resets any transaction.
        self.tx = None;
        let client: String = host
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "-.:[]_".contains(c) { c } else { '?' })
            .take(255)
            .collect();
        self.helo = Some(client.clone());
        self.esmtp = esmtp;
        if !esmtp {
            let r = Reply::helo(&self.cfg.hostname, &client);
            self.reply(r);
            return;
        }
        // RFC 5321 §4.1.1.1: the EHLO reply lists the extensions.
        let mut lines = vec![
            format!("{} greets {client}", self.cfg.hostname),
            "PIPELINING".to_owned(),                         // RFC 2920
            format!("SIZE {}", self.cfg.limits.max_message), // RFC 1870
            "8BITMIME".to_owned(),                           // RFC 6152
            "ENHANCEDSTATUSCODES".to_owned(),                // RFC 2034
            "SMTPUTF8".to_owned(),                           // RFC 6531
            "CHUNKING".to_owned(),                           // RFC 3030
        ];
        if self.tls_available && !self.tls {
            lines.push("STARTTLS".to_owned()); // RFC 3207
        }
        // RFC 4954 §4 + RFC 8314: AUTH only over TLS, and not once authenticated.
        if self.tls && self.auth.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_owned());
        }
        self.reply(Reply::bare(super::reply::Code::Ok, lines.join("\n")));
    }

    fn starttls(&mut self) -> Option<Action> {
        if self.tls {
            self.error(Reply::tls_already());
            return None;
        }
        if !self.tls_available {
            self.error(Reply::tls_unavailable());
            return None;
        }
        if self.helo.is_none() {
            self.error(Reply::bad_sequence("send EHLO first"));
            return None;
        }
        self.reply(Reply::starttls_ready());
        // RFC 3207 §4 / CVE-2011-0411: whatever the client sent after STARTTLS and before the
        // handshake is discarded, never read as commands inside TLS.
        self.input.clear();
        self.pos = 0;
        self.state = State::Waiting(Waiting::Tls);
        Some(Action::StartTls)
    }

    fn auth(&mut self, mechanism: u64, initial: String) -> Option<Action> {
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

    fn sasl_line(&mut self, line: &[u8]) -> Option<Action> {
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
    fn sasl_plain(&mut self, b64: &[u8]) -> Option<Action> {
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

    fn credentials(&mut self, authcid: &str, password: &str) -> Option<Action> {
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
        let dir = self.view.directory();
        let Ok(user) = Address::parse(authcid.trim()) else {
            // Still cost the client a verification, like an unknown user.
            return self.verify(None, None, password);
        };
        // A user logs in with his official address.
        let hash = if *user.domain() == dir.domain {
            dir.user(user.local()).filter(|u| u.enabled).and_then(|u| u.password.clone())
        } else {
            None
        };
        self.verify(Some(user), hash, password)
    }

    fn verify(
        &mut self,
        user: Option<Address>,
        hash: Option<PasswordHash>,
        password: &str,
    ) -> Option<Action> {
        self.state = State::Waiting(Waiting::Auth);
        Some(Action::Verify(Verify { user, hash, password: password.to_owned() }))
    }

    fn mail(&mut self, args: &str) {
        if self.helo.is_none() {
            self.error(Reply::bad_sequence("send EHLO first"));
            return;
        }
        if self.tx.is_some() {
            self.error(Reply::bad_sequence("nested MAIL command"));
            return;
        }
        if self.role.needs_auth() && self.auth.is_none() {
            let r = if self.tls { Reply::auth_required() } else { Reply::starttls_first() };
            self.error(r);
            return;
        }
        let path = match Path::parse(args, "FROM") {
            Ok(p) => p,
            Err(PathError::Syntax(s)) => return self.error(Reply::bad_arguments(s)),
            Err(PathError::Param(p)) => {
                return self.error(Reply::bad_arguments(format!("bad parameter {p}")));
            }
        };
        let mut tx = Tx::default();
        for (k, v) in &path.params {
            match (k.as_str(), v.as_deref()) {
                // RFC 1870 §6: a declared size over the limit is refused at MAIL.
                ("SIZE", Some(n)) => match n.parse::<u64>() {
                    Ok(n) if n > self.cfg.limits.max_message as u64 => {
                        return self.reject("too_big", Reply::too_big());
                    }
                    Ok(_) => {}
                    Err(_) => return self.error(Reply::bad_arguments("bad SIZE value")),
                },
                // RFC 6152.
                ("BODY", Some(b)) if b.eq_ignore_ascii_case("7BIT") || b.eq_ignore_ascii_case("8BITMIME") => {
                }
                // RFC 6531 §3.4.
                ("SMTPUTF8", None) => tx.smtputf8 = true,
                // RFC 4954 §5: accepted and not passed on.
                ("AUTH", Some(_)) => {}
                _ => return self.error(Reply::param_not_supported(k)),
            }
        }
        if !path.mailbox.is_ascii() && !tx.smtputf8 {
            return self.error(Reply::needs_smtputf8());
        }
        if path.is_null() {
            if matches!(self.auth, Some(Authed::User(_))) {
                return self.reject("sender_not_owned", Reply::sender_not_owned());
            }
        } else {
            if path.source_route {
                return self.reject("bad_sender", Reply::bad_sender("source routes are not accepted"));
            }
            let addr = match path.address() {
                Ok(a) => a,
                Err(e) => return self.reject("bad_sender", Reply::bad_sender(e)),
            };
            if let Some(Authed::User(user)) = &self.auth
                && !owns(&self.view.directory(), user, &addr)
            {
                return self.reject("sender_not_owned", Reply::sender_not_owned());
            }
            tx.from = Some(addr);
        }
        self.tx = Some(tx);
        self.reply(Reply::sender_ok());
    }

    fn rcpt(&mut self, args: &str) {
        let Some(tx) = &self.tx else {
            self.error(Reply::bad_sequence("need MAIL before RCPT"));
            return;
        };
        if tx.chunked {
            self.error(Reply::bad_sequence("RCPT after BDAT"));
            return;
        }
        let path = match Path::parse(args, "TO") {
            Ok(p) => p,
            Err(PathError::Syntax(s)) => return self.error(Reply::bad_arguments(s)),
            Err(PathError::Param(p)) => {
                return self.error(Reply::bad_arguments(format!("bad parameter {p}")));
            }
        };
        if let Some((k, _)) = path.params.first() {
            return self.error(Reply::param_not_supported(k));
        }
        if tx.rcpts.len() >= self.cfg.limits.max_recipients {
            return self.reject("too_many_recipients", Reply::too_many_recipients());
        }
        if !path.mailbox.is_ascii() && !tx.smtputf8 {
            return self.error(Reply::needs_smtputf8());
        }
        // Sender-specified routing: source routes, `%` and `!` hacks, a quoted `@`. We never
        // route by them; from a stranger they are an attempt to relay.
        if path.routing_trick() && self.auth.is_none() {
            return self.reject("relay_denied", Reply::relay_denied());
        }
        if path.is_null() {
            return self.reject("bad_recipient", Reply::bad_recipient("empty address"));
        }
        let dir = self.view.directory();
        // RFC 5321 §4.5.1: `<postmaster>` without a domain is our postmaster.
        let rcpt = if path.mailbox.eq_ignore_ascii_case("postmaster") {
            Address::parse(&format!("postmaster@{}", dir.domain))
        } else {
            path.address()
        };
        let rcpt = match rcpt {
            Ok(a) => a,
            Err(e) => return self.reject("bad_recipient", Reply::bad_recipient(e)),
        };
        let sender = Sender { address: tx.from.clone(), internal: self.auth.is_some() };
        match resolve(&dir, &rcpt, &sender) {
            Ok(_) => {}
            // Other domains: only for our users and our peer agents (PRODUCT.md invariant 6).
            Err(Rejection::NotOurs) if self.auth.is_some() => {}
            Err(Rejection::NotOurs) => return self.reject("relay_denied", Reply::relay_denied()),
            // A peer's replica may be ahead of ours; a stale replica may miss a new user. Either
            // way, "not yet" rather than "never" (so a just-created user is never bounced).
            Err(Rejection::UnknownRecipient)
                if self.view.stale() || matches!(self.auth, Some(Authed::Peer(_))) =>
            {
                return self.reject("unknown_recipient_stale", Reply::unknown_while_stale());
            }
            Err(why) => {
                let (reason, r) = rejection_reply(&why);
                return self.reject(reason, r);
            }
        }
        if let Some(tx) = self.tx.as_mut()
            && !tx.rcpts.contains(&rcpt)
        {
            tx.rcpts.push(rcpt);
        }
        self.reply(Reply::recipient_ok());
    }

    fn data(&mut self) {
        match &self.tx {
            None => return self.error(Reply::bad_sequence("need MAIL before DATA")),
            Some(tx) if tx.chunked => return self.error(Reply::bad_sequence("DATA after BDAT")),
            // RFC 2920 §3.1: DATA with no valid recipients → 554.
            Some(tx) if tx.rcpts.is_empty() => return self.error(no_valid_recipients()),
            Some(_) => {}
        }
        self.reply(Reply::start_data());
        self.state =
            State::Data(DataReceiver::new(self.cfg.limits.max_message, self.cfg.limits.reject_bare_lf));
    }

    fn bdat(&mut self, size: usize, last: bool) {
        // RFC 3030 §2: the chunk is read whatever the answer will be, so that its bytes are
        // never taken for commands.
        let refuse = match self.tx.as_mut() {
            None => Some(Reply::bad_sequence("need MAIL before BDAT")),
            // RFC 2920 §3.1 / RFC 3030 §2: no valid recipients → 554.
            Some(tx) if tx.rcpts.is_empty() => Some(no_valid_recipients()),
            Some(tx) => {
                tx.chunked = true;
                tx.failed.clone()
            }
        };
        self.state = State::Bdat { left: size, last, refuse };
    }

    fn end_of_chunk(&mut self, last: bool, refuse: Option<Reply>) -> Option<Action> {
        if let Some(r) = refuse {
            if let Some(tx) = self.tx.as_mut() {
                tx.failed = Some(r.clone());
                if last {
                    self.tx = None;
                }
            }
            self.error(r);
            return None;
        }
        let tx = self.tx.as_mut().expect("a chunk that is not refused has a transaction");
        if tx.oversized {
            let r = Reply::too_big();
            tx.failed = Some(r.clone());
            if last {
                self.tx = None;
            }
            self.reject("too_big", r);
            return None;
        }
        if !last {
            let n = tx.chunks.len();
            self.reply(Reply::chunk_ok(n));
            return None;
        }
        let mut tx = self.tx.take().expect("checked");
        let body = std::mem::take(&mut tx.chunks);
        let body = match data::check_chunked(&body, self.cfg.limits.reject_bare_lf) {
            Ok(None) => body,
            Ok(Some(normalised)) => normalised,
            Err(bare) => {
                self.reject("bare_line_ending", Reply::bare_line_ending(bare.what()));
                return None;
            }
        };
        self.finish(tx, body)
    }

    fn end_of_data(&mut self, rx: DataReceiver) -> Option<Action> {
        let tx = self.tx.take().expect("DATA is accepted only inside a transaction");
        if rx.oversized {
            self.reject("too_big", Reply::too_big());
            return None;
        }
        if let Some(bare) = rx.bare {
            tracing::warn!(ip = %self.client_ip, what = bare.what(), "message refused: bare line ending (SMTP smuggling?)");
            self.reject("bare_line_ending", Reply::bare_line_ending(bare.what()));
            return None;
        }
        self.finish(tx, rx.body)
    }

    /// Loop check, trace header, and the hand-over to the queue.
    fn finish(&mut self, tx: Tx, body: Vec<u8>) -> Option<Action> {
        if data::count_received(&body) > self.cfg.limits.max_received {
            self.reject("loop", Reply::loop_detected());
            return None;
        }
        let header = self.received_header(&tx);
        let mut msg = Vec::with_capacity(header.len() + body.len());
        msg.extend_from_slice(header.as_bytes());
        msg.extend_from_slice(&body);
        let origin = match &self.auth {
            None => Origin::Outside,
            Some(Authed::User(a)) => Origin::User(a.clone()),
            Some(Authed::Peer(id)) => Origin::Peer { agent_id: id.clone() },
        };
        let incoming = Incoming {
            reverse_path: tx.from,
            recipients: tx.rcpts,
            origin,
            client_ip: self.client_ip,
            data: msg,
        };
        self.state = State::Waiting(Waiting::Queue);
        Some(Action::Enqueue(Box::new(incoming)))
    }

    /// RFC 5321 §4.4 trace field, with the protocol names of RFC 3848 and RFC 6531 §3.7.3.
    fn received_header(&self, tx: &Tx) -> String {
        let mut proto = String::new();
        if tx.smtputf8 {
            proto.push_str("UTF8");
        }
        proto.push_str(if self.esmtp { "ESMTP" } else { "SMTP" });
        if self.tls {
            proto.push('S');
        }
        if self.auth.is_some() {
            proto.push('A');
        }
        let helo = self.helo.as_deref().unwrap_or("unknown");
        let mut h = format!(
            "Received: from {helo} ([{ip}])\r\n\tby {host} (Pochta agent {agent}, site {site})\r\n\twith {proto}",
            ip = self.client_ip,
            host = self.cfg.hostname,
            agent = self.cfg.agent_id,
            site = self.cfg.site,
        );
        if let [one] = tx.rcpts.as_slice() {
            h.push_str(&format!("\r\n\tfor <{one}>"));
        }
        h.push_str(&format!(";\r\n\t{}\r\n", rfc5322_now()));
        h
    }
}

fn no_valid_recipients() -> Reply {
    Reply::new(super::reply::Code::TransactionFailed, "5.5.1", "no valid recipients")
}

/// The reply and the counter name for a rejection by the directory.
fn rejection_reply(why: &Rejection) -> (&'static str, Reply) {
    let reason = match why {
        Rejection::NotOurs => "relay_denied",
        Rejection::UnknownRecipient => "unknown_recipient",
        Rejection::Disabled => "disabled",
        Rejection::NotAllowed { .. } => "policy",
    };
    let (code, status) = why.smtp();
    let code = match code {
        554 => super::reply::Code::TransactionFailed,
        _ => super::reply::Code::MailboxUnavailable,
    };
    (reason, Reply::new(code, status, why.to_string()))
}

/// Whether `addr` is one of `user`'s addresses: his official address, or his local address at
/// his home site or a former one.
fn owns(dir: &Directory, user: &Address, addr: &Address) -> bool {
    if addr.local() != user.local() {
        return false;
    }
    if *addr.domain() == dir.domain {
        return true;
    }
    match (dir.user(user.local()), dir.site_of_domain(addr.domain())) {
        (Some(u), Some(site)) => u.site == site.id || u.former_sites.contains(&site.id),
        _ => false,
    }
}

fn decode64(b: &[u8]) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(b.trim_ascii()).ok()
}

/// Constant-time comparison of two secrets.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The current time as an RFC 5322 §3.3 date-time, in UTC.
fn rfc5322_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc5322(secs)
}

pub(crate) fn rfc5322(secs: i64) -> String {
    let c = pochta_directory::date::Civil::from_unix(secs);
    format!(
        "{}, {} {} {} {:02}:{:02}:{:02} +0000",
        c.weekday_name(),
        c.day,
        c.month_name(),
        c.year,
        c.secs / 3600,
        c.secs % 3600 / 60,
        c.secs % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc5322(0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(super::rfc5322(1_700_000_000), "Tue, 14 Nov 2023 22:13:20 +0000");
        assert_eq!(super::rfc5322(951_782_400), "Tue, 29 Feb 2000 00:00:00 +0000");
    }
}
