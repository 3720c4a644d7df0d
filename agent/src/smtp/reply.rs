//! Typed SMTP replies: a reply code, an enhanced status code and a text. Every reply the
//! service sends is built here, with the rule it follows cited next to it; no raw `b"550 ..."`
//! literal lives anywhere else.

use std::borrow::Cow;
use std::fmt;

/// Reply codes of RFC 5321 §4.2.2 (and the extensions' own: RFC 4954 §4 for AUTH, RFC 3207
/// §4 for STARTTLS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// 220 <domain> Service ready (greeting; STARTTLS "ready to start TLS").
    Ready = 220,
    /// 221 <domain> Service closing transmission channel.
    Closing = 221,
    /// 235 Authentication succeeded (RFC 4954 §6).
    AuthOk = 235,
    /// 250 Requested mail action okay, completed.
    Ok = 250,
    /// 252 Cannot VRFY user, but will accept message and attempt delivery.
    CannotVerify = 252,
    /// 334 Server challenge (RFC 4954 §4).
    AuthChallenge = 334,
    /// 354 Start mail input; end with <CRLF>.<CRLF>.
    StartData = 354,
    /// 421 Service not available, closing transmission channel.
    Unavailable = 421,
    /// 450 Requested mail action not taken: mailbox unavailable (temporary).
    MailboxBusy = 450,
    /// 451 Requested action aborted: local error in processing.
    LocalError = 451,
    /// 452 Requested action not taken: insufficient system storage (also: too many recipients,
    /// RFC 5321 §4.5.3.1.10).
    InsufficientStorage = 452,
    /// 454 Temporary authentication failure (RFC 4954 §6).
    TempAuthFailure = 454,
    /// 500 Syntax error, command unrecognized (also: line too long).
    SyntaxError = 500,
    /// 501 Syntax error in parameters or arguments.
    BadArguments = 501,
    /// 502 Command not implemented.
    NotImplemented = 502,
    /// 503 Bad sequence of commands.
    BadSequence = 503,
    /// 504 Command parameter not implemented (also: unrecognised AUTH mechanism, RFC 4954 §4).
    ParameterNotImplemented = 504,
    /// 530 Authentication required (RFC 4954 §6); also "must issue STARTTLS first" (RFC 3207 §4).
    AuthRequired = 530,
    /// 535 Authentication credentials invalid (RFC 4954 §6).
    AuthFailed = 535,
    /// 538 Encryption required for requested authentication mechanism (RFC 4954 §6).
    EncryptionRequired = 538,
    /// 550 Requested action not taken: mailbox unavailable.
    MailboxUnavailable = 550,
    /// 552 Requested mail action aborted: exceeded storage allocation (message too big,
    /// RFC 1870 §6).
    ExceededStorage = 552,
    /// 553 Requested action not taken: mailbox name not allowed.
    NameNotAllowed = 553,
    /// 554 Transaction failed.
    TransactionFailed = 554,
    /// 555 MAIL FROM/RCPT TO parameters not recognized or not implemented.
    ParamsNotRecognized = 555,
}

impl Code {
    pub fn as_u16(self) -> u16 {
        self as u16
    }
    pub fn is_positive(self) -> bool {
        (self as u16) < 400
    }
    pub fn is_permanent(self) -> bool {
        (self as u16) >= 500
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u16)
    }
}

/// One reply. Text lines are joined with `\n` in `text`; [`Reply::write_to`] renders the
/// multi-line form of RFC 5321 §4.2.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Code,
    /// Enhanced status code (RFC 3463, RFC 2034), e.g. `"5.1.1"`; `None` for the greeting,
    /// EHLO and SASL challenges, which carry none (RFC 2034 §3).
    pub status: Option<&'static str>,
    pub text: Cow<'static, str>,
}

impl Reply {
    pub fn new(code: Code, status: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        Self { code, status: Some(status), text: text.into() }
    }

    pub fn bare(code: Code, text: impl Into<Cow<'static, str>>) -> Self {
        Self { code, status: None, text: text.into() }
    }

    /// Appends the wire form: `250-line\r\n ... 250 last\r\n`. Text never carries CR or LF
    /// into the stream (they split lines), so no reply can inject a line of its own.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let lines: Vec<&str> = self.text.split('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let sep = if i + 1 == lines.len() { ' ' } else { '-' };
            out.extend_from_slice(self.code.to_string().as_bytes());
            out.push(sep as u8);
            if let Some(st) = self.status {
                out.extend_from_slice(st.as_bytes());
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
        Self::bare(Code::Ready, format!("{host} ESMTP Pochta"))
    }

    /// RFC 5321 §4.1.1.10 (QUIT) → 221, with RFC 3463 §3.1 X.0.0.
    pub fn bye(host: &str) -> Self {
        Self::new(Code::Closing, "2.0.0", format!("{host} closing connection"))
    }

    /// RFC 5321 §4.1.1.1 (HELO) answer.
    pub fn helo(host: &str, client: &str) -> Self {
        Self::bare(Code::Ok, format!("{host} greets {client}"))
    }

    /// RFC 5321 §4.2.5 / RFC 3463 X.0.0: generic success.
    pub fn ok(text: &'static str) -> Self {
        Self::new(Code::Ok, "2.0.0", text)
    }

    /// RFC 3463 §3.2: X.1.0 other address status (sender OK).
    pub fn sender_ok() -> Self {
        Self::new(Code::Ok, "2.1.0", "sender ok")
    }

    /// RFC 3463 §3.2: X.1.5 destination address valid.
    pub fn recipient_ok() -> Self {
        Self::new(Code::Ok, "2.1.5", "recipient ok")
    }

    /// RFC 5321 §4.1.1.4 (DATA) intermediate reply.
    pub fn start_data() -> Self {
        Self::bare(Code::StartData, "end data with <CR><LF>.<CR><LF>")
    }

    /// RFC 5321 §4.1.1.4: 250 once the message is ours (PRODUCT.md invariant 5: only after
    /// the queue says it is on disk).
    pub fn queued(id: &impl fmt::Display) -> Self {
        Self::new(Code::Ok, "2.0.0", format!("ok: queued as {id}"))
    }

    /// RFC 5321 §4.2.3 (451 local error); RFC 3463 §3.4 X.3.0 other mail system status.
    pub fn queue_failed() -> Self {
        Self::new(Code::LocalError, "4.3.0", "cannot queue the message now, try again later")
    }

    /// RFC 5321 §4.2.4 (500 unrecognised command); RFC 3463 §3.6 X.5.1 invalid command.
    pub fn unknown_command() -> Self {
        Self::new(Code::SyntaxError, "5.5.1", "command unrecognized")
    }

    /// RFC 5321 §4.5.3.1.4 and §4.2.4 (line too long → 500); RFC 3463 §3.6 X.5.2 syntax error.
    pub fn line_too_long() -> Self {
        Self::new(Code::SyntaxError, "5.5.2", "line too long")
    }

    /// RFC 5321 §4.2.3 (501); RFC 3463 §3.6 X.5.4 invalid command arguments.
    pub fn bad_arguments(text: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::BadArguments, "5.5.4", text)
    }

    /// RFC 5321 §2.3.8 (CR and LF only as CRLF) → 500 5.5.2: a command with a bare CR or a
    /// NUL is refused whole (envelope injection).
    pub fn bare_cr_in_command() -> Self {
        Self::new(Code::SyntaxError, "5.5.2", "bare <CR> or NUL in command")
    }

    /// RFC 5321 §4.2.3 (502 not implemented); RFC 3463 X.5.1.
    pub fn not_implemented() -> Self {
        Self::new(Code::NotImplemented, "5.5.1", "command not implemented")
    }

    /// RFC 5321 §4.1.4 (order of commands) → 503; RFC 3463 §3.6 X.5.1.
    pub fn bad_sequence(text: &'static str) -> Self {
        Self::new(Code::BadSequence, "5.5.1", text)
    }

    /// RFC 5321 §4.1.1.5 (RSET); RFC 4954 / RFC 3207 session resets answer the same.
    pub fn reset() -> Self {
        Self::new(Code::Ok, "2.0.0", "reset")
    }

    /// RFC 5321 §3.5.3 (VRFY need not reveal): 252.
    pub fn cannot_vrfy() -> Self {
        Self::new(Code::CannotVerify, "2.5.0", "cannot verify, but will accept and attempt delivery")
    }

    /// RFC 5321 §4.1.1.9 (NOOP).
    pub fn noop() -> Self {
        Self::new(Code::Ok, "2.0.0", "ok")
    }

    /// RFC 3207 §4: 220 Ready to start TLS.
    pub fn starttls_ready() -> Self {
        Self::new(Code::Ready, "2.0.0", "ready to start TLS")
    }

    /// RFC 3207 §4: 454 TLS not available due to temporary reason; RFC 3463 §3.8 X.7.0.
    pub fn tls_unavailable() -> Self {
        Self::new(Code::TempAuthFailure, "4.7.0", "TLS not available")
    }

    /// RFC 3207 §4.2 / §5: STARTTLS twice → 503.
    pub fn tls_already() -> Self {
        Self::bad_sequence("already using TLS")
    }

    /// RFC 3207 §4: 530 Must issue a STARTTLS command first; RFC 3463 §3.8 X.7.0.
    pub fn starttls_first() -> Self {
        Self::new(Code::AuthRequired, "5.7.0", "must issue a STARTTLS command first")
    }

    /// RFC 4954 §6: 530 5.7.0 Authentication required (submission, RFC 6409 §4.3).
    pub fn auth_required() -> Self {
        Self::new(Code::AuthRequired, "5.7.0", "authentication required")
    }

    /// RFC 4954 §6: 235 2.7.0 Authentication successful.
    pub fn auth_ok() -> Self {
        Self::new(Code::AuthOk, "2.7.0", "authentication successful")
    }

    /// RFC 4954 §6: 535 5.7.8 Authentication credentials invalid.
    pub fn auth_failed() -> Self {
        Self::new(Code::AuthFailed, "5.7.8", "authentication credentials invalid")
    }

    /// RFC 4954 §4: 501 on a client's "*" (cancel) or a response that is not base64.
    pub fn auth_cancelled() -> Self {
        Self::new(Code::BadArguments, "5.7.0", "authentication cancelled")
    }

    /// RFC 4954 §4: 501 5.5.2 cannot decode the response.
    pub fn auth_bad_base64() -> Self {
        Self::new(Code::BadArguments, "5.5.2", "cannot decode the response")
    }

    /// RFC 4954 §4: 504 5.5.4 unrecognised mechanism.
    pub fn auth_mechanism() -> Self {
        Self::new(Code::ParameterNotImplemented, "5.5.4", "unrecognized authentication mechanism")
    }

    /// RFC 4954 §6: 538 5.7.11 Encryption required for the mechanism (RFC 5248 registry).
    pub fn auth_needs_tls() -> Self {
        Self::new(
            Code::EncryptionRequired,
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
        Self::bare(Code::AuthChallenge, b64)
    }

    /// RFC 5321 §4.5.3.1.10 (too many recipients → 452, "MUST be treated as temporary");
    /// RFC 3463 §3.6 X.5.3 too many recipients.
    pub fn too_many_recipients() -> Self {
        Self::new(Code::InsufficientStorage, "4.5.3", "too many recipients")
    }

    /// RFC 1870 §6 (message size exceeds fixed maximum) → 552; RFC 3463 §3.4 X.3.4.
    pub fn too_big() -> Self {
        Self::new(Code::ExceededStorage, "5.3.4", "message size exceeds fixed maximum message size")
    }

    /// RFC 5321 §4.5.3.2 / §3.8: the server may close on too many errors → 421; RFC 3463
    /// X.7.0 other security status.
    pub fn too_many_errors(host: &str) -> Self {
        Self::new(Code::Unavailable, "4.7.0", format!("{host} too many errors, closing connection"))
    }

    /// RFC 5321 §4.5.3.2.7 (server timeout) → 421 4.4.2 (RFC 3463 §3.5 bad connection).
    pub fn timeout(host: &str) -> Self {
        Self::new(Code::Unavailable, "4.4.2", format!("{host} timeout exceeded, closing connection"))
    }

    /// RFC 5321 §3.8: 421 when the service must close (shutdown, per-client connection limit);
    /// RFC 3463 §3.5 X.4.5 system congestion.
    pub fn busy(host: &str) -> Self {
        Self::new(Code::Unavailable, "4.4.5", format!("{host} too many connections, try again later"))
    }

    /// RFC 5321 §3.8: 421 on shutdown.
    pub fn shutting_down(host: &str) -> Self {
        Self::new(Code::Unavailable, "4.3.2", format!("{host} shutting down"))
    }

    /// RFC 4954 §4 + our failure limit: too many failed AUTH → 421 4.7.0 and close.
    pub fn too_many_auth_failures(host: &str) -> Self {
        Self::new(Code::Unavailable, "4.7.0", format!("{host} too many authentication failures"))
    }

    /// RFC 5321 §6.3 + §4.2.3 (554 transaction failed); RFC 3463 §3.5 X.4.6 routing loop
    /// detected: too many `Received:` headers.
    pub fn loop_detected() -> Self {
        Self::new(Code::TransactionFailed, "5.4.6", "routing loop detected: too many Received headers")
    }

    /// RFC 5321 §2.3.8 / §4.1.1.4: only <CRLF>.<CRLF> ends data; a message with a bare <CR>,
    /// or a dot line with a bare line ending (SMTP smuggling, Postfix 2023 guidance: "550
    /// 5.5.2 bare <LF> received"), is refused whole.
    pub fn bare_line_ending(what: &'static str) -> Self {
        Self::new(Code::MailboxUnavailable, "5.5.2", format!("message refused: bare {what} received"))
    }

    /// RFC 5321 §4.1.1.11 relay policy: 554 5.7.1 relay access denied (RFC 3463 §3.8 X.7.1).
    pub fn relay_denied() -> Self {
        Self::new(Code::TransactionFailed, "5.7.1", "relay access denied")
    }

    /// RFC 6409 §4.1 / RFC 3463 §3.8 X.7.1: an authenticated user may send only as himself.
    pub fn sender_not_owned() -> Self {
        Self::new(Code::NameNotAllowed, "5.7.1", "sender address is not owned by the authenticated user")
    }

    /// RFC 5321 §4.2.3 (553 mailbox name not allowed); RFC 3463 §3.2 X.1.7 bad sender syntax.
    pub fn bad_sender(why: impl fmt::Display) -> Self {
        Self::new(Code::NameNotAllowed, "5.1.7", format!("bad sender address: {why}"))
    }

    /// RFC 5321 §4.2.3 (553); RFC 3463 §3.2 X.1.3 bad destination mailbox address syntax.
    pub fn bad_recipient(why: impl fmt::Display) -> Self {
        Self::new(Code::NameNotAllowed, "5.1.3", format!("bad recipient address: {why}"))
    }

    /// RFC 5321 §4.2.3 (450 mailbox unavailable, temporary); RFC 3463 §3.2 X.1.1: our replica
    /// is stale, so an unknown recipient may just not have reached us yet.
    pub fn unknown_while_stale() -> Self {
        Self::new(Code::MailboxBusy, "4.1.1", "no such recipient here yet; try again later")
    }

    /// RFC 6531 §3.4: 553 5.6.7 non-ASCII address without SMTPUTF8.
    pub fn needs_smtputf8() -> Self {
        Self::new(Code::NameNotAllowed, "5.6.7", "non-ASCII address requires SMTPUTF8")
    }

    /// RFC 5321 §4.1.1.11 / RFC 3463 X.5.4: an ESMTP parameter we do not support.
    pub fn param_not_supported(what: impl fmt::Display) -> Self {
        Self::new(Code::ParamsNotRecognized, "5.5.4", format!("parameter not supported: {what}"))
    }

    /// RFC 3030 §2: BDAT and DATA must not mix; BDAT after a failed chunk.
    pub fn bdat_error(text: &'static str) -> Self {
        Self::new(Code::BadSequence, "5.5.1", text)
    }

    /// RFC 3030 §2: each non-final BDAT chunk is acknowledged with 250.
    pub fn chunk_ok(n: usize) -> Self {
        Self::new(Code::Ok, "2.0.0", format!("{n} octets received"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_single_and_multi_line() {
        assert_eq!(Reply::recipient_ok().to_bytes(), b"250 2.1.5 recipient ok\r\n");
        assert_eq!(Reply::bare(Code::Ok, "a\nb\nc").to_bytes(), b"250-a\r\n250-b\r\n250 c\r\n");
        assert_eq!(Reply::greeting("mx.example.org").to_bytes(), b"220 mx.example.org ESMTP Pochta\r\n");
    }

    #[test]
    fn text_cannot_inject_a_line() {
        let r = Reply::bad_sender("x\r\n250 injected");
        let bytes = r.to_bytes();
        assert!(!bytes.windows(2).any(|w| w == b"\r\r"));
        assert_eq!(bytes.iter().filter(|&&b| b == b'\r').count(), 2, "one CRLF per line only");
    }
}
