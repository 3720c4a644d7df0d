//! Every limit of the SMTP service, in one place. The session enforces the byte and count
//! limits; the connection layer enforces the time and connection limits.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// A command line, CRLF included. RFC 5321 §4.5.3.1.4 asks for at least 512 octets; SMTP
    /// extensions add parameters (RFC 1870 §3, RFC 6531), so we allow more. A longer line is
    /// drained to its end and answered 500 5.5.2, never parsed from the middle.
    pub max_command_line: usize,
    /// A SASL response line (AUTH PLAIN of a long password fits easily).
    pub max_auth_line: usize,
    /// The message size, advertised in `SIZE` (RFC 1870) and enforced while streaming DATA or
    /// BDAT: an oversized message is drained to its end and answered 552 5.3.4.
    pub max_message: usize,
    /// Recipients per transaction; RFC 5321 §4.5.3.1.8 requires accepting at least 100.
    pub max_recipients: usize,
    /// Negative replies per session before we answer 421 and close (RFC 5321 §4.5.3.2 allows
    /// a server to close a misbehaving session).
    pub max_errors: u32,
    /// Failed AUTH attempts per session before 421 and close.
    pub max_auth_failures: u32,
    /// `Received:` headers a message may already carry before we call it a loop (RFC 5321
    /// §6.3: "a simple counting of the number of Received: header fields"; 100 is RFC's upper
    /// bound, Postfix uses 50).
    pub max_received: usize,
    /// How long we wait for the next bytes from the client (RFC 5321 §4.5.3.2.7: at least 5
    /// minutes for the server; tests set it short).
    pub idle_timeout: Duration,
    /// A whole session, however busy.
    pub session_timeout: Duration,
    /// Simultaneous connections from one client IP address; more get 421 4.4.5 at once.
    pub max_connections_per_ip: usize,
    /// Simultaneous connections overall.
    pub max_connections: usize,
    /// Simultaneous Argon2id verifications in the whole agent: each takes one of as many reused
    /// 19 MiB memory areas and tens of milliseconds of CPU, so this bounds the memory a login
    /// flood can take (2 × 19 MiB by default) while a two-core site still checks in parallel.
    pub max_concurrent_auth: usize,
    /// On the submission listeners (587, 465): refuse messages with a bare LF line ending
    /// (Postfix `smtpd_forbid_bare_newline = reject`) instead of normalising them to CRLF
    /// (Postfix `normalize`, the default there: old mail clients send them).
    pub reject_bare_lf: bool,
    /// The same on the port-25 role, where it is on by default: a bare LF from another server
    /// is what SMTP smuggling is built on, and no conforming MTA sends one.
    pub reject_bare_lf_mx: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_command_line: 2048,
            max_auth_line: 12288,
            max_message: 32 << 20,
            max_recipients: 1000,
            max_errors: 20,
            max_auth_failures: 3,
            max_received: 50,
            idle_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(3600),
            max_connections_per_ip: 50,
            max_connections: 2000,
            max_concurrent_auth: 2,
            reject_bare_lf: false,
            reject_bare_lf_mx: true,
        }
    }
}
