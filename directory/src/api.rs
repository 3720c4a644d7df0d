//! The control plane's JSON and header names: everything the server and the agents say to each
//! other over HTTPS besides change-set frames (those are in [`crate::wire`]). Each type is
//! defined here once and both sides use it, so the two ends cannot drift apart; the tests pin
//! every type to its literal JSON, and the field names are the wire format — never rename one.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The paths of the control plane, so the routers and the clients name the same ones.
pub mod path {
    /// The server's JSON API; the server paths below are under it.
    pub const API: &str = "/api/v1";
    /// Server, `POST` ([`super::EnrollRequest`] → [`super::EnrollResponse`]): one-time enrollment.
    pub const ENROLL: &str = "/agents/enroll";
    /// Server, `GET ?after=N&wait=S` (agent secret), and agents, `GET ?after=N` (peer secret):
    /// packed change-set frames after version N.
    pub const CHANGES: &str = "/sync/changes";
    /// Server, `GET`: the signed snapshot of the directory.
    pub const SNAPSHOT: &str = "/sync/snapshot";
    /// Server, `POST` ([`super::StatsReport`]): an agent's traffic counters.
    pub const STATS: &str = "/sync/stats";
    /// Agents, `POST` (peer secret): packed frames pushed by the server; [`super::PushReply`].
    pub const PUSH: &str = "/sync/push";
    /// Agents, `POST` ([`super::QueueRequest`] signed by the server, [`super::SIGNATURE_HEADER`])
    /// → [`super::QueueAnswer`]: the mail queue, and acting on letters in it.
    pub const QUEUE: &str = "/queue";
}

/// Request header: the server's signature of the body (`Signer::sign_request`), for requests
/// only the server may make of an agent. The peer secret is not enough: every agent knows it.
pub const SIGNATURE_HEADER: &str = "pochta-signature";

/// How old a signed request may be, either way, in seconds: a replay later is refused.
pub const REQUEST_MAX_AGE_SECS: i64 = 300;

/// What an administrator does to queued letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueAction {
    /// Try now, ignoring the back-off.
    Retry,
    /// Give up: the sender gets a DSN for the recipients not yet delivered.
    Bounce,
    /// Remove without a DSN.
    Delete,
}

/// The server's request of one agent's queue: list (with a search), and optionally act first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRequest {
    /// The agent meant: another agent refuses the request.
    pub agent: String,
    /// Unix seconds when signed.
    pub at: i64,
    /// Only letters whose sender or a recipient contains this (any case); empty: all.
    #[serde(default)]
    pub search: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<QueueAction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

/// A recipient not delivered yet, with why the last attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingRecipient {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedLetter {
    pub id: String,
    /// `None`: the null sender (a bounce).
    pub from: Option<String>,
    /// Unix milliseconds.
    pub created: i64,
    pub size: u64,
    pub attempts: u32,
    /// Unix milliseconds of the next attempt.
    pub next_try: i64,
    pub waiting: Vec<WaitingRecipient>,
}

/// At most this many letters in one answer, oldest first; `total` says how many matched.
pub const QUEUE_PAGE: usize = 200;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueAnswer {
    /// Letters in the queue.
    pub queued: usize,
    /// Letters that match the search.
    pub matched: usize,
    pub letters: Vec<QueuedLetter>,
    /// Ids the action was taken on (the agent applies it within a second).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acted: Vec<String>,
    /// Ids asked for that are no longer queued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<String>,
}

/// Request header: the version the agent has applied (`GET /api/v1/sync/changes`, `/snapshot`).
pub const APPLIED_HEADER: &str = "pochta-applied";
/// Response header: the version of the answering side (server or peer agent) when it answered.
pub const VERSION_HEADER: &str = "pochta-version";

/// The error body of both control planes: `{"error": "..."}`, and on an agent's answers to
/// `POST /sync/push` (any status) also the version its replica is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// What an administrator hands to the agent's installer: server URL, server TLS pin and a
/// one-time token, as base64url of this JSON, in one string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentCode {
    pub server: String,
    pub tls_sha256: String,
    pub token: String,
}

/// Why an enrollment code does not parse; the messages finish "the code is not valid (...)".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("it is empty")]
    Empty,
    #[error("it is not base64url")]
    NotBase64,
    #[error("unexpected content: {0}")]
    Content(String),
    #[error("the server URL '{0}' is not https")]
    NotHttps(String),
    #[error("the certificate fingerprint is not 64 hex digits")]
    BadPin,
    #[error("the token is empty")]
    NoToken,
}

impl EnrollmentCode {
    /// The code as the server prints it: base64url without padding.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a code always serialises");
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses base64url (padding optional, whitespace ignored) of the JSON the server printed.
    pub fn parse(code: &str) -> Result<Self, CodeError> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.is_empty() {
            return Err(CodeError::Empty);
        }
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT
            .decode(code.as_bytes())
            .map_err(|_| CodeError::NotBase64)?;
        let c: EnrollmentCode =
            serde_json::from_slice(&json).map_err(|e| CodeError::Content(e.to_string()))?;
        if !c.server.starts_with("https://") {
            return Err(CodeError::NotHttps(c.server));
        }
        if c.tls_sha256.len() != 64 || !c.tls_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CodeError::BadPin);
        }
        if c.token.is_empty() {
            return Err(CodeError::NoToken);
        }
        Ok(c)
    }
}

/// `POST /api/v1/agents/enroll`: the agent redeems the code's token and says how to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub token: String,
    /// `https://host:port`, or empty for an agent that only pulls (behind NAT).
    #[serde(default)]
    pub url: String,
    /// The agent's own certificate pin.
    pub tls_sha256: String,
    /// The change-set format the agent speaks ([`crate::wire::FORMAT`]).
    pub format: u8,
    /// `host:port` where other sites' agents deliver mail to this one; empty (and left out)
    /// if unreachable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub smtp: String,
}

/// The server's answer to a redeemed enrollment: the agent's identity and secrets, and the
/// deployment's identity and the key that signs change sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub agent_id: String,
    /// The agent's bearer secret towards the server.
    pub secret: String,
    pub site: String,
    pub level: u8,
    /// [`crate::wire::DeploymentId`] in hex.
    pub deployment: String,
    pub domain: String,
    /// [`crate::wire::Verifier`] in hex.
    pub verify_key: String,
    /// The secret agents show each other (and the server shows agents) on `/sync/*`.
    pub peer_secret: String,
}

/// An agent's answer to a push it applied (`POST /sync/push`, 200): the version its replica is
/// at and how many out-of-order sets it holds. A refusal (422 and others) is an [`ErrorBody`]
/// with the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReply {
    pub version: u64,
    pub held: usize,
}

/// One mailbox move in progress at an agent: shown on its `/status` and reported to the
/// server's dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveProgress {
    pub user: String,
    pub to_site: String,
    /// Letters still at the old site.
    pub remaining: u64,
    /// Letters handed to the queue (and removed at the old site) so far.
    pub moved: u64,
    /// The bytes of the letters moved so far, and of those still at the old site.
    #[serde(default)]
    pub moved_bytes: u64,
    #[serde(default)]
    pub remaining_bytes: u64,
    /// Seconds since the move began, by the agent's own clock (no skew between machines): with
    /// `moved_bytes` it gives the rate and the time left.
    #[serde(default)]
    pub elapsed_secs: u64,
    /// How the move ended, once it has; the agent reports an ended move until a report carrying
    /// it is taken, and the server then keeps it in its record of finished moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<MoveEnd>,
}

impl MoveProgress {
    /// Bytes per second so far; `None` before the first second or the first letter.
    pub fn rate(&self) -> Option<u64> {
        (self.elapsed_secs > 0 && self.moved_bytes > 0).then(|| self.moved_bytes / self.elapsed_secs)
    }

    /// Seconds left at the rate so far.
    pub fn eta_secs(&self) -> Option<u64> {
        self.rate().filter(|r| *r > 0).map(|r| self.remaining_bytes.div_ceil(r))
    }
}

/// How a mailbox move ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum MoveEnd {
    /// Every letter was handed over; `kept` letters too large for the new site stayed.
    Done {
        #[serde(default)]
        kept: u64,
    },
    /// The user was moved back before the move finished: the rest stays where it is.
    MovedBack,
    /// The move stopped on an error (it is tried again at the next look).
    Failed { reason: String },
}

/// What an agent reports to `POST /api/v1/sync/stats`: its mail counters since start, the
/// queue size and the mailbox moves in progress. The server time-stamps it; the dashboard
/// charts the differences and shows the moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReport {
    pub received: u64,
    pub accepted: u64,
    pub delivered: u64,
    pub sent: u64,
    #[serde(default)]
    pub queue: u64,
    /// Letters of mailboxes moving away sent to their new site, and of mailboxes moving here
    /// filed, since start: counted apart from mail (not in `sent`, `accepted`, `delivered`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved_out: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved_in: u64,
    /// Mailboxes being moved from the agent's site. Left out when none (bytes on slow links):
    /// the server takes a report without it as "no moves", which ends one it showed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mailbox_moves: Vec<MoveProgress>,
    /// What mail clients at the agent's site connect to. Sent with the first report after the
    /// agent starts and whenever it changes; the server keeps the last one it got, so a report
    /// without it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<ClientServices>,
    /// Bytes stored in each mailbox at the agent's site, by folded user name: every mailbox in
    /// the first report after start, afterwards only those whose size changed. The server keeps
    /// the last figure per user and shows the one from the user's home site.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub mailbox_sizes: std::collections::BTreeMap<String, u64>,
    /// Letters and commands refused since start, by reason (`unknown_recipient`, `spam`,
    /// `virus`, `greylisted`, ...): the paper's "received but not accepted", explained.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub refused: std::collections::BTreeMap<String, u64>,
    /// What the administrator must know now; sent with every report while it lasts, so a
    /// report without it means "all is well".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<AgentWarning>,
    /// What the agent says about itself; sent with the first report after start and then
    /// hourly, so a report without it changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<AgentFacts>,
}

/// The software an agent runs and the room left for mail where it keeps its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFacts {
    /// `pochta-agent` version, e.g. `0.1.0`.
    pub version: String,
    /// Bytes free to the agent, and in all, on the file system of its data folder.
    pub disk_free: u64,
    pub disk_total: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Something wrong at an agent that its administrator must act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AgentWarning {
    /// A scanner of the door (`rspamd`, `clamd`) does not answer: mail from outside is
    /// deferred with 451, or with `fail_open` accepted unscanned.
    ScannerFailing {
        scanner: String,
        /// Where the agent looks for it (a URL or a socket).
        at: String,
        /// Unix seconds of the first failure in this run of them.
        since: i64,
        fail_open: bool,
        error: String,
    },
    /// The domain has an active DKIM key this agent cannot sign with: outside mail waits, or
    /// with `send_unsigned` leaves unsigned.
    SigningFailing {
        /// Unix seconds of the first failure in this run of them.
        since: i64,
        send_unsigned: bool,
        error: String,
    },
    /// A kind this server does not know yet (a newer agent).
    #[serde(other)]
    Other,
}

/// The endpoints a mail client uses at one site, each `host:port`, empty when not offered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientServices {
    /// Message submission with STARTTLS (the 587 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub submission: String,
    /// Message submission over implicit TLS (the 465 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub submissions: String,
    /// IMAP with STARTTLS (the 143 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub imap: String,
    /// IMAP over implicit TLS (the 993 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub imaps: String,
    /// POP3 with STARTTLS (the 110 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pop3: String,
    /// POP3 over implicit TLS (the 995 role).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pop3s: String,
}

#[cfg(test)]
mod tests {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::*;

    /// `value` serialises to exactly `json`, and `json` reads back as `value`.
    fn pinned<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: T, json: &str) {
        assert_eq!(serde_json::to_string(&value).unwrap(), json);
        assert_eq!(serde_json::from_str::<T>(json).unwrap(), value);
    }

    #[test]
    fn header_names_are_lower_case() {
        // `http::HeaderName::from_static` takes only lower case; on the wire case does not matter.
        for h in [APPLIED_HEADER, VERSION_HEADER] {
            assert_eq!(h, h.to_ascii_lowercase());
        }
        assert_eq!((APPLIED_HEADER, VERSION_HEADER), ("pochta-applied", "pochta-version"));
    }

    #[test]
    fn error_body() {
        pinned(ErrorBody { error: "no".into(), version: None }, r#"{"error":"no"}"#);
        pinned(ErrorBody { error: "gap".into(), version: Some(7) }, r#"{"error":"gap","version":7}"#);
    }

    fn code() -> EnrollmentCode {
        EnrollmentCode {
            server: "https://admin:8443".into(),
            tls_sha256: "ab".repeat(32),
            token: "t0k".into(),
        }
    }

    #[test]
    fn enrollment_code() {
        let json =
            format!(r#"{{"server":"https://admin:8443","tls_sha256":"{}","token":"t0k"}}"#, "ab".repeat(32));
        pinned(code(), &json);
        let encoded = code().encode();
        assert!(!encoded.contains('='), "no padding: {encoded}");
        assert_eq!(EnrollmentCode::parse(&encoded), Ok(code()));
        let padded = base64::engine::general_purpose::URL_SAFE.encode(json.as_bytes());
        let spaced: String = padded.chars().flat_map(|c| [c, '\n']).collect();
        assert_eq!(EnrollmentCode::parse(&spaced), Ok(code()), "padding and whitespace are fine");
    }

    #[test]
    fn bad_enrollment_codes() {
        let enc = |c: EnrollmentCode| c.encode();
        assert_eq!(EnrollmentCode::parse(" \n"), Err(CodeError::Empty));
        assert_eq!(EnrollmentCode::parse("not base64!"), Err(CodeError::NotBase64));
        assert!(matches!(EnrollmentCode::parse("e30"), Err(CodeError::Content(_))), "{{}} lacks fields");
        let http = EnrollmentCode { server: "http://admin".into(), ..code() };
        assert_eq!(EnrollmentCode::parse(&enc(http)), Err(CodeError::NotHttps("http://admin".into())));
        assert_eq!(
            EnrollmentCode::parse(&enc(EnrollmentCode { tls_sha256: "ab".into(), ..code() })),
            Err(CodeError::BadPin)
        );
        assert_eq!(
            EnrollmentCode::parse(&enc(EnrollmentCode { token: String::new(), ..code() })),
            Err(CodeError::NoToken)
        );
        assert_eq!(
            CodeError::NotHttps("http://x".into()).to_string(),
            "the server URL 'http://x' is not https"
        );
    }

    #[test]
    fn enroll_request() {
        let req = EnrollRequest {
            token: "t".into(),
            url: "https://10.0.0.2:7443".into(),
            tls_sha256: "cd".into(),
            format: 1,
            smtp: "10.0.0.2:25".into(),
        };
        pinned(
            req.clone(),
            r#"{"token":"t","url":"https://10.0.0.2:7443","tls_sha256":"cd","format":1,"smtp":"10.0.0.2:25"}"#,
        );
        // A pull-only agent with no SMTP listener for other sites: `smtp` is left out.
        let pull = EnrollRequest { url: String::new(), smtp: String::new(), ..req };
        pinned(pull.clone(), r#"{"token":"t","url":"","tls_sha256":"cd","format":1}"#);
        assert_eq!(
            serde_json::from_str::<EnrollRequest>(r#"{"token":"t","tls_sha256":"cd","format":1}"#).unwrap(),
            pull
        );
        assert!(
            serde_json::from_str::<EnrollRequest>(r#"{"token":"t","tls_sha256":"cd","format":1,"x":1}"#)
                .is_err()
        );
    }

    #[test]
    fn enroll_response() {
        pinned(
            EnrollResponse {
                agent_id: "hq-1a2b3c4d".into(),
                secret: "s".into(),
                site: "hq".into(),
                level: 0,
                deployment: "dd".into(),
                domain: "example.org".into(),
                verify_key: "vk".into(),
                peer_secret: "ps".into(),
            },
            r#"{"agent_id":"hq-1a2b3c4d","secret":"s","site":"hq","level":0,"deployment":"dd","domain":"example.org","verify_key":"vk","peer_secret":"ps"}"#,
        );
    }

    #[test]
    fn push_reply() {
        pinned(PushReply { version: 12, held: 3 }, r#"{"version":12,"held":3}"#);
    }

    fn a_move() -> MoveProgress {
        MoveProgress {
            user: "petrova".into(),
            to_site: "branch".into(),
            remaining: 7,
            moved: 3,
            ..Default::default()
        }
    }

    #[test]
    fn move_progress() {
        const MOVE: &str = r#"{"user":"petrova","to_site":"branch","remaining":7,"moved":3,"moved_bytes":0,"remaining_bytes":0,"elapsed_secs":0}"#;
        pinned(a_move(), MOVE);
        // An agent of the release before bytes and times sends letters only.
        let old: MoveProgress =
            serde_json::from_str(r#"{"user":"petrova","to_site":"branch","remaining":7,"moved":3}"#).unwrap();
        assert_eq!(old, a_move());
        let done = MoveProgress {
            moved_bytes: 3000,
            remaining_bytes: 7000,
            elapsed_secs: 2,
            ended: Some(MoveEnd::Done { kept: 1 }),
            ..a_move()
        };
        pinned(
            done.clone(),
            r#"{"user":"petrova","to_site":"branch","remaining":7,"moved":3,"moved_bytes":3000,"remaining_bytes":7000,"elapsed_secs":2,"ended":{"outcome":"done","kept":1}}"#,
        );
        assert_eq!((done.rate(), done.eta_secs()), (Some(1500), Some(5)));
        assert_eq!((a_move().rate(), a_move().eta_secs()), (None, None), "no rate before the first byte");
        let failed = MoveProgress { ended: Some(MoveEnd::Failed { reason: "disk full".into() }), ..a_move() };
        assert!(
            serde_json::to_string(&failed)
                .unwrap()
                .ends_with(r#""ended":{"outcome":"failed","reason":"disk full"}}"#)
        );
    }

    #[test]
    fn stats_report() {
        let idle = StatsReport {
            received: 1,
            accepted: 2,
            delivered: 3,
            sent: 4,
            queue: 5,
            moved_out: 0,
            moved_in: 0,
            mailbox_moves: vec![],
            services: None,
            mailbox_sizes: Default::default(),
            refused: Default::default(),
            warnings: vec![],
            facts: None,
        };
        pinned(idle.clone(), r#"{"received":1,"accepted":2,"delivered":3,"sent":4,"queue":5}"#);
        pinned(
            StatsReport {
                facts: Some(AgentFacts { version: "0.1.0".into(), disk_free: 10, disk_total: 20 }),
                ..idle.clone()
            },
            r#"{"received":1,"accepted":2,"delivered":3,"sent":4,"queue":5,"facts":{"version":"0.1.0","disk_free":10,"disk_total":20}}"#,
        );
        pinned(
            StatsReport { mailbox_moves: vec![a_move()], ..idle },
            r#"{"received":1,"accepted":2,"delivered":3,"sent":4,"queue":5,"mailbox_moves":[{"user":"petrova","to_site":"branch","remaining":7,"moved":3,"moved_bytes":0,"remaining_bytes":0,"elapsed_secs":0}]}"#,
        );
        // Agents before the queue field; fields the server does not chart are ignored.
        let old: StatsReport =
            serde_json::from_str(r#"{"received":1,"accepted":2,"delivered":3,"sent":4,"rejected":{}}"#)
                .unwrap();
        assert_eq!((old.queue, old.mailbox_moves), (0, vec![]));
        // A warning this server does not know is kept as one, not a refused report.
        let newer: StatsReport = serde_json::from_str(
            r#"{"received":1,"accepted":2,"delivered":3,"sent":4,"warnings":[{"kind":"disk_on_fire","x":1}]}"#,
        )
        .unwrap();
        assert_eq!(newer.warnings, vec![AgentWarning::Other]);
    }
}
