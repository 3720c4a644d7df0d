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
//!
//! This file holds the state machine and the command dispatch; each command lives in its own
//! file beside it (`hello`, `auth`, `mail`, `rcpt`, `data`), and the RCPT decision in
//! [`crate::smtp::policy`].

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use pochta_directory::{Address, AppPassword, Directory, LoginOutcome, LoginThrottle, PasswordHash, SiteId};
use smtp_proto::Request;

use super::data::DataReceiver;
use super::limits::Limits;
use crate::metrics::Counters;
use crate::queue::{Incoming, QueueError, QueueId};
use crate::reply::Reply;

mod auth;
mod data;
mod hello;
mod mail;
mod rcpt;

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
    /// Why the mailbox of `user`, a user of this site, cannot take `size` more bytes now, if it
    /// cannot (the quota, see `Deliverer::over_quota`); `None` where this agent keeps no
    /// mailboxes for him.
    fn mailbox_refusal(&self, _user: &pochta_directory::LocalPart, _size: u64) -> Option<Reply> {
        None
    }
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
    /// Failed logins per account across every client and every login path of this agent
    /// (SMTP AUTH here, Dovecot's IMAP/POP3 through its policy hook).
    pub logins: Arc<LoginThrottle>,
    /// The checks on mail from outside (`[door]`), when any are configured.
    pub door: Option<Arc<crate::door::Door>>,
}

/// ENOSPC or EDQUOT: the file system (or the agent's quota on it) is full.
fn out_of_space(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
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
    /// His app passwords: any of them is as good as the password itself.
    pub apps: Vec<AppPassword>,
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
    /// Check the sender (SPF) with the door, then call [`Session::sender_checked`].
    CheckSender(SenderQuery),
}

/// The envelope sender of a stranger, for the door's check at MAIL FROM.
#[derive(Debug, Clone)]
pub struct SenderQuery {
    pub client_ip: IpAddr,
    pub helo: String,
    pub from: Option<Address>,
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
    Sender,
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
    /// The size declared with MAIL FROM (RFC 1870).
    size: Option<u64>,
    /// BDAT chunks so far.
    chunks: Vec<u8>,
    chunked: bool,
    /// A BDAT chunk failed: the rest of the chunks are drained and refused with this reply.
    failed: Option<Reply>,
    oversized: bool,
    /// The door's SPF result for this sender, when it checks one.
    spf: Option<mail_auth::SpfOutput>,
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
    /// The name given to the password check under way, for the throttle's record.
    login: String,
    /// The SPF result of the transaction handed to the queue, for the door's data check.
    last_spf: Option<mail_auth::SpfOutput>,
}

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
            login: String::new(),
            last_spf: None,
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

    /// The name the client gave in HELO or EHLO, or `""`.
    pub fn helo(&self) -> &str {
        self.helo.as_deref().unwrap_or("")
    }

    /// The SPF result of the letter being received, when the door checked its sender.
    pub fn spf(&self) -> Option<&mail_auth::SpfOutput> {
        self.last_spf.as_ref()
    }

    /// The door checked the sender given with MAIL FROM: refused, or taken.
    pub fn sender_checked(
        &mut self,
        spf: Option<mail_auth::SpfOutput>,
        refuse: Option<(&'static str, Reply)>,
    ) {
        self.state = State::Command;
        if let Some((reason, reply)) = refuse {
            tracing::info!(ip = %self.client_ip, reason, reply = %reply, "sender refused at the door");
            self.tx = None;
            return self.reject(reason, reply);
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.spf = spf;
        }
        self.reply(Reply::sender_ok());
    }

    /// The door refused the letter after its data (spam, a virus, a scanner out): nothing
    /// was queued.
    pub fn refused_at_door(&mut self, reason: &'static str, reply: Reply) {
        self.state = State::Command;
        self.tx = None;
        tracing::info!(ip = %self.client_ip, reason, reply = %reply, "message refused at the door");
        self.counters.reject(reason);
        self.reply(reply);
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
        let outcome = if ok && user.is_some() { LoginOutcome::Success } else { LoginOutcome::Failure };
        let login = std::mem::take(&mut self.login);
        self.cfg.logins.record(&login, self.client_ip, outcome, std::time::Instant::now());
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
            Err(QueueError::Refused(r)) => {
                tracing::info!(ip = %self.client_ip, reply = %r, "message refused at the end of data");
                self.counters.reject("over_quota");
                self.reply(r);
            }
            Err(QueueError::Io(e)) if out_of_space(&e) => {
                // Nothing of the letter is left on disk: it is accepted again once space is freed.
                tracing::error!(error = %e, "the queue's file system is full: a message was refused");
                self.counters.reject("disk_full");
                self.reply(Reply::storage_full());
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
        self.auth_refused("auth_failed", Reply::auth_failed());
    }

    /// The account is paused for strangers: refused without a password check.
    fn throttled(&mut self, wait: std::time::Duration) {
        tracing::info!(ip = %self.client_ip, login = %self.login, wait_secs = wait.as_secs(),
            "SMTP AUTH refused: too many failed logins for this account");
        self.login.clear();
        self.auth_refused("auth_throttled", Reply::auth_throttled(wait));
    }

    /// A refused AUTH: counted under `reason`; the session ends after too many.
    fn auth_refused(&mut self, reason: &'static str, reply: Reply) {
        self.counters.reject(reason);
        self.auth_failures += 1;
        if self.auth_failures >= self.cfg.limits.max_auth_failures {
            let r = Reply::too_many_auth_failures(&self.cfg.hostname);
            self.reply(r);
            self.state = State::Closed;
        } else {
            self.error(reply);
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
                } else {
                    // RFC 5321 §2.3.8: a command ends with CRLF. A bare LF ending one would let
                    // a client (or a proxy in front of us) disagree with us about where a
                    // command ends: the line is refused, never run. A NUL marks it for `command`.
                    line.push(0);
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
        if line.last() == Some(&0) && !line[..line.len() - 1].iter().any(|&b| b == b'\r' || b == 0) {
            self.reject("bare_lf", Reply::bare_lf_in_command());
            return None;
        }
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
                return self.mail(args);
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
}
