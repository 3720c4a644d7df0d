//! The durable queue: what SMTP hands over after DATA, and the hand-over contract.
//!
//! INTERFACE (fixed; the SMTP service is written against it): `Sink::enqueue` returns only once
//! the message and its envelope are on disk and fsynced. Only then may SMTP answer 250.
//!
//! The implementation: [`crate::durable`] (the one durable-write helper, with group commit),
//! [`spool`] (files), [`envelope`] (what is stored), [`runner::Queue`] (the [`Sink`], the
//! scheduler, retries) and [`dsn`] (bounces). `Queue::enqueue` counts `accepted`.

pub mod dsn;
pub mod envelope;
pub mod forward;
pub mod runner;
pub mod spool;
pub mod vacation;

pub use runner::{Queue, Schedule};

use std::net::IpAddr;

use pochta_directory::Address;

/// A queued message's id: unique within this agent, safe as a file name, shown in replies and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct QueueId(pub String);

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: `{:<32}` and the like must work on an id.
        f.pad(&self.0)
    }
}

/// Who handed the message to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An outside MTA on the port-25 role, unauthenticated.
    Outside,
    /// An authenticated user of the domain (submission), by official address.
    User(Address),
    /// A peer agent of this deployment: recipients are final mailboxes already expanded by the
    /// first agent; do not expand again.
    Peer { agent_id: String },
}

/// A message accepted by SMTP, about to be queued.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The reverse path; `None` is the null sender `<>`.
    pub reverse_path: Option<Address>,
    /// Recipients as given in RCPT TO, each already accepted by the RCPT policy.
    pub recipients: Vec<Address>,
    pub origin: Origin,
    pub client_ip: IpAddr,
    /// The message as received, with our `Received:` header already prepended.
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue cannot store the message: {0}")]
    Io(#[from] std::io::Error),
    #[error("the queue is full")]
    Full,
    /// Refused in the session rather than accepted and bounced: no final recipient can take
    /// the letter (every one's mailbox is over quota), and this is the answer.
    #[error("refused: {0}")]
    Refused(crate::reply::Reply),
}

/// Where SMTP hands accepted messages. `Ok` means durable.
pub trait Sink: Send + Sync + 'static {
    /// Whether `enqueue` counts `accepted` itself (the queue does; SMTP then does not).
    const COUNTS_ACCEPTED: bool = false;

    fn enqueue(&self, msg: Incoming)
    -> impl std::future::Future<Output = Result<QueueId, QueueError>> + Send;
}
