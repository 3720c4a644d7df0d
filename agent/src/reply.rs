//! Typed SMTP replies: a reply code, an enhanced status code and a text — for what the SMTP
//! service answers, what another server answered the delivery client, the per-recipient
//! states of the queue and the diagnostics of DSNs alike. Every reply the agent makes up is
//! built here, with the rule it follows cited next to it; no raw `"550 ..."` string lives
//! anywhere else.

use std::borrow::Cow;
use std::fmt;

/// A reply code (RFC 5321 §4.2). The codes this agent sends are named below with the rule
/// they come from (RFC 5321 §4.2.2, and the extensions' own: RFC 4954 §4 for AUTH, RFC 3207
/// §4 for STARTTLS); a code read from another server may be any three digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code(u16);

impl Code {
    /// 220 <domain> Service ready (greeting; STARTTLS "ready to start TLS").
    pub const READY: Code = Code(220);
    /// 221 <domain> Service closing transmission channel.
    pub const CLOSING: Code = Code(221);
    /// 235 Authentication succeeded (RFC 4954 §6).
    pub const AUTH_OK: Code = Code(235);
    /// 250 Requested mail action okay, completed.
    pub const OK: Code = Code(250);
    /// 252 Cannot VRFY user, but will accept message and attempt delivery.
    pub const CANNOT_VERIFY: Code = Code(252);
    /// 334 Server challenge (RFC 4954 §4).
    pub const AUTH_CHALLENGE: Code = Code(334);
    /// 354 Start mail input; end with <CRLF>.<CRLF>.
    pub const START_DATA: Code = Code(354);
    /// 421 Service not available, closing transmission channel.
    pub const UNAVAILABLE: Code = Code(421);
    /// 450 Requested mail action not taken: mailbox unavailable (temporary).
    pub const MAILBOX_BUSY: Code = Code(450);
    /// 451 Requested action aborted: local error in processing.
    pub const LOCAL_ERROR: Code = Code(451);
    /// 452 Requested action not taken: insufficient system storage (also: too many recipients,
    /// RFC 5321 §4.5.3.1.10).
    pub const INSUFFICIENT_STORAGE: Code = Code(452);
    /// 454 Temporary authentication failure (RFC 4954 §6).
    pub const TEMP_AUTH_FAILURE: Code = Code(454);
    /// 500 Syntax error, command unrecognized (also: line too long).
    pub const SYNTAX_ERROR: Code = Code(500);
    /// 501 Syntax error in parameters or arguments.
    pub const BAD_ARGUMENTS: Code = Code(501);
    /// 502 Command not implemented.
    pub const NOT_IMPLEMENTED: Code = Code(502);
    /// 503 Bad sequence of commands.
    pub const BAD_SEQUENCE: Code = Code(503);
    /// 504 Command parameter not implemented (also: unrecognised AUTH mechanism, RFC 4954 §4).
    pub const PARAMETER_NOT_IMPLEMENTED: Code = Code(504);
    /// 530 Authentication required (RFC 4954 §6); also "must issue STARTTLS first" (RFC 3207 §4).
    pub const AUTH_REQUIRED: Code = Code(530);
    /// 535 Authentication credentials invalid (RFC 4954 §6).
    pub const AUTH_FAILED: Code = Code(535);
    /// 538 Encryption required for requested authentication mechanism (RFC 4954 §6).
    pub const ENCRYPTION_REQUIRED: Code = Code(538);
    /// 550 Requested action not taken: mailbox unavailable.
    pub const MAILBOX_UNAVAILABLE: Code = Code(550);
    /// 552 Requested mail action aborted: exceeded storage allocation (message too big,
    /// RFC 1870 §6).
    pub const EXCEEDED_STORAGE: Code = Code(552);
    /// 553 Requested action not taken: mailbox name not allowed.
    pub const NAME_NOT_ALLOWED: Code = Code(553);
    /// 554 Transaction failed.
    pub const TRANSACTION_FAILED: Code = Code(554);
    /// 556 Domain does not accept mail (RFC 7504 §3, for a null MX, RFC 7505 §4.2).
    pub const DOMAIN_ACCEPTS_NO_MAIL: Code = Code(556);
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented.
    pub const PARAMS_NOT_RECOGNIZED: Code = Code(555);

    /// A code read from the wire; `None` outside 200–599 (RFC 5321 §4.2: the first digit is
    /// 2 to 5).
    pub fn from_u16(n: u16) -> Option<Code> {
        (200..600).contains(&n).then_some(Code(n))
    }
    pub fn as_u16(self) -> u16 {
        self.0
    }
    pub fn is_positive(self) -> bool {
        self.0 < 400
    }
    pub fn is_permanent(self) -> bool {
        self.0 >= 500
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An enhanced status code, `class.subject.detail` (RFC 3463 §2), e.g. `5.1.1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Status(Cow<'static, str>);

impl Status {
    /// `s` if it has the form of RFC 3463 §2: class 2, 4 or 5, subject and detail of 1–3 digits.
    pub fn parse(s: &str) -> Option<Status> {
        let mut parts = s.split('.');
        let class = parts.next()?;
        let ok = |p: &str| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        let (subject, detail) = (parts.next()?, parts.next()?);
        (matches!(class, "2" | "4" | "5") && ok(subject) && ok(detail) && parts.next().is_none())
            .then(|| Status(Cow::Owned(s.to_owned())))
    }

    /// `X.0.0` of a reply code's class (RFC 3463 §3.1: "other undefined status").
    pub fn of_class(code: Code) -> Status {
        Status(Cow::Borrowed(match code.as_u16() / 100 {
            2 => "2.0.0",
            4 => "4.0.0",
            _ => "5.0.0",
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One reply. Text lines are joined with `\n` in `text`; [`Reply::write_to`] renders the
/// multi-line form of RFC 5321 §4.2.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Code,
    /// Enhanced status code (RFC 3463, RFC 2034); `None` for the greeting, EHLO and SASL
    /// challenges, which carry none (RFC 2034 §3), and for servers that do not send one.
    pub status: Option<Status>,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub fn new(code: Code, status: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        debug_assert!(Status::parse(status).is_some(), "{status} is an enhanced status code");
        Self { code, status: Some(Status(Cow::Borrowed(status))), text: text.into() }
    }

    pub fn bare(code: Code, text: impl Into<Cow<'static, str>>) -> Self {
        Self { code, status: None, text: text.into() }
    }

    /// A reply read from another server: the text of its lines (after `ddd` and the
    /// separator), joined with `\n`. An enhanced status code in front of the first line is
    /// taken out of the text (RFC 2034 §4 puts it on every line; it goes from each).
    pub fn from_wire(code: Code, lines: &[&str]) -> Self {
        let status = lines
            .first()
            .and_then(|l| l.split(' ').next())
            .and_then(Status::parse)
            .filter(|st| st.as_str().as_bytes()[0] == b'0' + (code.as_u16() / 100) as u8);
        let text: Vec<&str> = lines
            .iter()
            .map(|l| match &status {
                Some(st) => l.strip_prefix(st.as_str()).map_or(*l, str::trim_start),
                None => l,
            })
            .collect();
        Self { code, status, text: text.join("\n").into() }
    }

    pub fn is_positive(&self) -> bool {
        self.code.is_positive()
    }

    pub fn is_permanent(&self) -> bool {
        self.code.is_permanent()
    }

    /// The enhanced status code, or the one its class implies when the server sent none (what
    /// a DSN's `Status:` field must carry, RFC 3464 §2.3.4).
    pub fn status_or_class(&self) -> Status {
        self.status.clone().unwrap_or_else(|| Status::of_class(self.code))
    }

    /// Appends the wire form: `250-line\r\n ... 250 last\r\n`. Text never carries CR or LF
    /// into the stream (they split lines), so no reply can inject a line of its own.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(sep as u8);
            if let Some(st) = &self.status {
                out.extend_from_slice(st.as_str().as_bytes());
                out.push(b' ');
            }
            out.extend(line.bytes().filter(|&b| b != b'\r'));
            out.extend_from_slice(b"\r\n");
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    // --- The replies the service sends, each with its rule. ---

    /// RFC 5321 §4.3.1 (greeting): `220 <domain> ESMTP ...`.
    pub fn greeting(host: &str) -> Self {
        Self::bare(Code::READY, format!("{host} ESMTP Pochta"))
    }

    /// RFC 5321 §4.1.1.10 (QUIT) → 221, with RFC 3463 §3.1 X.0.0.
    pub fn bye(host: &str) -> Self {
        Self::new(Code::CLOSING, "2.0.0", format!("{host} closing connection"))
    }

    /// RFC 5321 §4.1.1.1 (HELO) answer.
    pub fn helo(host: &str, client: &str) -> Self {
        Self::bare(Code::OK, format!("{host} greets {client}"))
    }

    /// RFC 5321 §4.2.5 / RFC 3463 X.0.0: generic success.
    pub fn ok(text: &'static str) -> Self {
        Self::new(Code::OK, "2.0.0", text)
    }

    /// RFC 3463 §3.2: X.1.0 other address status (sender OK).
    pub fn sender_ok() -> Self {
        Self::new(Code::OK, "2.1.0", "sender ok")
    }

    /// RFC 3463 §3.2: X.1.5 destination address valid.
    pub fn recipient_ok() -> Self {
        Self::new(Code::OK, "2.1.5", "recipient ok")
    }

    /// RFC 5321 §4.1.1.4 (DATA) intermediate reply.
    pub fn start_data() -> Self {
        Self::bare(Code::START_DATA, "end data with <CR><LF>.<CR><LF>")
    }

    /// RFC 5321 §4.1.1.4: 250 once the message is ours (ARCHITECTURE.md's durability invariant: only after
    /// the queue says it is on disk).
    pub fn queued(id: &impl fmt::Display) -> Self {
        Self::new(Code::OK, "2.0.0", format!("ok: queued as {id}"))
    }

    /// RFC 5321 §4.2.3 (451 local error); RFC 3463 §3.4 X.3.0 other mail system status.
    pub fn queue_failed() -> Self {
        Self::new(Code::LOCAL_ERROR, "4.3.0", "cannot queue the message now, try again later")
    }

    /// RFC 5321 §4.2.2 452 insufficient system storage; RFC 3463 §3.4 X.3.1 mail system full.
    pub fn storage_full() -> Self {
        Self::new(Code::INSUFFICIENT_STORAGE, "4.3.1", "insufficient system storage, try again later")
    }

    /// RFC 5321 §4.2.4 (500 unrecognised command); RFC 3463 §3.6 X.5.1 invalid command.
    pub fn unknown_command() -> Self {
        Self::new(Code::SYNTAX_ERROR, "5.5.1", "command unrecognized")
    }

    /// RFC 5321 §4.5.3.1.4 and §4.2.4 (line too long → 500); RFC 3463 §3.6 X.5.2 syntax error.
    pub fn line_too_long() -> Self {
        Self::new(Code::SYNTAX_ERROR, "5.5.2", "line too long")
    }

    /// RFC 5321 §4.2.3 (501); RFC 3463 §3.6 X.5.4 invalid command arguments.
    pub fn bad_arguments(text: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::BAD_ARGUMENTS, "5.5.4", text)
    }

    /// RFC 5321 §2.3.8 (CR and LF only as CRLF) → 500 5.5.2: a command with a bare CR or a
    /// NUL is refused whole (envelope injection).
    pub fn bare_cr_in_command() -> Self {
        Self::new(Code::SYNTAX_ERROR, "5.5.2", "bare <CR> or NUL in command")
    }

    /// RFC 5321 §2.3.8: commands end with CRLF; RFC 3463 X.5.2 (syntax error).
    pub fn bare_lf_in_command() -> Self {
        Self::new(Code::SYNTAX_ERROR, "5.5.2", "bare <LF> received: end each command with <CR><LF>")
    }

    /// RFC 5321 §4.2.3 (502 not implemented); RFC 3463 X.5.1.
    pub fn not_implemented() -> Self {
        Self::new(Code::NOT_IMPLEMENTED, "5.5.1", "command not implemented")
    }

    /// RFC 5321 §4.1.4 (order of commands) → 503; RFC 3463 §3.6 X.5.1.
    pub fn bad_sequence(text: &'static str) -> Self {
        Self::new(Code::BAD_SEQUENCE, "5.5.1", text)
    }

    /// RFC 5321 §4.1.1.5 (RSET); RFC 4954 / RFC 3207 session resets answer the same.
    pub fn reset() -> Self {
        Self::new(Code::OK, "2.0.0", "reset")
    }

    /// RFC 5321 §3.5.3 (VRFY need not reveal): 252.
    pub fn cannot_vrfy() -> Self {
        Self::new(Code::CANNOT_VERIFY, "2.5.0", "cannot verify, but will accept and attempt delivery")
    }

    /// RFC 5321 §4.1.1.9 (NOOP).
    pub fn noop() -> Self {
        Self::new(Code::OK, "2.0.0", "ok")
    }

    /// RFC 3207 §4: 220 Ready to start TLS.
    pub fn starttls_ready() -> Self {
        Self::new(Code::READY, "2.0.0", "ready to start TLS")
    }

    /// RFC 3207 §4: 454 TLS not available due to temporary reason; RFC 3463 §3.8 X.7.0.
    pub fn tls_unavailable() -> Self {
        Self::new(Code::TEMP_AUTH_FAILURE, "4.7.0", "TLS not available")
    }

    /// RFC 3207 §4.2 / §5: STARTTLS twice → 503.
    pub fn tls_already() -> Self {
        Self::bad_sequence("already using TLS")
    }

    /// RFC 3207 §4: 530 Must issue a STARTTLS command first; RFC 3463 §3.8 X.7.0.
    pub fn starttls_first() -> Self {
        Self::new(Code::AUTH_REQUIRED, "5.7.0", "must issue a STARTTLS command first")
    }

    /// RFC 4954 §6: 530 5.7.0 Authentication required (submission, RFC 6409 §4.3).
    pub fn auth_required() -> Self {
        Self::new(Code::AUTH_REQUIRED, "5.7.0", "authentication required")
    }

    /// RFC 4954 §6: 235 2.7.0 Authentication successful.
    pub fn auth_ok() -> Self {
        Self::new(Code::AUTH_OK, "2.7.0", "authentication successful")
    }

    /// RFC 4954 §6: 535 5.7.8 Authentication credentials invalid.
    pub fn auth_failed() -> Self {
        Self::new(Code::AUTH_FAILED, "5.7.8", "authentication credentials invalid")
    }

    /// RFC 4954 §6: 454 4.7.0 temporary authentication failure — the account is paused after
    /// too many failed logins (from anywhere); the password was not checked.
    pub fn auth_throttled(wait: std::time::Duration) -> Self {
        Self::new(
            Code::TEMP_AUTH_FAILURE,
            "4.7.0",
            format!(
                "too many failed logins for this account; try again in {} seconds",
                wait.as_secs().max(1)
            ),
        )
    }

    /// RFC 4954 §4: 501 on a client's "*" (cancel) or a response that is not base64.
    pub fn auth_cancelled() -> Self {
        Self::new(Code::BAD_ARGUMENTS, "5.7.0", "authentication cancelled")
    }

    /// RFC 4954 §4: 501 5.5.2 cannot decode the response.
    pub fn auth_bad_base64() -> Self {
        Self::new(Code::BAD_ARGUMENTS, "5.5.2", "cannot decode the response")
    }

    /// RFC 4954 §4: 504 5.5.4 unrecognised mechanism.
    pub fn auth_mechanism() -> Self {
        Self::new(Code::PARAMETER_NOT_IMPLEMENTED, "5.5.4", "unrecognized authentication mechanism")
    }

    /// RFC 4954 §6: 538 5.7.11 Encryption required for the mechanism (RFC 5248 registry).
    pub fn auth_needs_tls() -> Self {
        Self::new(
            Code::ENCRYPTION_REQUIRED,
            "5.7.11",
            "encryption required for requested authentication mechanism",
        )
    }

    /// RFC 4954 §4: 503 after a successful AUTH.
    pub fn auth_already() -> Self {
        Self::bad_sequence("already authenticated")
    }

    /// RFC 4954 §4: a challenge (base64 text, no enhanced code).
    pub fn challenge(b64: &'static str) -> Self {
        Self::bare(Code::AUTH_CHALLENGE, b64)
    }

    /// RFC 5321 §4.5.3.1.10 (too many recipients → 452, "MUST be treated as temporary");
    /// RFC 3463 §3.6 X.5.3 too many recipients.
    pub fn too_many_recipients() -> Self {
        Self::new(Code::INSUFFICIENT_STORAGE, "4.5.3", "too many recipients")
    }

    /// RFC 1870 §6 (message size exceeds fixed maximum) → 552; RFC 3463 §3.4 X.3.4.
    pub fn too_big() -> Self {
        Self::new(Code::EXCEEDED_STORAGE, "5.3.4", "message size exceeds fixed maximum message size")
    }

    /// RFC 5321 §4.5.3.2 / §3.8: the server may close on too many errors → 421; RFC 3463
    /// X.7.0 other security status.
    pub fn too_many_errors(host: &str) -> Self {
        Self::new(Code::UNAVAILABLE, "4.7.0", format!("{host} too many errors, closing connection"))
    }

    /// RFC 5321 §4.5.3.2.7 (server timeout) → 421 4.4.2 (RFC 3463 §3.5 bad connection).
    pub fn timeout(host: &str) -> Self {
        Self::new(Code::UNAVAILABLE, "4.4.2", format!("{host} timeout exceeded, closing connection"))
    }

    /// RFC 5321 §3.8: 421 when the service must close (shutdown, per-client connection limit);
    /// RFC 3463 §3.5 X.4.5 system congestion.
    pub fn busy(host: &str) -> Self {
        Self::new(Code::UNAVAILABLE, "4.4.5", format!("{host} too many connections, try again later"))
    }

    /// RFC 5321 §3.8: 421 on shutdown.
    pub fn shutting_down(host: &str) -> Self {
        Self::new(Code::UNAVAILABLE, "4.3.2", format!("{host} shutting down"))
    }

    /// RFC 4954 §4 + our failure limit: too many failed AUTH → 421 4.7.0 and close.
    pub fn too_many_auth_failures(host: &str) -> Self {
        Self::new(Code::UNAVAILABLE, "4.7.0", format!("{host} too many authentication failures"))
    }

    /// RFC 5321 §6.3 + §4.2.3 (554 transaction failed); RFC 3463 §3.5 X.4.6 routing loop
    /// detected: too many `Received:` headers.
    pub fn loop_detected() -> Self {
        Self::new(Code::TRANSACTION_FAILED, "5.4.6", "routing loop detected: too many Received headers")
    }

    /// RFC 5321 §2.3.8 / §4.1.1.4: only <CRLF>.<CRLF> ends data; a message with a bare <CR>,
    /// or a dot line with a bare line ending (SMTP smuggling, Postfix 2023 guidance: "550
    /// 5.5.2 bare <LF> received"), is refused whole.
    pub fn bare_line_ending(what: &'static str) -> Self {
        Self::new(Code::MAILBOX_UNAVAILABLE, "5.5.2", format!("message refused: bare {what} received"))
    }

    /// RFC 5321 §4.1.1.11 relay policy: 554 5.7.1 relay access denied (RFC 3463 §3.8 X.7.1).
    /// The door's virus scan found one (RFC 3463 §3.8 X.7.1: delivery not authorized); 554,
    /// the transaction failed, as Postfix's and Exim's virus refusals.
    pub fn virus(name: &str) -> Self {
        Self::new(Code::TRANSACTION_FAILED, "5.7.1", format!("virus found: {name}; the message was refused"))
    }

    /// rspamd's "reject": refused as spam (550 5.7.1), with rspamd's reason.
    pub fn spam(why: &str) -> Self {
        Self::new(Code::MAILBOX_UNAVAILABLE, "5.7.1", format!("message refused as spam: {why}"))
    }

    /// rspamd's "soft reject": try again later (451 4.7.1).
    pub fn spam_deferred(why: &str) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.1", format!("message deferred: {why}; try again later"))
    }

    /// Greylisting (at RCPT, or rspamd's "greylist" after the data): 451 4.7.1 with a hint
    /// of when a retry will pass.
    pub fn greylisted(retry_in: Option<u64>) -> Self {
        let text = match retry_in {
            Some(s) => format!("greylisted: this sender is new here; please try again in {s} seconds"),
            None => "greylisted: please try again later".to_owned(),
        };
        Self::new(Code::LOCAL_ERROR, "4.7.1", text)
    }

    /// RFC 5782 block list (Postfix's `reject_rbl_client`: 554 5.7.1, naming the list).
    pub fn listed(ip: &std::net::IpAddr, zone: &str) -> Self {
        Self::new(Code::TRANSACTION_FAILED, "5.7.1", format!("client address {ip} is listed at {zone}"))
    }

    /// RFC 7208 §8.4 and RFC 7372 (X.7.23 SPF validation failed).
    pub fn spf_failed(domain: &str, ip: &std::net::IpAddr) -> Self {
        Self::new(
            Code::MAILBOX_UNAVAILABLE,
            "5.7.23",
            format!("SPF of {domain} does not allow {ip} to send its mail"),
        )
    }

    /// RFC 7208 §8.6 and RFC 7372 (X.7.24 SPF validation error): the look-ups failed.
    pub fn spf_temporary(domain: &str) -> Self {
        Self::new(
            Code::LOCAL_ERROR,
            "4.7.24",
            format!("cannot check the SPF of {domain} now; try again later"),
        )
    }

    /// RFC 7489 §7.3 (DMARC `p=reject`: 550 5.7.1).
    pub fn dmarc_rejected(domain: &str) -> Self {
        Self::new(
            Code::MAILBOX_UNAVAILABLE,
            "5.7.1",
            format!("this message fails the DMARC policy of {domain}, which asks to refuse it"),
        )
    }

    /// DMARC could not be evaluated: the DNS failed.
    pub fn dmarc_temporary(domain: &str) -> Self {
        Self::new(
            Code::LOCAL_ERROR,
            "4.7.1",
            format!("cannot check the DMARC policy of {domain} now; try again later"),
        )
    }

    /// A scanner the door must ask is down or too slow: the letter is not taken unscanned.
    pub fn cannot_scan() -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.1", "the message cannot be scanned now; try again later")
    }

    pub fn relay_denied() -> Self {
        Self::new(Code::TRANSACTION_FAILED, "5.7.1", "relay access denied")
    }

    /// RFC 6409 §4.1 / RFC 3463 §3.8 X.7.1: an authenticated user may send only as himself.
    pub fn sender_not_owned() -> Self {
        Self::new(Code::NAME_NOT_ALLOWED, "5.7.1", "sender address is not owned by the authenticated user")
    }

    /// RFC 5321 §4.2.3 (553 mailbox name not allowed); RFC 3463 §3.2 X.1.7 bad sender syntax.
    pub fn bad_sender(why: impl fmt::Display) -> Self {
        Self::new(Code::NAME_NOT_ALLOWED, "5.1.7", format!("bad sender address: {why}"))
    }

    /// RFC 5321 §4.2.3 (553); RFC 3463 §3.2 X.1.3 bad destination mailbox address syntax.
    pub fn bad_recipient(why: impl fmt::Display) -> Self {
        Self::new(Code::NAME_NOT_ALLOWED, "5.1.3", format!("bad recipient address: {why}"))
    }

    /// RFC 5321 §4.2.3 (450 mailbox unavailable, temporary); RFC 3463 §3.2 X.1.1: our replica
    /// is stale, so an unknown recipient may just not have reached us yet.
    pub fn unknown_while_stale() -> Self {
        Self::new(Code::MAILBOX_BUSY, "4.1.1", "no such recipient here yet; try again later")
    }

    /// RFC 6531 §3.4: 553 5.6.7 non-ASCII address without SMTPUTF8.
    pub fn needs_smtputf8() -> Self {
        Self::new(Code::NAME_NOT_ALLOWED, "5.6.7", "non-ASCII address requires SMTPUTF8")
    }

    /// RFC 5321 §4.1.1.11 / RFC 3463 X.5.4: an ESMTP parameter we do not support.
    pub fn param_not_supported(what: impl fmt::Display) -> Self {
        Self::new(Code::PARAMS_NOT_RECOGNIZED, "5.5.4", format!("parameter not supported: {what}"))
    }

    /// RFC 3030 §2: BDAT and DATA must not mix; BDAT after a failed chunk.
    pub fn bdat_error(text: &'static str) -> Self {
        Self::new(Code::BAD_SEQUENCE, "5.5.1", text)
    }

    /// RFC 2920 §3.1 and RFC 3030 §2: DATA or BDAT with no valid recipients → 554 (X.5.1).
    pub fn no_valid_recipients() -> Self {
        Self::new(Code::TRANSACTION_FAILED, "5.5.1", "no valid recipients")
    }

    /// RFC 3030 §2: each non-final BDAT chunk is acknowledged with 250.
    pub fn chunk_ok(n: usize) -> Self {
        Self::new(Code::OK, "2.0.0", format!("{n} octets received"))
    }

    // --- What delivery records when a letter could not go, each with its rule. ---

    /// RFC 5321 §4.2.2 (452 insufficient system storage) and RFC 3463 §3.3 X.2.2 (mailbox
    /// full): the letter does not fit in the mailbox now; it may once letters are deleted.
    pub fn mailbox_full(user: impl fmt::Display) -> Self {
        Self::new(Code::INSUFFICIENT_STORAGE, "4.2.2", format!("mailbox of {user} is full"))
    }

    /// RFC 5321 §4.2.2 (552 exceeded storage allocation) and RFC 3463 §3.3 X.2.2: the letter is
    /// larger than the whole quota, so it will never fit.
    pub fn exceeds_quota(user: impl fmt::Display, quota: u64) -> Self {
        Self::new(
            Code::EXCEEDED_STORAGE,
            "5.2.2",
            format!("message larger than the mailbox quota of {user} ({quota} bytes)"),
        )
    }

    /// RFC 3463 §3.4 X.3.0 (other mail system status): a Maildir write failed.
    pub fn local_delivery_failed(e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.3.0", format!("local delivery failed: {e}"))
    }

    /// RFC 3463 §3.5 X.4.1 (no answer from host): a site without an SMTP endpoint.
    pub fn site_unreachable(site: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.1", format!("site {site} has no agent reachable by SMTP"))
    }

    /// RFC 3463 §3.8 X.7.0 (other security status): the peer's pinned TLS cannot be set up.
    pub fn tls_failed(e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.0", format!("TLS: {e}"))
    }

    /// RFC 3463 §3.8 X.7.0: the domain has a DKIM key this agent cannot sign with; the letter
    /// waits rather than leave unsigned (RFC 6376 makes signing the sender's promise).
    pub fn signing_failed(e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.0", format!("cannot DKIM-sign: {e}"))
    }

    /// RFC 3463 §3.8 X.7.0: the domain publishes an MTA-STS policy (RFC 8461) that cannot be
    /// fetched and is not cached; the letter waits rather than go without it.
    pub fn mta_sts_unavailable(domain: impl fmt::Display, e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.0", format!("MTA-STS policy of {domain} unavailable: {e}"))
    }

    /// RFC 3463 §3.8 X.7.5 (cryptographic failure): none of the domain's MX hosts is one its
    /// MTA-STS policy in `enforce` mode names.
    pub fn mta_sts_no_mx(domain: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.7.5", format!("no MX host of {domain} matches its MTA-STS policy"))
    }

    /// RFC 3463 §3.5 X.4.1: no host to try for a destination.
    pub fn no_host(dest: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.1", format!("no host to try for {dest}"))
    }

    /// RFC 3463 §3.5 X.4.1: the host could not be reached or broke off (its error, for logs).
    pub fn host_failed(host: &str, e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.1", format!("{host}: {e}"))
    }

    /// RFC 3463 §3.5 X.4.2 (bad connection): accepted recipients, then no answer to the data.
    pub fn no_answer_to_data() -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.2", "no answer to the message")
    }

    /// RFC 3463 §3.5 X.4.3 (directory server failure): the MX look-up failed for now.
    pub fn dns_failed(domain: impl fmt::Display, e: impl fmt::Display) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.3", format!("DNS for {domain}: {e}"))
    }

    /// RFC 3463 §3.2 X.1.2 (bad destination system address): the domain does not exist
    /// (NXDOMAIN; RFC 5321 §5.1).
    pub fn no_such_domain(domain: impl fmt::Display) -> Self {
        Self::new(Code::MAILBOX_UNAVAILABLE, "5.1.2", format!("the domain {domain} does not exist"))
    }

    /// RFC 7505 §4.2 (null MX): 556 5.1.10, the domain accepts no mail.
    pub fn null_mx(domain: impl fmt::Display) -> Self {
        Self::new(Code::DOMAIN_ACCEPTS_NO_MAIL, "5.1.10", format!("{domain} accepts no mail (null MX)"))
    }

    /// RFC 3463 §3.1 X.0.0: `pochta-agent queue delete --bounce`.
    pub fn removed_by_admin() -> Self {
        Self::new(Code::MAILBOX_UNAVAILABLE, "5.0.0", "removed from the queue by the administrator")
    }

    /// RFC 5321 §4.5.4.1 (give up after the retry period) and RFC 3463 §3.5 X.4.7 (delivery
    /// time expired), with the last temporary failure.
    pub fn expired(last: &str) -> Self {
        Self::new(Code::LOCAL_ERROR, "4.4.7", format!("delivery time expired; last error: {last}"))
    }

    /// The directory's refusal of a recipient (its code and status come with the rejection:
    /// 550 5.1.1 unknown, 554 5.7.1 not ours, and so on — see `Rejection::smtp`).
    pub fn rejected(why: &pochta_directory::resolve::Rejection) -> Self {
        let (code, status) = why.smtp();
        let code = Code::from_u16(code).unwrap_or(Code::MAILBOX_UNAVAILABLE);
        Self { code, status: Status::parse(status), text: why.to_string().into() }
    }
}

/// `code status text`, lines joined with `\n`: the diagnostic of logs, `queue show` and DSNs.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            Some(st) => write!(f, "{} {st} {}", self.code, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_and_multi_line() {
        assert_eq!(Reply::recipient_ok().to_bytes(), b"250 2.1.5 recipient ok\r\n");
        assert_eq!(Reply::bare(Code::OK, "a\nb\nc").to_bytes(), b"250-a\r\n250-b\r\n250 c\r\n");
        assert_eq!(Reply::greeting("mx.example.org").to_bytes(), b"220 mx.example.org ESMTP Pochta\r\n");
    }

    #[test]
    fn text_cannot_inject_a_line() {
        let r = Reply::bad_sender("x\r\n250 injected");
        let bytes = r.to_bytes();
        assert!(!bytes.windows(2).any(|w| w == b"\r\r"));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\r').count(), 2, "one CRLF per line only");
    }

    #[test]
    fn replies_from_the_wire_keep_their_status() {
        let r = Reply::from_wire(Code::MAILBOX_UNAVAILABLE, &["5.1.1 no such user"]);
        assert_eq!((r.status_or_class().as_str(), &*r.text), ("5.1.1", "no such user"));
        assert_eq!(r.to_string(), "550 5.1.1 no such user");
        let r = Reply::from_wire(Code::LOCAL_ERROR, &["try later"]);
        assert_eq!((r.status_or_class().as_str(), r.to_string().as_str()), ("4.0.0", "451 try later"));
        // A status of the wrong class is text, not a status; each line loses its own copy.
        let r = Reply::from_wire(Code::LOCAL_ERROR, &["5.1.1 odd"]);
        assert_eq!(r.status, None);
        let r = Reply::from_wire(Code::MAILBOX_UNAVAILABLE, &["5.7.1 one", "5.7.1 two"]);
        assert_eq!(r.to_bytes(), b"550-5.7.1 one\r\n550 5.7.1 two\r\n");
        assert_eq!(Status::parse("5.1.10").unwrap().as_str(), "5.1.10");
        assert!(Status::parse("3.1.1").is_none() && Status::parse("5.1").is_none());
    }
}
